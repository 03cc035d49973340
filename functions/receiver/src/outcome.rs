//! What each answer counts for in the metrics (`hookrelay_shared::metrics`):
//! accepted, refused by reason (the platform's or the caller's side),
//! the queue failing to take it, or another error of ours.

use crate::answer::{Answer, Reject};
use hookrelay_shared::metrics::Metrics;
use hookrelay_shared::metrics::names::{
    ENQUEUE_FAILURES, REASON, RECEIVER_ERRORS, RefusalReason, SOURCE, UNKNOWN_SOURCE,
    WEBHOOKS_ACCEPTED, WEBHOOKS_REFUSED,
};

/// How one request ended, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Accepted,
    Refused(RefusalReason),
    EnqueueFailed,
    Error,
}

impl Outcome {
    pub fn refusal(self) -> Option<RefusalReason> {
        match self {
            Outcome::Refused(r) => Some(r),
            _ => None,
        }
    }

    pub fn of(result: &Result<Answer, Reject>) -> Self {
        match result {
            // A bulk body none of whose elements the queue took is answered
            // 503 like a single webhook the queue did not take.
            Ok(a) if a.status.is_success() => Outcome::Accepted,
            Ok(_) => Outcome::EnqueueFailed,
            Err(r) => match r {
                Reject::MethodNotAllowed => Outcome::Refused(RefusalReason::Method),
                Reject::UnknownSource => Outcome::Refused(RefusalReason::UnknownSource),
                Reject::Unauthorized(_) => Outcome::Refused(RefusalReason::Signature),
                Reject::MalformedJson | Reject::NotAnArray => {
                    Outcome::Refused(RefusalReason::Malformed)
                }
                Reject::TooLarge | Reject::TooManyElements => {
                    Outcome::Refused(RefusalReason::TooLarge)
                }
                Reject::QueueUnavailable(_)
                | Reject::QueueRejected(_)
                | Reject::RelayUnavailable(_)
                | Reject::RelayRejected(_) => Outcome::EnqueueFailed,
                Reject::SecretsUnavailable(_) | Reject::Misconfigured(_) => Outcome::Error,
            },
        }
    }
}

/// Counts one request. `source` is a configured source's name, or `None`
/// when the request did not get that far (its name is then the caller's,
/// and not a dimension).
pub(crate) fn count(
    metrics: &Metrics,
    source: Option<&str>,
    result: &Result<Answer, Reject>,
) -> Outcome {
    let source = source.unwrap_or(UNKNOWN_SOURCE);
    let dims = [(SOURCE, source)];
    let outcome = Outcome::of(result);
    match outcome {
        Outcome::Accepted => metrics.count(&WEBHOOKS_ACCEPTED, &dims, 1),
        Outcome::Refused(reason) => metrics.count(
            &WEBHOOKS_REFUSED,
            &[(SOURCE, source), (REASON, reason.as_str())],
            1,
        ),
        Outcome::EnqueueFailed => metrics.count(&ENQUEUE_FAILURES, &dims, 1),
        Outcome::Error => metrics.count(&RECEIVER_ERRORS, &dims, 1),
    }
    outcome
}
