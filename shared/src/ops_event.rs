//! Operational events: what happened to the pipeline that someone may have
//! to act on, as a typed, versioned JSON stream on the stack's notice topic
//! (SNS), so a team can page, open a ticket or e-mail its customer.
//!
//! Every event is one JSON object: `version` (this module's
//! [`EVENT_VERSION`]), `type`, `id` (unique per event: consumers can
//! deduplicate SNS's at-least-once delivery on it), `time`, and the members
//! of its type. The types are exact names a subscription filter can match
//! (SNS message attribute `type`):
//!
//! | `type` | published by | when |
//! |---|---|---|
//! | `endpoint.disabled` | sender, `hookrelay endpoints disable` | an endpoint was disabled (rules, 410 Gone, by hand) |
//! | `endpoint.enabled` | `hookrelay endpoints enable` | it delivers again; its parked jobs were replayed |
//! | `message.dead_lettered` | sender, router | a job or an event went to a dead-letter queue |
//! | `source.refusals_high` | receiver | most of a source's webhooks are refused (a rotated key?) |
//! | `attempt.failed` | sender, opt-in (`HOOKRELAY_ATTEMPT_FAILED_EVENTS`) | a delivery attempt failed |
//!
//! Why SNS rather than an EventBridge bus: the notice topic exists already
//! (with its e-mail subscription), SNS costs half as much per event ($0.50
//! per million publishes, the first million a month free, against $1.00 per
//! million custom events), its subscription filter policies on `type` are
//! the filtering these events need, and it delivers to SQS, Lambda, HTTPS,
//! e-mail, SMS and chat directly. EventBridge's strengths (content rules
//! across many sources, archive and replay, API destinations) can be had by
//! subscribing an SQS queue to the topic and piping it to a bus. A version
//! change (a member removed or changing meaning) bumps [`EVENT_VERSION`];
//! new members may appear in any version.

use crate::health::{Disabled, Trigger};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The version of the events' shape.
pub const EVENT_VERSION: u32 = 1;

/// One operational event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpsEvent {
    pub version: u32,
    pub id: String,
    #[serde(with = "crate::envelope::rfc3339_millis")]
    pub time: OffsetDateTime,
    #[serde(flatten)]
    pub detail: Detail,
}

/// The event's type and its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Detail {
    #[serde(rename = "endpoint.disabled")]
    EndpointDisabled(EndpointDisabled),
    #[serde(rename = "endpoint.enabled")]
    EndpointEnabled(EndpointEnabled),
    #[serde(rename = "message.dead_lettered")]
    MessageDeadLettered(MessageDeadLettered),
    #[serde(rename = "source.refusals_high")]
    SourceRefusalsHigh(SourceRefusalsHigh),
    #[serde(rename = "attempt.failed")]
    AttemptFailed(AttemptFailed),
}

/// `endpoint.disabled`: new deliveries are parked until it is enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointDisabled {
    pub endpoint: String,
    /// `consecutive-failures`, `failure-rate`, `gone` or `manual`.
    pub trigger: Trigger,
    pub reason: String,
    #[serde(with = "crate::envelope::rfc3339_millis")]
    pub disabled_at: OffsetDateTime,
    pub what_happens_now: String,
    pub to_enable: String,
}

/// `endpoint.enabled`: it delivers again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointEnabled {
    pub endpoint: String,
    /// Parked jobs put back on the outbound queue, in the order they were created.
    pub replayed: usize,
}

/// Which dead-letter queue a message went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeadLetterQueue {
    /// A delivery job (the sender).
    Outbound,
    /// An event for fan-out (the router).
    Events,
}

/// `message.dead_lettered`: it needs a human (`hookrelay dlq list`, `dlq redrive`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDeadLettered {
    pub queue: DeadLetterQueue,
    /// The SQS message id on the queue it came from.
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The `hookrelay-reason` attribute: `retries-exhausted`, `gone`, ...
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    /// At most 256 bytes; never a key, a header or an endpoint's URL.
    pub error: String,
}

/// `source.refusals_high`: most of a source's recent webhooks were refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRefusalsHigh {
    pub source: String,
    /// The window the counts are over, and the rule that was crossed.
    pub window_secs: u64,
    pub requests: u64,
    pub refused: u64,
    pub threshold: f64,
    pub min_requests: u64,
    /// Refusals in the window by reason (`signature`, `malformed`, ...).
    pub reasons: BTreeMap<String, u64>,
    pub hint: String,
}

/// `attempt.failed` (opt-in): one delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptFailed {
    pub job_id: String,
    pub endpoint: String,
    pub event_type: String,
    pub attempt: u32,
    pub max_attempts: u32,
    /// The HTTP status, or `timeout`, `connect-error`, ...
    pub status: String,
    /// The class the metrics count it under (`5xx`, `timeout`, ...).
    pub class: String,
    /// Seconds until the next attempt; absent when there is none (the job
    /// was dead-lettered or parked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_in_secs: Option<u64>,
}

impl OpsEvent {
    pub fn new(detail: Detail, time: OffsetDateTime) -> Self {
        Self {
            version: EVENT_VERSION,
            id: format!("opev_{}", uuid::Uuid::new_v4().simple()),
            time,
            detail,
        }
    }

