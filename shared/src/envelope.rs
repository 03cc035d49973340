//! The message the receiver puts on the inbound queue, one per event.
//!
//! Consumers deserialize it with this type (`Envelope<'static>` owns its
//! data). The format is versioned: fields may be added within a version;
//! anything else gets a new `version` number.
//!
//! ```json
//! {
//!   "version": 1,
//!   "id": "msg_2Lp4...",               // the platform's delivery id, else a UUID
//!   "source": "github",
//!   "event_type": "push",              // null when none is configured or found
//!   "event_type_signed": false,        // true only when the signature covers event_type
//!   "received_at": "2026-11-22T10:00:00.123Z",
//!   "headers": {"content-type": "application/json", "x-github-event": "push"},
//!   "body": "{\"ref\":\"refs/heads/main\"}",   // the exact raw body
//!   "body_encoding": "utf8",           // or "base64" when the body is not UTF-8
//!   "bulk_index": 0                    // only for elements of a bulk body
//! }
//! ```

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub const ENVELOPE_VERSION: u32 = 1;

/// SQS message attributes set on every inbound message (named in
/// [`crate::attributes`]).
pub use crate::attributes::{EVENT_TYPE as ATTR_EVENT_TYPE, SOURCE as ATTR_SOURCE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    #[default]
    Utf8,
    Base64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<'a> {
    pub version: u32,
    pub id: Cow<'a, str>,
    pub source: Cow<'a, str>,
    #[serde(default)]
    pub event_type: Option<Cow<'a, str>>,
    /// Whether the signature covers `event_type`: a JSON pointer into a
    /// signed body does; GitHub's `X-GitHub-Event` and Shopify's
    /// `X-Shopify-Topic` headers and Leanbe's `event` member do not (anyone
    /// who captured one webhook can resend it under another type). False
    /// when there is no event type, and when absent (envelopes written
    /// before this member existed): trust the type only when this is true.
    #[serde(default)]
    pub event_type_signed: bool,
    #[serde(with = "rfc3339_millis")]
    pub received_at: OffsetDateTime,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Cow<'a, str>,
    #[serde(default)]
    pub body_encoding: BodyEncoding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_index: Option<usize>,
}

pub type OwnedEnvelope = Envelope<'static>;

impl<'a> Envelope<'a> {
    /// The body as it should be stored: borrowed when it is UTF-8 that SQS
    /// accepts (no copy), base64 otherwise. SQS refuses U+FFFE and U+FFFF,
    /// which are valid UTF-8 and which JSON does not escape.
    pub fn encode_body(raw: &'a [u8]) -> (Cow<'a, str>, BodyEncoding) {
        match std::str::from_utf8(raw) {
            Ok(s) if !s.contains(['\u{fffe}', '\u{ffff}']) => {
                (Cow::Borrowed(s), BodyEncoding::Utf8)
            }
            _ => (
                Cow::Owned(base64::engine::general_purpose::STANDARD.encode(raw)),
                BodyEncoding::Base64,
            ),
        }
    }

    /// The exact bytes the platform sent.
    pub fn body_bytes(&self) -> Result<Cow<'_, [u8]>, base64::DecodeError> {
        match self.body_encoding {
            BodyEncoding::Utf8 => Ok(Cow::Borrowed(self.body.as_bytes())),
            BodyEncoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(self.body.as_bytes())
                .map(Cow::Owned),
        }
    }
}

