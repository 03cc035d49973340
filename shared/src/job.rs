//! A delivery job: what the sender consumes from the outbound queue. One job
//! is one message to one endpoint.
//!
//! ```json
//! {
//!   "version": 1,
//!   "id": "job_5f0c...",             // idempotency key, sent as webhook-id (or the scheme's id)
//!   "endpoint": "billing",           // <prefix>/endpoints/billing in Secrets Manager
//!   "event_type": "invoice.paid",
//!   "payload": {"invoice": 42},      // any JSON; sent byte for byte (Leanbe wraps it)
//!   "created_at": "2026-11-22T10:00:00.000Z"
//! }
//! ```

use crate::envelope::rfc3339_millis;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

pub const JOB_VERSION: u32 = 1;

/// SQS message attributes on jobs: shown by `hookrelay queue peek`, used
/// by the DLQ tooling (named in [`crate::attributes`]).
pub use crate::attributes::{ENDPOINT as ATTR_ENDPOINT, EVENT_TYPE as ATTR_EVENT_TYPE};

/// Longest job id, in bytes: it travels in a header (`webhook-id`, the
/// idempotency header) and in the state table's keys.
pub const MAX_ID_BYTES: usize = 256;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryJob {
    #[serde(default = "default_version")]
    pub version: u32,
    pub id: String,
    pub endpoint: String,
    pub event_type: String,
    pub payload: Box<RawValue>,
    #[serde(with = "rfc3339_millis")]
    pub created_at: OffsetDateTime,
    /// The event this job was fanned out from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Set by the router when the endpoint's configuration was invalid at
    /// fan-out time, so its subscription could not be checked: the sender
    /// checks it once the configuration is valid, and drops the job if the
    /// endpoint does not want this event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub subscription_unchecked: bool,
}

fn default_version() -> u32 {
    JOB_VERSION
}

impl DeliveryJob {
    pub fn new(
        endpoint: impl Into<String>,
        event_type: impl Into<String>,
        payload: Box<RawValue>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            version: JOB_VERSION,
            id: format!("job_{}", uuid::Uuid::new_v4().simple()),
            endpoint: endpoint.into(),
            event_type: event_type.into(),
            payload,
            created_at: now,
            event_id: None,
            subscription_unchecked: false,
        }
    }

    /// Whether the job can be delivered as it is: its id is sent as a
    /// header value (`webhook-id`, the idempotency header, the `hmac`
    /// scheme's id header), so it is 1 to [`MAX_ID_BYTES`] bytes without
    /// control characters, and without leading or trailing whitespace
    /// (HTTP drops it, so the endpoint would see, and check a signature
    /// against, another id). The error names the rule, never the id.
    pub fn check(&self) -> Result<(), String> {
        let id = self.id.as_str();
        if id.is_empty() || id.len() > MAX_ID_BYTES {
            return Err(format!("id: must be 1 to {MAX_ID_BYTES} bytes"));
        }
        if id.chars().any(char::is_control) {
            return Err("id: control characters cannot be sent in a header".into());
        }
        if id.trim() != id {
            return Err("id: leading or trailing whitespace would not survive a header".into());
        }
        Ok(())
    }

    /// A job id derived from the event and the endpoint, so a retried
    /// fan-out produces the same id (and endpoints can deduplicate on it).
    pub fn derived_id(event_id: &str, endpoint: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(event_id.as_bytes());
        h.update([0u8]);
        h.update(endpoint.as_bytes());
        format!("job_{}", &hex::encode(h.finalize())[..32])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = DeliveryJob::derived_id("evt_1", "billing");
        assert_eq!(a, DeliveryJob::derived_id("evt_1", "billing"));
        assert_ne!(a, DeliveryJob::derived_id("evt_1", "crm"));
        assert_ne!(
            DeliveryJob::derived_id("evt_1b", "illing"),
            DeliveryJob::derived_id("evt_1", "billing")
        );
        assert_eq!(a.len(), 36);
    }

    #[test]
    fn job_ids_must_be_sendable_header_values() {
        let job = |id: &str| {
            let payload = RawValue::from_string("{}".into()).unwrap();
            let mut j = DeliveryJob::new("e", "t", payload, OffsetDateTime::UNIX_EPOCH);
            j.id = id.to_string();
            j
        };
        assert!(job("job_5f0c").check().is_ok());
        assert!(job("order 42/é").check().is_ok());
        for bad in [
            "job\u{1}x",
            "job\nx",
            "job\tx",
            "job\u{7f}",
            "job\u{85}",
            " job",
            "job ",
        ] {
            let e = job(bad).check().unwrap_err();
            assert!(e.starts_with("id: ") && !e.contains(bad), "{bad:?}: {e}");
        }
        assert!(job("").check().is_err());
        assert!(job(&"a".repeat(MAX_ID_BYTES)).check().is_ok());
        assert!(job(&"a".repeat(MAX_ID_BYTES + 1)).check().is_err());
    }

    #[test]
    fn jobs_round_trip_with_their_payload_bytes() {
        let text = r#"{"version":1,"id":"job_1","endpoint":"e","event_type":"t","payload":{"a": 1.50},"created_at":"2026-11-22T10:00:00.000Z"}"#;
        let job: DeliveryJob = serde_json::from_str(text).unwrap();
        assert_eq!(job.payload.get(), r#"{"a": 1.50}"#);
        assert_eq!(serde_json::to_string(&job).unwrap(), text);
    }
}
