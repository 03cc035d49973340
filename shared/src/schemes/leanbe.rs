//! Leanbe: the signature travels inside the JSON body,
//! `{"payload": …, "event": …, "triggeredAt": …, "signature": hex(HMAC(key, JSON.stringify(payload)))}`.
//!
//! Verification first tries the payload member's raw bytes (exactly what a
//! compact `JSON.stringify` body contains, and no allocation), then a
//! `JSON.stringify`-compatible re-serialization for bodies that were
//! re-formatted on the way (pretty-printed, other key order of integer-like
//! keys, `1.0`).

use super::keys::KeyRing;
use super::mac::{Encoding, tags_match};
use super::{SignError, SignInput, Signed, Verified, VerifyError};
use crate::clock::iso_millis;
use crate::js_stringify::js_stringify;
use serde::Deserialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    signature: Option<String>,
}

pub fn sign(keys: &KeyRing, input: &SignInput<'_>) -> Result<Signed, SignError> {
    let key = keys.primary(input.at).ok_or(SignError::NoActiveKey)?;
    // Sign what a Leanbe-side `JSON.stringify(payload)` will reproduce, so
    // the platform's own verification code accepts it whatever the input's
    // formatting was.
    let payload = js_stringify(input.body).map_err(|e| SignError::PayloadNotJson(e.to_string()))?;
    let signature = Encoding::Hex.encode(&key.mac.tag(&[payload.as_bytes()]));
    let event = serde_json::to_string(input.event_type.unwrap_or("")).expect("a string serializes");
    let mut body = Vec::with_capacity(payload.len() + 160);
    body.extend_from_slice(b"{\"payload\":");
    body.extend_from_slice(payload.as_bytes());
    body.extend_from_slice(b",\"event\":");
    body.extend_from_slice(event.as_bytes());
    body.extend_from_slice(b",\"triggeredAt\":\"");
    body.extend_from_slice(iso_millis(input.at).as_bytes());
    body.extend_from_slice(b"\",\"signature\":\"");
    body.extend_from_slice(signature.as_bytes());
    body.extend_from_slice(b"\"}");
    Ok(Signed {
        headers: vec![],
        body: Some(body),
    })
}

pub fn verify(keys: &KeyRing, body: &[u8], now: OffsetDateTime) -> Result<Verified, VerifyError> {
    let parsed: Body<'_> =
        serde_json::from_slice(body).map_err(|e| VerifyError::InvalidJson(e.to_string()))?;
    let payload = parsed.payload.ok_or(VerifyError::MissingField("payload"))?;
    let signature = parsed
        .signature
        .ok_or(VerifyError::MissingField("signature"))?;
    let provided = Encoding::Hex
        .decode_tag(signature.trim())
        .ok_or(VerifyError::Malformed)?;
    let active: Vec<(usize, &super::keys::Key)> = keys
        .0
        .iter()
        .enumerate()
        .filter(|(_, k)| k.is_active(now))
        .collect();
    if active.is_empty() {
        return Err(VerifyError::NoActiveKey);
    }
    let check = |content: &[u8]| {
        active
            .iter()
            .find(|(_, k)| tags_match(&k.mac.tag(&[content]), &provided))
            .map(|(i, _)| Verified {
                key_index: *i,
                client_id: None,
            })
    };
    if let Some(v) = check(payload.get().as_bytes()) {
        return Ok(v);
    }
    let normalized = js_stringify(payload.get().as_bytes())
        .map_err(|e| VerifyError::InvalidJson(e.to_string()))?;
    if normalized.as_str() != payload.get()
        && let Some(v) = check(normalized.as_bytes())
    {
        return Ok(v);
    }
    Err(VerifyError::Mismatch)
}
