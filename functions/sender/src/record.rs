//! One SQS record as the stages see it, and the verdict each record ends
//! with.

use aws_lambda_events::event::sqs::SqsMessage;
use hookrelay_shared::attributes::REPLAY_SEQ;
use std::time::Duration;

/// One record of the batch, with what the stages need to know of it.
pub(crate) struct Record<'a> {
    pub msg: &'a SqsMessage,
    pub id: &'a str,
    pub receipt: &'a str,
    pub body: &'a str,
    /// `ApproximateReceiveCount`: an upper bound of the attempts so far.
    pub receives: u32,
}

impl<'a> Record<'a> {
    /// `None` for a record without a message id or receipt handle (which
    /// Lambda never sends): nothing can be done with it but retry.
    pub fn read(msg: &'a SqsMessage) -> Option<Self> {
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
        Some(Self {
            msg,
            id,
            receipt,
            body: msg.body.as_deref().unwrap_or(""),
            receives,
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
