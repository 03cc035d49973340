//! Standard Webhooks (https://www.standardwebhooks.com), which Svix also
//! sends under `svix-*` header names.
//!
//! Signed content: `{webhook-id}.{webhook-timestamp}.{body}`; the header
//! carries one `v1,<base64>` entry per active key, space-separated.

use super::keys::KeyRing;
use super::mac::{Encoding, Tag, tags_match, trim_ascii};
use super::{HeaderLookup, SignError, SignInput, Signed, Verified, VerifyError, within_tolerance};
use std::time::Duration;
use time::OffsetDateTime;

pub fn sign(keys: &KeyRing, input: &SignInput<'_>) -> Result<Signed, SignError> {
    let ts = input.at.unix_timestamp().to_string();
    let parts: [&[u8]; 5] = [input.id.as_bytes(), b".", ts.as_bytes(), b".", input.body];
    let signatures: Vec<String> = keys
        .active(input.at)
        .map(|k| format!("v1,{}", Encoding::Base64.encode(&k.mac.tag(&parts))))
        .collect();
    if signatures.is_empty() {
        return Err(SignError::NoActiveKey);
    }
    Ok(Signed {
        headers: vec![
            ("webhook-id".into(), input.id.to_string()),
            ("webhook-timestamp".into(), ts),
            ("webhook-signature".into(), signatures.join(" ")),
        ],
        body: None,
    })
}

/// `webhook-*` first, then Svix's `svix-*` names.
fn header<'h, H: HeaderLookup + ?Sized>(
    headers: &'h H,
    name: &'static str,
    svix: &'static str,
) -> Result<&'h str, VerifyError> {
    headers
        .header(name)
        .or_else(|| headers.header(svix))
        .map(trim_ascii)
        .filter(|v| !v.is_empty())
        .ok_or(VerifyError::MissingHeader(name))
}

pub fn verify<H: HeaderLookup + ?Sized>(
    keys: &KeyRing,
    tolerance: Duration,
    headers: &H,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Verified, VerifyError> {
    let id = header(headers, "webhook-id", "svix-id")?;
    let ts_text = header(headers, "webhook-timestamp", "svix-timestamp")?;
    let signatures = header(headers, "webhook-signature", "svix-signature")?;
    let ts: i64 = ts_text.parse().map_err(|_| VerifyError::Malformed)?;
    if !within_tolerance(ts, now, tolerance) {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    // Only `v1,` entries are HMAC signatures; others (e.g. `v1a,` for
    // asymmetric keys) are skipped, as the spec asks.
    let candidates: Vec<Tag> = signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|sig| Encoding::Base64.decode_tag(sig))
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_text.as_bytes(), b".", body];
    let mut any = false;
    for (key_index, key) in keys.0.iter().enumerate() {
        if !key.is_active(now) {
            continue;
        }
        any = true;
        let expected = key.mac.tag(&parts);
        // Every candidate is compared, so timing does not reveal which one matched.
        let matched = candidates
            .iter()
            .fold(false, |acc, c| acc | tags_match(&expected, c));
        if matched {
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
