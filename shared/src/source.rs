//! A receiver source: how webhooks from one platform are verified and
//! turned into envelopes. Stored as JSON in the secret
//! `<prefix>/sources/<source>`; see the README for the format.

use crate::json_pointer;
use crate::schemes::{Convention, Scheme, SignatureConfig};
use crate::secrets::FromSecret;
use serde::{Deserialize, Serialize};

/// Where to find a value (event type, delivery id) in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Extract {
    /// A request header, e.g. `X-GitHub-Event`.
    Header(String),
    /// A JSON pointer into the body (or into each element in bulk mode), e.g. `/event`.
    JsonPointer(String),
}

impl From<Convention> for Extract {
    fn from(c: Convention) -> Self {
        match c {
            Convention::Header(h) => Extract::Header(h.to_string()),
            Convention::JsonPointer(p) => Extract::JsonPointer(p.to_string()),
        }
    }
}

/// LeadDone-style bulk bodies: a JSON array whose elements are events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkConfig {
    /// Pointer to each element's own id, reported back as `order_id`.
    #[serde(default = "default_bulk_id")]
    pub id_pointer: String,
    /// At most this many elements per request (protects the queue and the answer size).
    #[serde(default = "default_bulk_max")]
    pub max_elements: usize,
}

fn default_bulk_id() -> String {
    "/id".into()
}

fn default_bulk_max() -> usize {
    500
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// How requests are verified.
    pub signature: SignatureConfig,
    /// Where the event type is; defaults to the scheme's convention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<Extract>,
    /// Where the platform's delivery id is; defaults to the scheme's convention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<Extract>,
    /// Treat the body as an array of events (LeadDone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk: Option<BulkConfig>,
    /// Extra request headers to copy into envelopes (lower-cased).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward_headers: Vec<String>,
    /// Also put each verified event on the events queue for fan-out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relay: bool,
    /// Relay events whose type the signature does not cover (GitHub's and
    /// Shopify's headers, Leanbe's `event`). Off: such events are queued on
    /// the inbound queue but not relayed, so a captured webhook cannot be
    /// fanned out again under another type.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relay_unsigned_event_type: bool,
}

/// A source configuration, validated and compiled.
#[derive(Debug, Clone)]
pub struct Source {
    pub config: SourceConfig,
    pub scheme: Scheme,
    pub event_type: Option<Extract>,
    pub delivery_id: Option<Extract>,
    /// Whether the signature covers the value `event_type` reads.
    pub event_type_signed: bool,
    /// Lower-case header names copied into envelopes.
    pub forward_headers: Vec<String>,
}

/// Headers that always travel in the envelope when present.
const ALWAYS_FORWARDED: &[&str] = &["content-type", "user-agent"];

/// Headers that may carry credentials: never copied, whatever the configuration says.
const NEVER_FORWARDED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

impl Source {
    pub fn compile(config: SourceConfig) -> Result<Self, String> {
        let scheme = Scheme::compile(&config.signature).map_err(|e| format!("signature: {e}"))?;
        let spec = config.signature.scheme.spec();
        let event_type = config
            .event_type
            .clone()
            .or(spec.event_type.map(Extract::from));
        let delivery_id = config
            .delivery_id
            .clone()
            .or(spec.delivery_id.map(Extract::from));
        for e in [&event_type, &delivery_id].into_iter().flatten() {
            match e {
                Extract::JsonPointer(p) => json_pointer::validate(p)?,
                Extract::Header(h) => {
                    http::HeaderName::from_bytes(h.as_bytes())
                        .map_err(|_| format!("invalid header name {h:?}"))?;
                }
            }
        }
        if let Some(b) = &config.bulk {
            json_pointer::validate(&b.id_pointer)?;
            if b.max_elements == 0 {
                return Err("bulk.max_elements must be at least 1".into());
            }
        }
        let event_type_signed = match &event_type {
            Some(Extract::Header(h)) => scheme.signs_header(&h.to_ascii_lowercase()),
            Some(Extract::JsonPointer(p)) => scheme.signs_json_pointer(p),
            None => false,
        };
        let credentials = scheme.credential_headers();
        let mut forward_headers: Vec<String> =
            ALWAYS_FORWARDED.iter().map(|h| h.to_string()).collect();
        for extract in [&event_type, &delivery_id].into_iter().flatten() {
            if let Extract::Header(h) = extract {
                forward_headers.push(h.to_ascii_lowercase());
            }
        }
        forward_headers.extend(
            config
                .forward_headers
                .iter()
                .map(|h| h.to_ascii_lowercase()),
        );
        forward_headers
            .retain(|h| !NEVER_FORWARDED.contains(&h.as_str()) && !credentials.contains(h));
        forward_headers.sort();
        forward_headers.dedup();
        Ok(Self {
            scheme,
            event_type,
            delivery_id,
            event_type_signed,
            forward_headers,
            config,
        })
    }
}

