//! Leanbe: the signature travels inside the JSON body,
//! `{"payload": …, "event": …, "triggeredAt": …, "signature": hex(HMAC(key, JSON.stringify(payload)))}`.
//!
//! Verification first tries the payload member's raw bytes (exactly what a
//! compact `JSON.stringify` body contains, and no allocation), then a
//! `JSON.stringify`-compatible re-serialization for bodies that were
//! re-formatted on the way (pretty-printed, other key order of integer-like
//! keys, `1.0`).
//!
//! The receiver queues the body as it came, so what it queues must be what
//! the signature covers. Only the payload is signed; the rule is:
//! - the body is a JSON object with Leanbe's members only (`payload`,
//!   `signature`, `event`, `triggeredAt`), each at most once: a second
//!   `payload`, or any member Leanbe does not send, is refused, and so is a
//!   JSON array (serde would fill the members from its elements);
//! - when the raw payload bytes verify, they are the signed bytes;
//! - when only the re-serialization verifies, the payload must not say more
//!   than it: no member name twice at any depth, no number a double does
//!   not hold exactly ([`crate::js_stringify::ambiguity`]); otherwise a
//!   consumer could read other data than was signed.
//!
//! `event` and `triggeredAt` are not signed (see the README: the event type
//! is marked as such in the envelope and not relayed by default).

use super::keys::KeyRing;
use super::mac::{Encoding, tags_match};
use super::{SignError, SignInput, Signed, Verified, VerifyError};
use crate::clock::iso_millis;
use crate::js_stringify::{ambiguity, js_stringify};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use time::OffsetDateTime;

/// Leanbe's body. serde refuses a member named twice and, with
/// `deny_unknown_fields`, any member Leanbe does not send.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    /// `Some` whenever the member is present, `null` included (a plain
    /// `Option` would read `"payload": null` as absent, and `null` is a
    /// payload like any other: `JSON.stringify(null)` is signed).
    #[serde(borrow, default, deserialize_with = "present")]
    payload: Option<&'a RawValue>,
    #[serde(borrow)]
    signature: Option<Cow<'a, str>>,
    /// Checked for its type only (a string, or null); unsigned.
    #[serde(borrow, default, rename = "event")]
    _event: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "triggeredAt")]
    _triggered_at: Option<Cow<'a, str>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
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
    // serde fills a struct from an array too (`[payload, "signature"]`);
    // it parsed, so the first byte that is not JSON whitespace says which.
    if body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        != Some(&b'{')
    {
        return Err(VerifyError::InvalidJson(
            "the body is not a JSON object".into(),
        ));
    }
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
        // Signed: the re-serialization. Queued: the raw payload. They must
        // mean the same to every consumer.
        return match ambiguity(payload.get().as_bytes()) {
            None => Ok(v),
            Some(a) => Err(VerifyError::NotPinned(a)),
        };
    }
    Err(VerifyError::Mismatch)
}
