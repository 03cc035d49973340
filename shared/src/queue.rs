//! The queue port: what the receiver, sender and router send, and how a
//! batch of messages is packed into SendMessageBatch requests. The SQS
//! adapter is [`crate::aws::sqs::SqsQueue`].

use async_trait::async_trait;

/// SQS's own limit per batch call.
pub const MAX_BATCH: usize = 10;

/// SQS's limit on one message and on a whole SendMessageBatch request (the
/// sum of its messages), 1 MiB since August 2025 (the template's queues set
/// `MaximumMessageSize` to it).
pub const MAX_BATCH_BYTES: usize = 1_048_576;

/// Splits messages, in order, into SendMessageBatch requests of at most
/// [`MAX_BATCH`] entries and [`MAX_BATCH_BYTES`] in all. Ten jobs of one
/// large event can exceed the byte limit long before the entry limit, and
/// SQS refuses the whole request then. A message over the limit on its own
/// gets a batch of its own, so its refusal touches nothing else.
pub fn pack_batches<T>(items: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut batches: Vec<Vec<T>> = Vec::new();
    let mut bytes = 0;
    for item in items {
        let n = size(&item);
        match batches.last_mut() {
            Some(b) if b.len() < MAX_BATCH && bytes + n <= MAX_BATCH_BYTES => {
                bytes += n;
                b.push(item);
            }
            _ => {
                bytes = n;
                batches.push(vec![item]);
            }
        }
    }
    batches
}

/// Sends any number of messages with SendMessageBatch: packed by
/// [`pack_batches`], at most `max_in_flight` calls at a time, one result per
/// message in the order given. A call that fails, or answers for fewer
/// messages than it was given, fails every message of its batch: a short
/// answer cannot say which message it left out.
pub async fn send_all(
    queue: &dyn Queue,
    messages: Vec<OutgoingMessage>,
    max_in_flight: usize,
) -> Vec<Result<String, QueueError>> {
    use futures::StreamExt;
    let calls: Vec<_> = pack_batches(messages, OutgoingMessage::sqs_size)
        .into_iter()
        .map(|batch| async move {
            let n = batch.len();
            match queue.send_batch(batch).await {
                Ok(results) if results.len() == n => results,
                Ok(_) => vec![Err(QueueError::Unavailable("short batch answer".into())); n],
                Err(e) => vec![Err(e); n],
            }
        })
        .collect();
    futures::stream::iter(calls)
        .buffered(max_in_flight.max(1))
        .flat_map(futures::stream::iter)
        .collect()
        .await
}

/// The characters SQS refuses (see [`crate::dead_letter::sqs_allows`])
/// that can occur in JSON text: JSON writers escape control characters,
/// and a `String` cannot hold surrogates.
const SQS_REFUSES: [char; 2] = ['\u{fffe}', '\u{ffff}'];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// String message attributes.
    pub attributes: Vec<(String, String)>,
    /// For FIFO queues: deduplication id (hashed when SQS would refuse it).
    pub dedup_id: Option<String>,
    /// For FIFO queues: ordering group.
    pub group_id: Option<String>,
    pub delay_secs: Option<i32>,
    /// The X-Ray trace this message belongs to (the `AWSTraceHeader`
    /// system attribute): the consumer's invocation joins the producer's
    /// trace. System attributes do not count against SQS's size limit.
    pub trace_header: Option<String>,
}

impl OutgoingMessage {
    /// `body` is JSON text, as every hookrelay message is. U+FFFE and U+FFFF,
    /// which JSON writers leave unescaped and SQS refuses, are written as
    /// `\ufffe` and `\uffff` escapes: the same JSON document, in text SQS
    /// accepts. (In JSON text they can only occur inside strings, where the
    /// escape means the same character.)
    pub fn new(body: String) -> Self {
        let body = if body.contains(SQS_REFUSES) {
            body.replace('\u{fffe}', "\\ufffe")
                .replace('\u{ffff}', "\\uffff")
        } else {
            body
        };
        Self {
            body,
            ..Self::default()
        }
    }

    /// Carries a trace header (`Root=...;Parent=...;Sampled=...`); an empty
    /// or missing one is left out.
    pub fn trace(mut self, header: Option<&str>) -> Self {
        self.trace_header = header
            .map(str::trim)
            .filter(|h| !h.is_empty() && h.len() <= 1024)
            .map(String::from);
        self
    }