impl FromSecret for Source {
    fn from_secret(text: &str) -> Result<Self, String> {
        // Errors are logged and copied into DLQ attributes: they name the
        // field path, never a value (serde's own messages would quote it).
        let config: SourceConfig = crate::config_error::parse(text)?;
        Source::compile(config)
    }
}

/// The envelope id of a bulk element that names itself (`bulk.id_pointer`):
/// its own id and a digest of its content. A platform sending the element
/// again (a retry of the elements a 207 reported as failed) gets the same
/// id, so FIFO queues and the router drop the copy; a new event about the
/// same object (LeadDone posts an order again when its status changes) gets
/// another, so it is not dropped as a duplicate. The content is digested in
/// its `JSON.stringify` form, so a re-formatted retry keeps its id. An id
/// that is not short and plain (it ends up in SQS deduplication ids and in
/// the `webhook-id` header of deliveries) is digested too.
pub fn bulk_element_id(own_id: &str, element: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let short = |bytes: &[u8]| hex::encode(&Sha256::digest(bytes)[..8]);
    let content = match crate::js_stringify::js_stringify(element) {
        Ok(canonical) => short(canonical.as_bytes()),
        Err(_) => short(element),
    };
    let plain = !own_id.is_empty()
        && own_id.len() <= 64
        && own_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if plain {
        format!("{own_id}.{content}")
    } else {
        format!("h{}.{content}", short(own_id.as_bytes()))
    }
}

