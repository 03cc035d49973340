//! One SQS record as the stages see it, and the verdict each record ends
//! with.

use crate::settings::SETTLE_MARGIN;
use aws_lambda_events::event::sqs::SqsMessage;
use hookrelay_shared::attributes::REPLAY_SEQ;
use std::time::Duration;
use time::OffsetDateTime;

/// The invocation a batch arrived in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invocation {
    /// When the handler was called.
    pub started: OffsetDateTime,
    /// How long the event source may have held a record before the
    /// invocation (its batching window).
    pub batching_window: Duration,
    /// When Lambda stops the invocation, if known.
    pub deadline: Option<OffsetDateTime>,
}

impl Invocation {
    /// A deadline already past when the invocation starts is no deadline:
    /// Lambda never starts an invocation after its deadline, and a local
    /// emulator may send a placeholder (`cargo lambda watch` sends
    /// 600,000 ms after the epoch).
    pub fn new(
        started: OffsetDateTime,
        batching_window: Duration,
        deadline: Option<OffsetDateTime>,
    ) -> Self {
        Self {
            started,
            batching_window,
            deadline: deadline.filter(|d| *d > started),
        }
    }

    fn left(&self, now: OffsetDateTime) -> Option<Duration> {
        self.deadline
            .map(|d| Duration::try_from(d - now).unwrap_or(Duration::ZERO))
    }

    /// Whether an attempt that may take `timeout` can start now and still
    /// be settled before the deadline.
    pub fn allows(&self, now: OffsetDateTime, timeout: Duration) -> bool {
        self.left(now)
            .is_none_or(|left| left >= timeout + SETTLE_MARGIN)
    }

    /// Whether there is time left to handle a record at all.
    pub fn has_room(&self, now: OffsetDateTime) -> bool {
        self.left(now).is_none_or(|left| left >= SETTLE_MARGIN)
    }
}

/// One record of the batch, with what the stages need to know of it.
pub(crate) struct Record<'a> {
    pub msg: &'a SqsMessage,
    pub id: &'a str,
    pub receipt: &'a str,
    pub body: &'a str,
    /// `ApproximateReceiveCount`: an upper bound of the attempts so far.
    pub receives: u32,
    /// When SQS handed it out, or the earliest that can have been: SQS
    /// counts its 12-hour visibility limit from there.
    pub received_at: OffsetDateTime,
}

impl<'a> Record<'a> {
    /// `None` for a record without a message id or receipt handle (which
    /// Lambda never sends): nothing can be done with it but retry.
    pub fn read(msg: &'a SqsMessage, invocation: &Invocation) -> Option<Self> {
        let (Some(id), Some(receipt)) = (msg.message_id.as_deref(), msg.receipt_handle.as_deref())
        else {
            return None;
        };
        let receives = msg
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1);
        // SQS names the time of the first receive only; for a later one the
        // earliest it can have been is the batching window before the call.
        let first_receive = msg
            .attributes
            .get("ApproximateFirstReceiveTimestamp")
            .and_then(|ms| ms.parse::<i128>().ok())
            .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok());
        let received_at = match first_receive {
            Some(t) if receives == 1 => t,
            _ => invocation.started - invocation.batching_window,
        };
        Some(Self {
            msg,
            id,
            receipt,
            body: msg.body.as_deref().unwrap_or(""),
            receives,
            received_at,
        })
    }

    /// A replayed parked job (it carries its place in the replay).
    pub fn is_replay(&self) -> bool {
        self.msg.message_attributes.contains_key(REPLAY_SEQ)
    }

    /// The producer's own string attributes.
    pub fn string_attributes(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.msg
            .message_attributes
            .iter()
            .filter_map(|(k, v)| v.string_value.as_deref().map(|s| (k.as_str(), s)))
    }
}

/// What happens to a record after this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Delivered, parked or dead-lettered: let the event source delete it.
    Delete,
    /// Report as failed; move its next appearance to `after` (or leave the
    /// queue's visibility timeout when `None`).
    Retry(Option<Duration>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receive_time_is_sqs_first_receive_or_the_earliest_a_later_one_can_be() {
        let started = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let inv = Invocation {
            started,
            batching_window: Duration::from_secs(20),
            deadline: None,
        };
        let mut msg = SqsMessage::default();
        msg.message_id = Some("m".into());
        msg.receipt_handle = Some("r".into());
        msg.attributes.insert(
            "ApproximateFirstReceiveTimestamp".into(),
            "1699999700000".into(),
        );
        let first = Record::read(&msg, &inv).unwrap();
        assert_eq!(first.received_at, started - Duration::from_secs(300));
        msg.attributes
            .insert("ApproximateReceiveCount".into(), "2".into());
        let later = Record::read(&msg, &inv).unwrap();
        assert_eq!(later.received_at, started - Duration::from_secs(20));
    }

    #[test]
    fn an_attempt_starts_only_if_it_can_be_settled_before_the_deadline() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut inv = Invocation {
            started: now,
            batching_window: Duration::ZERO,
            deadline: None,
        };
        assert!(inv.allows(now, Duration::from_secs(300)), "no deadline");
        inv.deadline = Some(now + Duration::from_secs(20));
        assert!(inv.allows(now, Duration::from_secs(15)));
        assert!(!inv.allows(now, Duration::from_secs(16)));
        assert!(inv.has_room(now + Duration::from_secs(15)));
        assert!(!inv.has_room(now + Duration::from_secs(16)));
        assert!(
            !inv.allows(now + Duration::from_secs(30), Duration::ZERO),
            "past it"
        );
    }

    #[test]
    fn a_deadline_past_at_the_start_is_a_placeholder() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let placeholder = OffsetDateTime::UNIX_EPOCH + Duration::from_millis(600_000);
        let inv = Invocation::new(now, Duration::ZERO, Some(placeholder));
        assert_eq!(inv.deadline, None);
        assert!(inv.allows(now, Duration::from_secs(300)));
        let real = now + Duration::from_secs(30);
        let inv = Invocation::new(now, Duration::ZERO, Some(real));
        assert_eq!(inv.deadline, Some(real));
    }
}
