//! A subscriber endpoint: where the sender delivers, how it signs, how it
//! retries, and (for fan-out) which events it wants. Stored as JSON in the
//! secret `<prefix>/endpoints/<name>`; see the README for the format.

use crate::json_pointer;
use crate::retry::{RetryConfig, RetrySchedule};
use crate::schemes::{Scheme, SchemeName, SignatureConfig};
use crate::secrets::FromSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

pub const DEFAULT_TIMEOUT_SECS: u64 = 15;
pub const DEFAULT_IDEMPOTENCY_HEADER: &str = "webhook-id";

/// Headers a configuration may not set: they would break the request or
/// its framing, or they belong to the transport.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "proxy-authorization",
    "proxy-connection",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    pub url: String,
    /// How deliveries are signed; none for endpoints that authenticate with
    /// `headers` only (Leaf Trade without an HMAC key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureConfig>,
    /// Extra headers on every request, e.g. `Authorization: Bearer ...`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Retry schedule; the default is immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Allow plain `http://` (local development).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
    /// Deliver the jobs of one SQS batch as one JSON array (LeadDone bulk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchConfig>,
    /// Header carrying the job id so the endpoint can deduplicate; `null` to omit.
    #[serde(default = "default_idempotency_header")]
    pub idempotency_header: Option<String>,
    /// Event types this endpoint is subscribed to for fan-out: `order.*`, `idea.created`, `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Content filters on the payload; all must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// Per-endpoint overrides of the auto-disable rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::RulesConfig>,
    /// Free text shown by `hookrelay endpoints list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Metrics of its own (the `Endpoint` dimension: deliveries, failures,
    /// retries, answer time, job age). Off by default: each endpoint that
    /// opts in adds about ten custom metrics, $0.30 a month each (README,
    /// Operations).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub metrics: bool,
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_SECS
}
fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}
fn default_idempotency_header() -> Option<String> {
    Some(DEFAULT_IDEMPOTENCY_HEADER.into())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    #[serde(default = "default_batch_items")]
    pub max_items: usize,
}

fn default_batch_items() -> usize {
    10
}

/// A condition on the payload: the value at `pointer` equals / is one of /
/// is not one of the given JSON values. A missing member satisfies only
/// `not_one_of`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub pointer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_one_of: Option<Vec<Value>>,
}

impl Filter {
    fn validate(&self) -> Result<(), String> {
        json_pointer::validate(&self.pointer)?;
        let set = [
            self.equals.is_some(),
            self.one_of.is_some(),
            self.not_one_of.is_some(),
        ];
        if set.iter().filter(|x| **x).count() != 1 {
            return Err(format!(
                "filter on {} needs exactly one of equals, one_of, not_one_of",
                self.pointer
            ));
        }
        Ok(())
    }

    /// Whether a payload (raw JSON) passes this filter.
    pub fn matches(&self, payload: &str) -> bool {
        let found: Option<Value> = json_pointer::lookup(payload, &self.pointer)
            .ok()
            .flatten()
            .and_then(|raw| serde_json::from_str(raw.get()).ok());
        let in_list = |list: &[Value]| {
            found
                .as_ref()
                .is_some_and(|v| list.iter().any(|x| json_eq(v, x)))
        };
        if let Some(v) = &self.equals {
            return found.as_ref().is_some_and(|f| json_eq(f, v));
        }
        if let Some(list) = &self.one_of {
            return in_list(list);
        }
        if let Some(list) = &self.not_one_of {
            return !in_list(list);
        }
        false
    }
}

/// JSON equality where 1 and 1.0 are the same number.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// `*` matches any run of characters (dots included); everything else is literal.
pub fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = event_type.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no '*': exact match
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// An endpoint configuration, validated and compiled.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub config: EndpointConfig,
    pub url: url::Url,
    pub scheme: Option<Scheme>,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub schedule: RetrySchedule,
}