/// Source names are path segments and secret-name suffixes: keep them boring.
pub fn valid_source_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_conventions_fill_in_event_type_and_delivery_id() {
        let s = Source::from_secret(r#"{"signature":{"scheme":"github","keys":["k"]}}"#).unwrap();
        assert_eq!(s.event_type, Some(Extract::Header("x-github-event".into())));
        assert_eq!(
            s.delivery_id,
            Some(Extract::Header("x-github-delivery".into()))
        );
        assert!(s.forward_headers.contains(&"x-github-event".to_string()));
        assert!(
            !s.forward_headers
                .contains(&"x-hub-signature-256".to_string())
        );
    }

    #[test]
    fn credentials_are_never_forwarded() {
        let s = Source::from_secret(
            r#"{"signature":{"scheme":"token","keys":["Bearer x"],"header":"X-Token"},
                "forward_headers":["X-Token","Authorization","X-Trace"]}"#,
        )
        .unwrap();
        assert_eq!(
            s.forward_headers,
            vec!["content-type", "user-agent", "x-trace"]
        );
    }

    #[test]
    fn unknown_fields_and_bad_pointers_are_refused() {
        assert!(
            Source::from_secret(
                r#"{"signature":{"scheme":"github","keys":["k"]},"evnt_type":null}"#
            )
            .is_err()
        );
        assert!(Source::from_secret(r#"{"signature":{"scheme":"github","keys":["k"]},"event_type":{"json_pointer":"event"}}"#).is_err());
        let err = Source::from_secret(
            r#"{"signature":{"scheme":"github","keys":["s3cr3t"],"prefix":"x"}}"#,
        )
        .unwrap_err();
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn wrong_types_never_quote_a_key() {
        for text in [
            r#"{"signature":{"scheme":"github","keys":"s3cr3t"}}"#,
            r#"{"signature":{"scheme":"leaddone","clients":{"c":"s3cr3t"}}}"#,
            r#"{"signature":{"scheme":"github","keys":[{"secret":"s3cr3t","not_after":5}]}}"#,
            r#"{"signature":{"scheme":"github","keys":["k"]},"forward_headers":"s3cr3t"}"#,
        ] {
            let err = Source::from_secret(text).unwrap_err();
            assert!(!err.contains("s3cr3t"), "{err}");
            assert!(
                err.starts_with("signature") || err.starts_with("forward_headers"),
                "{err}"
            );
        }
    }

    #[test]
    fn whether_the_signature_covers_the_event_type() {
        let signed = |config: &str| Source::from_secret(config).unwrap().event_type_signed;
        // Conventions: GitHub's and Shopify's headers and Leanbe's `event`
        // are not signed; Stripe's and Standard Webhooks' `/type` are.
        assert!(!signed(r#"{"signature":{"scheme":"github","keys":["k"]}}"#));
        assert!(!signed(
            r#"{"signature":{"scheme":"shopify","keys":["k"]}}"#
        ));
        assert!(!signed(r#"{"signature":{"scheme":"leanbe","keys":["k"]}}"#));
        assert!(signed(r#"{"signature":{"scheme":"stripe","keys":["k"]}}"#));
        assert!(signed(
            r#"{"signature":{"scheme":"standard-webhooks","keys":["whsec_dGVzdA=="]}}"#
        ));
        // Configured: a pointer into a signed body is, a header is not, a
        // pointer into Leanbe's signed payload is.
        assert!(signed(
            r#"{"signature":{"scheme":"github","keys":["k"]},"event_type":{"json_pointer":"/action"}}"#
        ));
        assert!(!signed(
            r#"{"signature":{"scheme":"leaflink","keys":["k"]},"event_type":{"header":"X-Event"}}"#
        ));
        assert!(signed(
            r#"{"signature":{"scheme":"leanbe","keys":["k"]},"event_type":{"json_pointer":"/payload/type"}}"#
        ));
        assert!(!signed(
            r#"{"signature":{"scheme":"leanbe","keys":["k"]},"event_type":{"json_pointer":"/payloads"}}"#
        ));
        // Nothing is signed with a static credential.
        assert!(!signed(
            r#"{"signature":{"scheme":"token","keys":["t"]},"event_type":{"json_pointer":"/type"}}"#
        ));
        // hmac signs its id header when the template says so.
        assert!(signed(
            r#"{"signature":{"scheme":"hmac","keys":["k"],"id_header":"X-Event","template":"{id}.{body}"},"event_type":{"header":"X-Event"}}"#
        ));
        // No event type: nothing to cover.
        assert!(!signed(
            r#"{"signature":{"scheme":"leaflink","keys":["k"]}}"#
        ));
    }

    #[test]
    fn bulk_element_ids_follow_the_element() {
        let a = bulk_element_id("ORD-1", br#"{"id":"ORD-1","status":"new"}"#);
        assert!(a.starts_with("ORD-1."), "{a}");
        assert_eq!(
            a,
            bulk_element_id("ORD-1", b"{ \"id\" : \"ORD-1\",\n \"status\" : \"new\" }"),
            "a re-formatted retry keeps its id"
        );
        assert_ne!(
            a,
            bulk_element_id("ORD-1", br#"{"id":"ORD-1","status":"approved"}"#),
            "the next status of the same order is another event"
        );
        for odd in ["", "a b", "x\u{1}y", "é", &"x".repeat(65)] {
            let id = bulk_element_id(odd, br#"{}"#);
            assert!(id.starts_with('h') && id.len() == 34, "{odd:?}: {id}");
            assert_ne!(id, bulk_element_id("other", br#"{}"#));
        }
    }

    #[test]
    fn source_names_are_restricted() {
        assert!(valid_source_name("leaf-link_2.prod"));
        for bad in ["", "..", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(!valid_source_name(bad), "{bad}");
        }
    }
}
