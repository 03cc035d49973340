//! An event for fan-out: what a producer (or a receiver source in relay
//! mode) puts on the events queue. The router turns it into one
//! [`DeliveryJob`](crate::job::DeliveryJob) per subscribed endpoint.
//!
//! ```json
//! {"version": 1, "id": "evt_123", "type": "order.created", "payload": {"id": 42}}
//! ```
//! `id` is optional: without one the router uses the SQS message id, so a
//! retried batch still derives the same job ids.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub const EVENT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    #[serde(default = "default_version")]
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Any JSON value, kept byte for byte.
    pub payload: Box<RawValue>,
    /// The receiver source an event was relayed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn default_version() -> u32 {
    EVENT_VERSION
}

impl Event {
    pub fn new(event_type: impl Into<String>, payload: Box<RawValue>) -> Self {
        Self {
            version: EVENT_VERSION,
            id: None,
            event_type: event_type.into(),
            payload,
            source: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_bytes_are_kept() {
        let e: Event =
            serde_json::from_str(r#"{"type":"a.b","payload":{"x": 1.0, "y":[1,2]}}"#).unwrap();
        assert_eq!(e.version, 1);
        assert_eq!(e.payload.get(), r#"{"x": 1.0, "y":[1,2]}"#);
        assert!(
            serde_json::to_string(&e)
                .unwrap()
                .contains(r#""payload":{"x": 1.0, "y":[1,2]}"#)
        );
    }
}