impl Endpoint {
    pub fn compile(config: EndpointConfig) -> Result<Self, String> {
        let url = url::Url::parse(&config.url).map_err(|e| format!("url: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if config.allow_http => {}
            "http" => {
                return Err(
                    "url: http:// needs \"allow_http\": true (https only by default)".into(),
                );
            }
            other => return Err(format!("url: scheme {other} is not http(s)")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("url: no host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "url: credentials in the URL would end up in logs; use headers or the basic scheme"
                    .into(),
            );
        }
        let scheme = config
            .signature
            .as_ref()
            .map(|s| Scheme::compile(s).map_err(|e| format!("signature: {e}")))
            .transpose()?;
        if config.batch.is_some()
            && scheme
                .as_ref()
                .is_some_and(|s| s.name() == SchemeName::Leanbe)
        {
            return Err("batch: leanbe wraps each payload in its own body and cannot batch".into());
        }
        if let Some(b) = &config.batch
            && !(1..=10).contains(&b.max_items)
        {
            return Err("batch.max_items must be between 1 and 10 (an SQS batch)".into());
        }
        // Every header the scheme writes (not only its credentials: Standard
        // Webhooks also writes webhook-id and webhook-timestamp), so a
        // request never carries two values of one header.
        let reserved: Vec<String> = scheme
            .as_ref()
            .map(|s| {
                let mut names = s.credential_headers();
                names.extend(s.signing_headers());
                names
            })
            .unwrap_or_default();
        let idempotency = config
            .idempotency_header
            .as_deref()
            .map(str::to_ascii_lowercase);
        let mut headers = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in &config.headers {
            let lower = name.to_ascii_lowercase();
            http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: {name:?} is not a header name"))?;
            http::HeaderValue::from_str(value)
                .map_err(|_| format!("headers: the value of {name} is not a valid header value"))?;
            if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
                return Err(format!(
                    "headers: {name} cannot be set, it would break the request"
                ));
            }
            if reserved.contains(&lower) {
                return Err(format!("headers: {name} is set by the signature scheme"));
            }
            if idempotency.as_deref() == Some(lower.as_str()) {
                return Err(format!(
                    "headers: {name} is the idempotency_header, which carries the job id"
                ));
            }
            if seen.contains(&lower) {
                return Err(format!("headers: {name} is listed twice"));
            }
            seen.push(lower);
            headers.push((name.clone(), value.clone()));
        }
        if let Some(h) = &config.idempotency_header {
            http::HeaderName::from_bytes(h.as_bytes())
                .map_err(|_| format!("idempotency_header: {h:?} is not a header name"))?;
            let lower = h.to_ascii_lowercase();
            if FORBIDDEN_HEADERS.contains(&lower.as_str()) || lower == "content-type" {
                return Err(format!(
                    "idempotency_header: {h} cannot be set, it would break the request"
                ));
            }
            // The scheme's own id header already carries the job id (Standard
            // Webhooks' webhook-id); any other header it writes would clash.
            let scheme_id = scheme.as_ref().and_then(Scheme::id_header);
            if reserved.contains(&lower) && scheme_id != Some(lower.as_str()) {
                return Err(format!(
                    "idempotency_header: {h} is set by the signature scheme"
                ));
            }
        }
        if let Some(s) = &scheme {
            check_signed_headers(s)?;
        }
        if !(1..=300).contains(&config.timeout_secs) {
            return Err("timeout_secs must be between 1 and 300".into());
        }
        let schedule = config
            .retry
            .as_ref()
            .map(RetrySchedule::from)
            .unwrap_or_default();
        schedule.validate()?;
        for f in &config.filters {
            f.validate()?;
        }
        if let Some(h) = &config.health {
            h.validate()?;
        }
        Ok(Self {
            timeout: Duration::from_secs(config.timeout_secs),
            url,
            scheme,
            headers,
            schedule,
            config,
        })
    }

    /// Whether this endpoint wants an event (fan-out).
    pub fn subscribed(&self, event_type: &str, payload: &str) -> bool {
        self.config
            .events
            .iter()
            .any(|p| pattern_matches(p, event_type))
            && self.config.filters.iter().all(|f| f.matches(payload))
    }
}

/// Signs a probe and checks that every header the scheme writes can be
/// sent: parameters such as `hmac`'s `prefix` or LeadDone's `client_id`
/// end up in header values, and a value the HTTP client refuses would
/// fail every delivery (counted against the endpoint's health). A probe
/// that cannot be signed (no key active, no client id) is left to the
/// delivery, which reports it as `cannot-sign`. Errors name the header,
/// never its value.
fn check_signed_headers(scheme: &Scheme) -> Result<(), String> {
    let probe = crate::schemes::SignInput {
        id: "msg_probe",
        at: time::OffsetDateTime::UNIX_EPOCH,
        body: b"{}",
        event_type: Some("probe"),
    };
    let Ok(signed) = scheme.sign(&probe) else {
        return Ok(());
    };
    for (name, value) in &signed.headers {
        if !crate::outbound::header_is_sendable(name, value) {
            return Err(format!(
                "signature: the {name} header it writes would not be a valid header value \
                 (check prefix and client_id)"
            ));
        }
    }
    Ok(())
}

impl FromSecret for Endpoint {
    fn from_secret(text: &str) -> Result<Self, String> {
        // Logged and copied into DLQ attributes: the field path, never a value.
        let config: EndpointConfig = crate::config_error::parse(text)?;
        Endpoint::compile(config)
    }
}

/// Endpoint names share the rules of source names.
pub fn valid_endpoint_name(name: &str) -> bool {
    crate::source::valid_source_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(json: &str) -> Result<Endpoint, String> {
        Endpoint::from_secret(json)
    }

    #[test]
    fn defaults() {
        let e = ep(r#"{"url":"https://example.com/h","signature":{"keys":["whsec_dGVzdA=="]}}"#)
            .unwrap();
        assert_eq!(
            e.scheme.as_ref().unwrap().name(),
            SchemeName::StandardWebhooks
        );
        assert_eq!(e.timeout, Duration::from_secs(15));
        assert_eq!(e.schedule, RetrySchedule::default());
        assert!(e.config.enabled);
        assert_eq!(e.config.idempotency_header.as_deref(), Some("webhook-id"));
    }

    #[test]
    fn urls_are_https_without_credentials_unless_allowed() {
        assert!(
            ep(r#"{"url":"http://example.com/h"}"#)
                .unwrap_err()
                .contains("allow_http")
        );
        assert!(ep(r#"{"url":"http://example.com/h","allow_http":true}"#).is_ok());
        assert!(
            ep(r#"{"url":"https://u:p@example.com/h"}"#)
                .unwrap_err()
                .contains("credentials")
        );
        assert!(ep(r#"{"url":"ftp://example.com/h"}"#).is_err());
        assert!(ep(r#"{"url":"not a url"}"#).is_err());
    }

    #[test]
    fn headers_that_break_requests_or_clash_with_the_scheme_are_refused() {
        for h in ["Host", "Content-Length", "transfer-encoding", "Connection"] {
            let e = ep(&format!(
                r#"{{"url":"https://x.io","headers":{{"{h}":"v"}}}}"#
            ))
            .unwrap_err();
            assert!(e.contains("break"), "{h}: {e}");
        }
        let e = ep(
            r#"{"url":"https://x.io","signature":{"scheme":"github","keys":["k"]},"headers":{"X-Hub-Signature-256":"x"}}"#,
        );
        assert!(e.unwrap_err().contains("signature scheme"));
        assert!(ep(r#"{"url":"https://x.io","headers":{"Authorization":"Bearer t"}}"#).is_ok());
        assert!(ep(r#"{"url":"https://x.io","headers":{"X":"a\nb"}}"#).is_err());
    }

    #[test]
    fn headers_the_scheme_or_the_sender_write_cannot_be_duplicated() {
        let sw = r#""signature":{"keys":["whsec_dGVzdA=="]}"#;
        // Standard Webhooks writes webhook-id and webhook-timestamp besides its signature.
        for h in ["webhook-id", "Webhook-Timestamp", "webhook-signature"] {
            let e = ep(&format!(
                r#"{{"url":"https://x.io",{sw},"idempotency_header":null,"headers":{{"{h}":"v"}}}}"#
            ))
            .unwrap_err();
            assert!(e.contains("signature scheme"), "{h}: {e}");
        }
        // The idempotency header is the sender's.
        let e = ep(r#"{"url":"https://x.io","headers":{"Webhook-Id":"v"}}"#).unwrap_err();
        assert!(e.contains("idempotency_header"), "{e}");
        let e = ep(r#"{"url":"https://x.io","headers":{"X-A":"1","x-a":"2"}}"#).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        for h in ["Host", "content-length", "Content-Type"] {
            let e = ep(&format!(
                r#"{{"url":"https://x.io","idempotency_header":"{h}"}}"#
            ))
            .unwrap_err();
            assert!(e.contains("break the request"), "{h}: {e}");
        }
        let e = ep(&format!(
            r#"{{"url":"https://x.io",{sw},"idempotency_header":"webhook-signature"}}"#
        ))
        .unwrap_err();
        assert!(e.contains("signature scheme"), "{e}");
        // Standard Webhooks' own id header carries the same id: allowed (the default).
        assert!(ep(&format!(r#"{{"url":"https://x.io",{sw}}}"#)).is_ok());
        assert!(ep(r#"{"url":"https://x.io","idempotency_header":"X-Idempotency-Key"}"#).is_ok());
    }

    #[test]
    fn scheme_parameters_that_make_unsendable_headers_are_refused() {
        for signature in [
            r#"{"scheme":"hmac","keys":["k"],"prefix":"sha256=\n"}"#,
            r#"{"scheme":"hmac","keys":["k"],"prefix":"v1\u0001"}"#,
            r#"{"scheme":"leaddone","keys":["k"],"client_id":"shop\u007f1"}"#,
        ] {
            let e = ep(&format!(
                r#"{{"url":"https://x.io","signature":{signature}}}"#
            ))
            .unwrap_err();
            // Refused by the scheme's own checks (printable ASCII) or, for
            // what they let through, by the signed probe.
            assert!(e.contains("header value"), "{signature}: {e}");
            assert!(!e.contains("shop"), "never the value: {e}");
        }
        assert!(ep(r#"{"url":"https://x.io","signature":{"scheme":"hmac","keys":["k"],"prefix":"sha256="}}"#).is_ok());
        assert!(ep(r#"{"url":"https://x.io","signature":{"scheme":"leaddone","keys":["k"],"client_id":"shop-1"}}"#).is_ok());
    }

    #[test]
    fn wrong_types_never_quote_a_secret() {
        for text in [
            r#"{"url":"https://x.io","headers":"Bearer s3cr3t"}"#,
            r#"{"url":"https://x.io","headers":{"Authorization":["Bearer s3cr3t"]}}"#,
            r#"{"url":"https://x.io","signature":{"keys":"whsec_s3cr3t"}}"#,
            r#"{"url":"https://x.io","signature":{"scheme":"s3cr3t","keys":["k"]}}"#,
        ] {
            let e = ep(text).unwrap_err();
            assert!(!e.contains("s3cr3t"), "{e}");
            assert!(
                e.starts_with("headers") || e.starts_with("signature"),
                "{e}"
            );
        }
    }

    #[test]
    fn smarter_launch_schedule_in_config() {
        let e =
            ep(r#"{"url":"https://x.io","retry":{"delays":["10s","100s"],"jitter":0}}"#).unwrap();
        assert_eq!(e.schedule.max_attempts(), 3);
        assert_eq!(
            e.schedule.delays,
            vec![Duration::from_secs(10), Duration::from_secs(100)]
        );
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("*", "anything.at.all"));
        assert!(pattern_matches("order.*", "order.created"));
        assert!(pattern_matches("order.*", "order.v4.updated"));
        assert!(!pattern_matches("order.*", "orders.created"));
        assert!(!pattern_matches("order.*", "order"));
        assert!(pattern_matches("idea.created", "idea.created"));
        assert!(!pattern_matches("idea.created", "idea.created2"));
        assert!(pattern_matches("*.deleted", "customer.deleted"));
        assert!(pattern_matches("a*b*c", "axxbyyc"));
        assert!(!pattern_matches("a*b*c", "axxcyyb"));
    }

    #[test]
    fn leaf_trade_settled_statuses_only() {
        let e = ep(r#"{"url":"https://x.io","events":["order.*"],
            "filters":[{"pointer":"/status","not_one_of":["Approving"]}]}"#)
        .unwrap();
        assert!(e.subscribed("order.updated", r#"{"status":"Approved"}"#));
        assert!(!e.subscribed("order.updated", r#"{"status":"Approving"}"#));
        assert!(!e.subscribed("product.updated", r#"{"status":"Approved"}"#));
        assert!(
            e.subscribed("order.updated", r#"{"other":1}"#),
            "missing member passes not_one_of"
        );
    }

    #[test]
    fn filters_compare_json_values() {
        let f: Filter = serde_json::from_str(r#"{"pointer":"/n","equals":1}"#).unwrap();
        assert!(f.matches(r#"{"n":1.0}"#));
        assert!(!f.matches(r#"{"n":"1"}"#));
        assert!(!f.matches(r#"{}"#));
        let f: Filter = serde_json::from_str(r#"{"pointer":"/s","one_of":["a","b"]}"#).unwrap();
        assert!(f.matches(r#"{"s":"b"}"#));
        assert!(!f.matches(r#"{"s":"c"}"#));
        let bad = r#"{"url":"https://x.io","filters":[{"pointer":"/s","equals":1,"one_of":[1]}]}"#;
        assert!(ep(bad).is_err());
    }

    #[test]
    fn leanbe_cannot_batch() {
        let e =
            ep(r#"{"url":"https://x.io","signature":{"scheme":"leanbe","keys":["k"]},"batch":{}}"#);
        assert!(e.unwrap_err().contains("batch"));
        assert!(ep(r#"{"url":"https://x.io","signature":{"scheme":"leaddone","client_id":"c","keys":["k"]},"batch":{"max_items":5}}"#).is_ok());
    }
}
