//! Every metric hookrelay writes, with its unit and dimension sets, and the
//! dimension values that are not names (reasons, classes): the template's
//! dashboard and alarms, the README and `hookrelay dev`'s summary use these
//! names.
//!
//! Cardinality is what metrics cost (a custom metric is about $0.30 a
//! month): each dimension set a record names makes one metric per distinct
//! value. Sources are few and configured, so `Source` is a dimension;
//! `Reason` and `Class` take the handful of values below; `Endpoint` only
//! for endpoints whose configuration says `"metrics": true`.

use super::{Metric, Unit};

/// A configured source's name (requests for names that are not a
/// configured source count under [`UNKNOWN_SOURCE`]: the name is the
/// caller's, and would make a metric per name tried).
pub const SOURCE: &str = "Source";
/// Why a webhook was refused ([`RefusalReason`]) or a job dead-lettered.
pub const REASON: &str = "Reason";
/// A failed attempt's class ([`failure_class`]).
pub const CLASS: &str = "Class";
/// An endpoint that opted in to its own metrics (`"metrics": true`).
pub const ENDPOINT: &str = "Endpoint";

/// The `Source` value of requests whose source is not configured.
pub const UNKNOWN_SOURCE: &str = "(unknown)";

const SOURCE_AND_TOTAL: &[&[&str]] = &[&[SOURCE], &[]];
const TOTAL: &[&[&str]] = &[&[]];

// ---------------------------------------------------------------- receiver

/// Webhooks answered 2xx (queued; a bulk body counts once).
pub static WEBHOOKS_ACCEPTED: Metric = Metric {
    name: "WebhooksAccepted",
    unit: Unit::Count,
    dimension_sets: SOURCE_AND_TOTAL,
};
/// Webhooks answered 4xx, by reason: the platform's side (a bad signature,
/// a malformed body) or the caller's (an unknown source).
pub static WEBHOOKS_REFUSED: Metric = Metric {
    name: "WebhooksRefused",
    unit: Unit::Count,
    dimension_sets: &[&[SOURCE, REASON], &[SOURCE], &[REASON], &[]],
};
/// Webhooks the queue did not take (SQS unavailable or refusing, the
/// inbound or the events queue): answered 5xx, the platform retries.
pub static ENQUEUE_FAILURES: Metric = Metric {
    name: "EnqueueFailures",
    unit: Unit::Count,
    dimension_sets: SOURCE_AND_TOTAL,
};
/// Other 5xx answers: Secrets Manager unavailable, a source misconfigured.
pub static RECEIVER_ERRORS: Metric = Metric {
    name: "ReceiverErrors",
    unit: Unit::Count,
    dimension_sets: SOURCE_AND_TOTAL,
};
/// Webhooks that were already queued once (a platform's retry of a delivery
/// id seen before), answered 2xx without queueing them again.
pub static WEBHOOKS_DUPLICATE: Metric = Metric {
    name: "WebhooksDuplicate",
    unit: Unit::Count,
    dimension_sets: SOURCE_AND_TOTAL,
};
/// The receiver saw a source's refusals cross the threshold (and published
/// `source.refusals_high`); the alarm of that name watches it.
pub static SOURCE_REFUSALS_HIGH: Metric = Metric {
    name: "SourceRefusalsHigh",
    unit: Unit::Count,
    dimension_sets: SOURCE_AND_TOTAL,
};

/// Why a webhook was refused: the `Reason` of [`WEBHOOKS_REFUSED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefusalReason {
    /// Missing or wrong signature, stale timestamp (401).
    Signature,
    /// Not the JSON the scheme or extraction needs (400).
    Malformed,
    /// Body or envelope over the limit, too many bulk elements (413).
    TooLarge,
    /// No such source (404).
    UnknownSource,
    /// Not a POST (405).
    Method,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 5] = [
        RefusalReason::Signature,
        RefusalReason::Malformed,
        RefusalReason::TooLarge,
        RefusalReason::UnknownSource,
        RefusalReason::Method,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Signature => "signature",
            RefusalReason::Malformed => "malformed",
            RefusalReason::TooLarge => "too-large",
            RefusalReason::UnknownSource => "unknown-source",
            RefusalReason::Method => "method",
        }
    }
}

// ------------------------------------------------------------------ router

/// Events fanned out (all their jobs written).
pub static EVENTS_ROUTED: Metric = Metric {
    name: "EventsRouted",
    unit: Unit::Count,
    dimension_sets: TOTAL,
};
/// Delivery jobs written to the outbound queue.
pub static JOBS_WRITTEN: Metric = Metric {
    name: "JobsWritten",
    unit: Unit::Count,
    dimension_sets: TOTAL,
};
/// Events returned to the queue to be routed again (a queue or the
/// configuration unavailable).
pub static EVENTS_RETRIED: Metric = Metric {
    name: "EventsRetried",
    unit: Unit::Count,
    dimension_sets: TOTAL,
};
/// Events moved to the events dead-letter queue.
pub static EVENTS_DEAD_LETTERED: Metric = Metric {
    name: "EventsDeadLettered",
    unit: Unit::Count,
    dimension_sets: TOTAL,
};