/// RFC 3339 with milliseconds, like JavaScript's `toISOString`, on output;
/// any RFC 3339 on input.
pub(crate) mod rfc3339_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::clock::iso_millis(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        let t = OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .map_err(serde::de::Error::custom)?;
        // Written back in UTC: an instant whose UTC year is outside RFC
        // 3339's 0000-9999 (year 0000 with a positive offset, 9999 with a
        // negative one) could not be written back, or would panic the
        // conversion past 9999.
        match t.checked_to_offset(time::UtcOffset::UTC) {
            Some(utc) if (0..=9999).contains(&utc.year()) => Ok(t),
            _ => Err(serde::de::Error::custom(
                "a time outside the years 0000-9999 in UTC",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(raw: &[u8]) -> Envelope<'_> {
        let (body, body_encoding) = Envelope::encode_body(raw);
        Envelope {
            version: ENVELOPE_VERSION,
            id: "evt_1".into(),
            source: "github".into(),
            event_type: Some("push".into()),
            event_type_signed: false,
            received_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
            body,
            body_encoding,
            bulk_index: None,
        }
    }

    #[test]
    fn utf8_bodies_round_trip_byte_for_byte() {
        let raw = "{\"a\": \"é\\n\",\n \"b\":1.0}".as_bytes();
        let env = sample(raw);
        let text = serde_json::to_string(&env).unwrap();
        assert!(
            text.contains(r#""received_at":"2023-11-14T22:13:20.000Z""#),
            "{text}"
        );
        assert!(text.contains(r#""event_type_signed":false"#), "{text}");
        let back: OwnedEnvelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.body_encoding, BodyEncoding::Utf8);
        assert_eq!(&*back.body_bytes().unwrap(), raw);
        assert_eq!(back, env);
    }

    #[test]
    fn binary_bodies_are_base64_with_a_flag() {
        let raw = [0xff, 0x00, 0x10, b'a'];
        let env = sample(&raw);
        assert_eq!(env.body_encoding, BodyEncoding::Base64);
        let text = serde_json::to_string(&env).unwrap();
        assert!(text.contains(r#""body_encoding":"base64""#));
        let back: OwnedEnvelope = serde_json::from_str(&text).unwrap();
        assert_eq!(&*back.body_bytes().unwrap(), &raw);
    }

    #[test]
    fn text_sqs_would_refuse_is_stored_as_base64() {
        let raw = "a\u{ffff}b".as_bytes();
        assert_eq!(Envelope::encode_body(raw).1, BodyEncoding::Base64);
        assert_eq!(
            Envelope::encode_body(b"a\x01b").1,
            BodyEncoding::Utf8,
            "JSON escapes control characters"
        );
    }

    /// `received_at` and a job's `created_at` are written in UTC: an
    /// instant whose UTC year is outside 0000-9999 used to parse, then
    /// serialize as `-001-...` (which RFC 3339 and this parser refuse) or,
    /// past 9999, panic in the UTC conversion. Found while writing the
    /// round-trip checks of the job and envelope fuzz targets
    /// (fuzz/regressions/job/, fuzz/regressions/envelope/).
    #[test]
    fn times_that_cannot_be_written_back_are_refused() {
        for t in ["0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"] {
            let text =
                format!(r#"{{"version":1,"id":"x","source":"s","received_at":"{t}","body":""}}"#);
            if let Ok(env) = serde_json::from_str::<OwnedEnvelope>(&text) {
                let written = serde_json::to_string(&env).unwrap();
                serde_json::from_str::<OwnedEnvelope>(&written)
                    .unwrap_or_else(|e| panic!("{t} parsed but its text does not: {e}"));
            }
        }
        for t in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "0000-01-01T00:00:00-01:00",
        ] {
            let text =
                format!(r#"{{"version":1,"id":"x","source":"s","received_at":"{t}","body":""}}"#);
            let env: OwnedEnvelope = serde_json::from_str(&text).unwrap();
            let written = serde_json::to_string(&env).unwrap();
            assert_eq!(
                serde_json::from_str::<OwnedEnvelope>(&written).unwrap(),
                env
            );
        }
    }

    #[test]
    fn optional_fields_default_when_absent() {
        let back: OwnedEnvelope = serde_json::from_str(
            r#"{"version":1,"id":"x","source":"s","received_at":"2026-01-01T00:00:00Z","body":""}"#,
        )
        .unwrap();
        assert_eq!(back.event_type, None);
        assert!(!back.event_type_signed, "an older envelope claims nothing");
        assert!(back.headers.is_empty());
        assert_eq!(back.bulk_index, None);
    }
}
