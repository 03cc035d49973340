//! One SQS record as the stages see it, and the verdict each record ends
//! with.

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
}