// ------------------------------------------------------------------ sender

const ENDPOINT_AND_TOTAL: &[&[&str]] = &[&[], &[ENDPOINT]];

/// Jobs delivered (a 2xx answer).
pub static DELIVERED: Metric = Metric {
    name: "Delivered",
    unit: Unit::Count,
    dimension_sets: ENDPOINT_AND_TOTAL,
};
/// Failed attempts, by class ([`failure_class`]).
pub static DELIVERY_FAILED: Metric = Metric {
    name: "DeliveryFailed",
    unit: Unit::Count,
    dimension_sets: &[&[], &[CLASS], &[ENDPOINT]],
};
/// Retries scheduled after a failed attempt.
pub static RETRIED: Metric = Metric {
    name: "Retried",
    unit: Unit::Count,
    dimension_sets: ENDPOINT_AND_TOTAL,
};
/// Jobs moved to the outbound dead-letter queue, by reason (the
/// `hookrelay-reason` attribute).
pub static DEAD_LETTERED: Metric = Metric {
    name: "DeadLettered",
    unit: Unit::Count,
    dimension_sets: &[&[], &[REASON]],
};
/// Jobs parked for a disabled endpoint.
pub static PARKED: Metric = Metric {
    name: "Parked",
    unit: Unit::Count,
    dimension_sets: TOTAL,
};
/// Endpoints this sender disabled (the rules or a 410).
pub static ENDPOINTS_DISABLED: Metric = Metric {
    name: "EndpointsDisabled",
    unit: Unit::Count,
    dimension_sets: TOTAL,
};
/// How long an endpoint took to answer an attempt (or to fail it).
pub static ANSWER_TIME: Metric = Metric {
    name: "AnswerTime",
    unit: Unit::Milliseconds,
    dimension_sets: ENDPOINT_AND_TOTAL,
};
/// A delivered job's age: from its `created_at` (for fanned-out jobs the
/// event's arrival) to its delivery.
pub static JOB_AGE: Metric = Metric {
    name: "JobAge",
    unit: Unit::Milliseconds,
    dimension_sets: ENDPOINT_AND_TOTAL,
};

/// The class of a failed attempt from its status (as the sender logs it
/// and writes `hookrelay-last-status`): a handful of values, so `Class` is
/// a dimension.
pub fn failure_class(status: &str) -> &'static str {
    match status {
        "timeout" => "timeout",
        "connect-error" => "connection",
        "refused" => "refused",
        s if s.ends_with("-item-failed") => "item-failed",
        s => match s.parse::<u16>() {
            Ok(429) => "429",
            Ok(300..=399) => "3xx",
            Ok(400..=499) => "4xx",
            Ok(500..=599) => "5xx",
            _ => "other",
        },
    }
}

/// Every metric, for documentation checks and the local summary.
pub static ALL: &[&Metric] = &[
    &WEBHOOKS_ACCEPTED,
    &WEBHOOKS_REFUSED,
    &ENQUEUE_FAILURES,
    &RECEIVER_ERRORS,
    &WEBHOOKS_DUPLICATE,
    &SOURCE_REFUSALS_HIGH,
    &EVENTS_ROUTED,
    &JOBS_WRITTEN,
    &EVENTS_RETRIED,
    &EVENTS_DEAD_LETTERED,
    &DELIVERED,
    &DELIVERY_FAILED,
    &RETRIED,
    &DEAD_LETTERED,
    &PARKED,
    &ENDPOINTS_DISABLED,
    &ANSWER_TIME,
    &JOB_AGE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_classes_are_few() {
        assert_eq!(failure_class("500"), "5xx");
        assert_eq!(failure_class("503"), "5xx");
        assert_eq!(failure_class("429"), "429");
        assert_eq!(failure_class("404"), "4xx");
        assert_eq!(failure_class("301"), "3xx");
        assert_eq!(failure_class("timeout"), "timeout");
        assert_eq!(failure_class("connect-error"), "connection");
        assert_eq!(failure_class("200-item-failed"), "item-failed");
        assert_eq!(failure_class("anything"), "other");
    }

    #[test]
    fn names_are_unique_and_dimension_sets_small() {
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for m in ALL {
            assert!(m.dimension_sets.iter().all(|s| s.len() <= 30), "{}", m.name);
        }
    }
}
