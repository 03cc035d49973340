//! What real SQS refuses and moto accepts, as layers in front of the real
//! adapters (moto-backed): tests see the refusals a deployed sender would.
//!
//! - A message larger than the queue's limit counting its attributes
//!   (moto counts the body only), or with characters SQS does not allow
//!   in the body or an attribute value (moto takes any).
//! - A visibility timeout reaching more than 12 hours past the receive
//!   that returned the receipt handle (moto counts from the message's
//!   send time).

use async_trait::async_trait;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::queue::{MessageControl, OutgoingMessage, Queue, QueueError};
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// SQS's largest message (and its largest visibility timeout, in seconds).
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;
pub const MAX_VISIBILITY_SECS: i64 = 43_200;

/// `#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`
pub fn sqs_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// SQS's verdict on a message it is sent.
pub fn check(msg: &OutgoingMessage) -> Result<(), QueueError> {
    if msg.sqs_size() > MAX_MESSAGE_BYTES {
        return Err(QueueError::Rejected(format!(
            "InvalidParameterValue: message of {} bytes (attributes included) is over the limit",
            msg.sqs_size()
        )));
    }
    if !msg.body.chars().all(sqs_allows) {
        return Err(QueueError::Rejected(
            "InvalidMessageContents: invalid characters in the body".into(),
        ));
    }
    for (name, value) in &msg.attributes {
        if !value.chars().all(sqs_allows) {
            return Err(QueueError::Rejected(format!(
                "InvalidParameterValue: invalid characters in attribute {name}"
            )));
        }
    }
    if msg.attributes.len() > 10 {
        return Err(QueueError::Rejected("more than 10 attributes".into()));
    }
    Ok(())
}

/// A queue that refuses what SQS refuses, then sends through moto.
pub struct StrictQueue {
    pub inner: SqsQueue,
    pub refused: Mutex<Vec<String>>,
}

impl StrictQueue {
    pub fn new(inner: SqsQueue) -> Self {
        Self {
            inner,
            refused: Mutex::new(Vec::new()),
        }
    }

    pub fn refusals(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

#[async_trait]
impl Queue for StrictQueue {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        if let Err(e) = check(&msg) {
            self.refused.lock().unwrap().push(e.to_string());
            return Err(e);
        }
        self.inner.send(msg).await
    }

    async fn send_batch(
        &self,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<Result<String, QueueError>>, QueueError> {
        for m in &msgs {
            if let Err(e) = check(m) {
                self.refused.lock().unwrap().push(e.to_string());
                return Err(e);
            }
        }
        self.inner.send_batch(msgs).await
    }
}

/// Visibility changes: recorded, refused past 12 hours from the receive
/// (as SQS does), then made for real.
pub struct StrictVisibility {
    pub inner: SqsQueue,
    received: Mutex<HashMap<String, OffsetDateTime>>,
    /// (receipt handle, seconds asked for, accepted)
    pub changes: Mutex<Vec<(String, i32, bool)>>,
}

impl StrictVisibility {
    pub fn new(inner: SqsQueue) -> Self {
        Self {
            inner,
            received: Mutex::new(HashMap::new()),
            changes: Mutex::new(Vec::new()),
        }
    }

    /// The receive that returned `receipt` happened at `at`.
    pub fn received(&self, receipt: &str, at: OffsetDateTime) {
        self.received
            .lock()
            .unwrap()
            .insert(receipt.to_string(), at);
    }
}

#[async_trait]
impl MessageControl for StrictVisibility {
    async fn change_visibility(&self, receipt: &str, seconds: i32) -> Result<(), QueueError> {
        let since_receive = self
            .received
            .lock()
            .unwrap()
            .get(receipt)
            .map(|at| (OffsetDateTime::now_utc() - *at).whole_seconds())
            .unwrap_or(0);
        let accepted = seconds >= 0 && i64::from(seconds) + since_receive <= MAX_VISIBILITY_SECS;
        self.changes
            .lock()
            .unwrap()
            .push((receipt.to_string(), seconds, accepted));
        if !accepted {
            return Err(QueueError::Rejected(format!(
                "InvalidParameterValue: Value {seconds} for parameter VisibilityTimeout is invalid. \
                 Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )));
        }
        self.inner.change_visibility(receipt, seconds).await
    }
}