    /// The `type` member.
    pub fn event_type(&self) -> &'static str {
        match &self.detail {
            Detail::EndpointDisabled(_) => "endpoint.disabled",
            Detail::EndpointEnabled(_) => "endpoint.enabled",
            Detail::MessageDeadLettered(_) => "message.dead_lettered",
            Detail::SourceRefusalsHigh(_) => "source.refusals_high",
            Detail::AttemptFailed(_) => "attempt.failed",
        }
    }

    /// What it is about, for a message attribute subscribers can filter on:
    /// (`endpoint` or `source`, the name).
    pub fn subject_name(&self) -> Option<(&'static str, &str)> {
        match &self.detail {
            Detail::EndpointDisabled(d) => Some(("endpoint", &d.endpoint)),
            Detail::EndpointEnabled(d) => Some(("endpoint", &d.endpoint)),
            Detail::MessageDeadLettered(d) => d.endpoint.as_deref().map(|e| ("endpoint", e)),
            Detail::SourceRefusalsHigh(d) => Some(("source", &d.source)),
            Detail::AttemptFailed(d) => Some(("endpoint", &d.endpoint)),
        }
    }

    /// A one-line subject for e-mail subscribers (SNS: at most 100
    /// printable ASCII characters).
    pub fn subject(&self) -> String {
        let text = match &self.detail {
            Detail::EndpointDisabled(d) => format!("hookrelay: endpoint {} disabled", d.endpoint),
            Detail::EndpointEnabled(d) => format!("hookrelay: endpoint {} enabled", d.endpoint),
            Detail::MessageDeadLettered(d) => match &d.endpoint {
                Some(e) => format!("hookrelay: a job for {e} was dead-lettered ({})", d.reason),
                None => format!("hookrelay: an event was dead-lettered ({})", d.reason),
            },
            Detail::SourceRefusalsHigh(d) => {
                format!(
                    "hookrelay: most webhooks of source {} are refused",
                    d.source
                )
            }
            Detail::AttemptFailed(d) => {
                format!(
                    "hookrelay: attempt {} to {} failed ({})",
                    d.attempt, d.endpoint, d.status
                )
            }
        };
        text.chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(100)
            .collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl EndpointDisabled {
    pub fn new(endpoint: &str, d: &Disabled) -> Self {
        Self {
            endpoint: endpoint.to_string(),
            trigger: d.trigger,
            reason: d.reason.clone(),
            disabled_at: d.at,
            what_happens_now: "new deliveries for this endpoint are parked, not dropped".into(),
            to_enable: format!(
                "hookrelay endpoints enable {endpoint}  (replays parked deliveries in the order they were created)"
            ),
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn bounded(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Who hears about operational events: the notice topic (SNS) in AWS.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync {
    async fn publish(&self, event: &OpsEvent) -> Result<(), String>;

    /// `endpoint.disabled`.
    async fn endpoint_disabled(&self, endpoint: &str, disabled: &Disabled) -> Result<(), String> {
        let detail = Detail::EndpointDisabled(EndpointDisabled::new(endpoint, disabled));
        self.publish(&OpsEvent::new(detail, OffsetDateTime::now_utc()))
            .await
    }
}

/// Logs the events only (no topic configured).
pub struct LogNotifier;

#[async_trait::async_trait]
impl Notifier for LogNotifier {
    async fn publish(&self, event: &OpsEvent) -> Result<(), String> {
        tracing::info!(
            event_type = event.event_type(),
            event_id = event.id,
            "operational event (no notice topic configured)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn events_are_flat_json_with_version_type_id_and_time_and_read_back() {
        let d = Disabled {
            trigger: Trigger::Gone,
            reason: "410 Gone".into(),
            at: at(),
        };
        let e = OpsEvent::new(
            Detail::EndpointDisabled(EndpointDisabled::new("crm", &d)),
            at(),
        );
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["type"], "endpoint.disabled");
        assert_eq!(v["time"], "2027-01-15T08:00:00.000Z");
        assert!(v["id"].as_str().unwrap().starts_with("opev_"));
        assert_eq!(v["endpoint"], "crm");
        assert_eq!(v["trigger"], "gone");
        let back: OpsEvent = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.subject(), "hookrelay: endpoint crm disabled");
    }

    #[test]
    fn every_type_has_its_exact_name() {
        let cases = [
            (
                Detail::EndpointEnabled(EndpointEnabled {
                    endpoint: "e".into(),
                    replayed: 3,
                }),
                "endpoint.enabled",
            ),
            (
                Detail::MessageDeadLettered(MessageDeadLettered {
                    queue: DeadLetterQueue::Events,
                    message_id: "m".into(),
                    job_id: None,
                    event_id: None,
                    endpoint: None,
                    reason: "invalid-event".into(),
                    attempts: None,
                    last_status: None,
                    error: "not an event".into(),
                }),
                "message.dead_lettered",
            ),
            (
                Detail::SourceRefusalsHigh(SourceRefusalsHigh {
                    source: "github".into(),
                    window_secs: 600,
                    requests: 20,
                    refused: 20,
                    threshold: 0.9,
                    min_requests: 20,
                    reasons: BTreeMap::from([("signature".into(), 20)]),
                    hint: String::new(),
                }),
                "source.refusals_high",
            ),
            (
                Detail::AttemptFailed(AttemptFailed {
                    job_id: "j".into(),
                    endpoint: "e".into(),
                    event_type: "t".into(),
                    attempt: 1,
                    max_attempts: 8,
                    status: "500".into(),
                    class: "5xx".into(),
                    next_attempt_in_secs: Some(5),
                }),
                "attempt.failed",
            ),
        ];
        for (detail, name) in cases {
            let e = OpsEvent::new(detail, at());
            assert_eq!(e.event_type(), name);
            let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
            assert_eq!(v["type"], name);
            let back: OpsEvent = serde_json::from_str(&e.to_json()).unwrap();
            assert_eq!(back, e);
            assert!(e.subject().len() <= 100);
        }
    }

    #[test]
    fn bounded_cuts_on_a_character_boundary() {
        assert_eq!(bounded("héllo", 2), "h");
        assert_eq!(bounded("abc", 10), "abc");
    }
}