    /// A string attribute. Characters SQS refuses (control characters, and
    /// U+FFFE and U+FFFF: an event type read from a body may hold any) become
    /// U+FFFD: attributes label messages for people and filters, the data
    /// is in the body.
    pub fn attribute(mut self, name: &str, value: impl Into<String>) -> Self {
        use crate::dead_letter::{clean, sqs_allows};
        let value: String = value.into();
        let value = match value.chars().all(sqs_allows) {
            true => value,
            false => clean(&value),
        };
        // SQS refuses empty attribute values.
        if !value.is_empty() {
            self.attributes.push((name.to_string(), value));
        }
        self
    }

    /// Size as SQS counts it against its message limit: body plus attribute
    /// names, types and values.
    pub fn sqs_size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + "String".len() + v.len())
                .sum::<usize>()
    }
}

/// The X-Ray trace header of the invocation being handled:
/// `_X_AMZN_TRACE_ID`, which the Lambda runtime sets for each invocation
/// (with or without active tracing; `Sampled=0` when not sampled).
pub fn invocation_trace_header() -> Option<String> {
    std::env::var("_X_AMZN_TRACE_ID")
        .ok()
        .filter(|h| !h.is_empty())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue could not be reached or failed: worth retrying.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// SQS refused this message (size, content): retrying will not help.
    #[error("message rejected by the queue: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends one message; returns SQS's message id.
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError>;

    /// Sends up to [`MAX_BATCH`] messages in one call; one result per
    /// message, in order. `Err` only when the call as a whole failed.
    async fn send_batch(
        &self,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<Result<String, QueueError>>, QueueError>;
}

/// What the sender needs besides sending: moving a message's next
/// appearance (its retry) and letting it go.
#[async_trait]
pub trait MessageControl: Send + Sync {
    async fn change_visibility(&self, receipt_handle: &str, seconds: i32)
    -> Result<(), QueueError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_entry_and_byte_limits_and_keep_order() {
        let sizes = |v: &[usize]| pack_batches(v.to_vec(), |n| *n);
        assert!(sizes(&[]).is_empty());
        let small: Vec<usize> = (1..=23).collect();
        let packed = sizes(&small);
        assert_eq!(
            packed.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![10, 10, 3]
        );
        assert_eq!(packed.concat(), small, "order kept");
        // 400 KB jobs of one event: two per request, not ten.
        let big = vec![400_000; 5];
        assert_eq!(
            sizes(&big).iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        // Exactly at the limit fits; one byte over opens a new request.
        assert_eq!(sizes(&[524_288, 524_288]).len(), 1);
        assert_eq!(sizes(&[524_288, 524_289]).len(), 2);
        // A message over the limit alone is isolated from its neighbours.
        assert_eq!(
            sizes(&[10, MAX_BATCH_BYTES + 1, 10]),
            vec![vec![10], vec![MAX_BATCH_BYTES + 1], vec![10]]
        );
    }

    /// Found by `cargo fuzz` (fuzz/regressions/envelope/): a delivery id or
    /// event type read from a verified body with `json_pointer` may hold
    /// U+FFFE or U+FFFF (`"\\uffff"` in the JSON), which serde_json writes
    /// unescaped, and control characters, which go into the event-type
    /// attribute as they are; SQS refuses both in a message body and in
    /// attribute values (its allowed characters are #x9, #xA, #xD,
    /// #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF), so the receiver
    /// answered such a verified webhook 500 on every retry. (moto does not
    /// check SQS's character set: this is shown here, not against moto.)
    #[test]
    fn messages_hold_only_text_sqs_accepts() {
        let json = serde_json::to_string(&serde_json::json!({
            "id": "a\u{ffff}b\u{fffe}",
            "n": ["\u{fffd}\u{10000}"],
        }))
        .unwrap();
        assert!(json.contains('\u{ffff}'), "serde_json leaves it raw");
        let m = OutgoingMessage::new(json.clone()).attribute("event-type", "x\u{ffff}\0\u{1b}y");
        assert!(!m.body.contains(['\u{fffe}', '\u{ffff}']), "{}", m.body);
        assert!(
            m.body.chars().all(crate::dead_letter::sqs_allows),
            "{}",
            m.body
        );
        assert_eq!(m.attributes[0].1, "x\u{fffd}\u{fffd}\u{fffd}y");
        // The same JSON document: escaped, not replaced.
        let back: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(&json).unwrap()
        );
        assert_eq!(
            m.sqs_size(),
            m.body.len() + "event-type".len() + 6 + m.attributes[0].1.len()
        );
    }

    #[test]
    fn size_counts_body_and_attributes() {
        let m = OutgoingMessage::new("abc".into())
            .attribute("source", "gh")
            .attribute("empty", "");
        assert_eq!(m.attributes.len(), 1);
        assert_eq!(m.sqs_size(), 3 + 6 + 6 + 2);
    }
}
