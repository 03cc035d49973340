//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` over
//! `{t}.{body}`; the whole `whsec_...` string is the HMAC key.

use super::keys::KeyRing;
use super::mac::{Encoding, tags_match, trim_ascii};
use super::{HeaderLookup, SignError, SignInput, Signed, Verified, VerifyError, within_tolerance};
use std::time::Duration;
use time::OffsetDateTime;

pub fn sign(keys: &KeyRing, input: &SignInput<'_>) -> Result<Signed, SignError> {
    let ts = input.at.unix_timestamp().to_string();
    let parts: [&[u8]; 3] = [ts.as_bytes(), b".", input.body];
    let mut value = format!("t={ts}");
    let mut any = false;
    for key in keys.active(input.at) {
        any = true;
        value.push_str(",v1=");
        value.push_str(&Encoding::Hex.encode(&key.mac.tag(&parts)));
    }
    if !any {
        return Err(SignError::NoActiveKey);
    }
    Ok(Signed {
        headers: vec![("Stripe-Signature".into(), value)],
        body: None,
    })
}

pub fn verify<H: HeaderLookup + ?Sized>(
    keys: &KeyRing,
    tolerance: Duration,
    headers: &H,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Verified, VerifyError> {
    let value = headers
        .header("stripe-signature")
        .map(trim_ascii)
        .filter(|v| !v.is_empty())
        .ok_or(VerifyError::MissingHeader("Stripe-Signature"))?;
    let mut ts_text = None;
    let mut candidates = Vec::new();
    for item in value.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => ts_text = Some(t),
            Some(("v1", sig)) => candidates.extend(Encoding::Hex.decode_tag(sig)),
            _ => {} // v0 (test mode) and future schemes are ignored, as Stripe's libraries do
        }
    }
    let ts_text = ts_text.ok_or(VerifyError::Malformed)?;
    let ts: i64 = ts_text.parse().map_err(|_| VerifyError::Malformed)?;
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if !within_tolerance(ts, now, tolerance) {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let parts: [&[u8]; 3] = [ts_text.as_bytes(), b".", body];
    let mut any = false;
    for (key_index, key) in keys.0.iter().enumerate() {
        if !key.is_active(now) {
            continue;
        }
        any = true;
        let expected = key.mac.tag(&parts);
        if candidates
            .iter()
            .fold(false, |acc, c| acc | tags_match(&expected, c))
        {
            return Ok(Verified {
                key_index,
                client_id: None,
            });
        }
    }
    Err(if any {
        VerifyError::Mismatch
    } else {
        VerifyError::NoActiveKey
    })
}
