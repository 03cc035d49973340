//! The dead-letter message: the original body, with why it is there as
//! message attributes ([`crate::attributes`]). The sender dead-letters jobs
//! and the router events with this one builder.

use crate::attributes::{
    DLQ_ATTEMPTS, DLQ_ENDPOINT, DLQ_ERROR, DLQ_LAST_STATUS, DLQ_REASON, DLQ_SOURCE_QUEUE,
    OWN_PREFIX,
};
use crate::queue::OutgoingMessage;

/// Why a message was moved to a dead-letter queue (`hookrelay-reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadReason {
    /// The endpoint's retry schedule ran out.
    RetriesExhausted,
    /// The endpoint answered 410 Gone.
    Gone,
    /// No configuration for the job's endpoint.
    UnknownEndpoint,
    /// Not a delivery job the sender can use.
    InvalidJob,
    /// The job cannot be signed (or its request cannot be built) with its
    /// endpoint's configuration.
    CannotSign,
    /// The endpoint is disabled and the job could not be parked.
    EndpointDisabled,
    /// Not an event the router can use, or one whose jobs cannot be written.
    InvalidEvent,
}

impl DeadReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::RetriesExhausted => "retries-exhausted",
            DeadReason::Gone => "gone",
            DeadReason::UnknownEndpoint => "unknown-endpoint",
            DeadReason::InvalidJob => "invalid-job",
            DeadReason::CannotSign => "cannot-sign",
            DeadReason::EndpointDisabled => "endpoint-disabled",
            DeadReason::InvalidEvent => "invalid-event",
        }
    }
}

/// Longest `hookrelay-error`, in bytes.
pub const MAX_ERROR_BYTES: usize = 256;

/// SQS takes at most ten message attributes.
const MAX_ATTRIBUTES: usize = 10;

/// What a dead letter says about the message it carries.
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    body: &'a str,
    reason: DeadReason,
    error: &'a str,
    last_status: Option<&'a str>,
    attempts: Option<u32>,
    endpoint: Option<&'a str>,
    source_queue: Option<&'a str>,
    kept: Vec<(&'a str, &'a str)>,
    dedup_id: Option<&'a str>,
    group_id: &'a str,
}

impl<'a> DeadLetter<'a> {
    pub fn new(body: &'a str, reason: DeadReason, error: &'a str) -> Self {
        Self {
            body,
            reason,
            error,
            last_status: None,
            attempts: None,
            endpoint: None,
            source_queue: None,
            kept: Vec::new(),
            dedup_id: None,
            group_id: "unknown",
        }
    }

    pub fn last_status(mut self, status: &'a str) -> Self {
        self.last_status = Some(status);
        self
    }

    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// The endpoint (also the FIFO group, so a DLQ redrive keeps one group
    /// per endpoint).
    pub fn endpoint(mut self, endpoint: &'a str) -> Self {
        if !endpoint.is_empty() {
            self.endpoint = Some(endpoint);
            self.group_id = endpoint;
        }
        self
    }

    pub fn source_queue(mut self, url: &'a str) -> Self {
        self.source_queue = Some(url);
        self
    }

    /// The original message's own attributes (a producer's event type,
    /// ...), kept where they fit; `hookrelay-*` ones are never copied.
    pub fn keep(mut self, attributes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.kept.extend(
            attributes
                .into_iter()
                .filter(|(k, _)| !k.starts_with(OWN_PREFIX)),
        );
        self.kept.sort();
        self
    }

    /// FIFO dead-letter queues: the deduplication id (the original message id).
    pub fn dedup_id(mut self, id: &'a str) -> Self {
        self.dedup_id = Some(id);
        self
    }

    /// FIFO dead-letter queues: the group, when there is no endpoint.
    pub fn group(mut self, group: &'a str) -> Self {
        self.group_id = group;
        self
    }

    pub fn reason(&self) -> DeadReason {
        self.reason
    }

    /// The message to send to the dead-letter queue.
    pub fn message(&self) -> OutgoingMessage {
        let attempts = self.attempts.map(|n| n.to_string());
        let own: [(&str, Option<String>); 6] = [
            (DLQ_REASON, Some(self.reason.as_str().to_string())),
            (DLQ_LAST_STATUS, self.last_status.map(str::to_string)),
            (DLQ_ATTEMPTS, attempts),
            (DLQ_ENDPOINT, self.endpoint.map(str::to_string)),
            (DLQ_ERROR, Some(truncate(self.error, MAX_ERROR_BYTES))),
            (DLQ_SOURCE_QUEUE, self.source_queue.map(str::to_string)),
        ];
        let mut msg = OutgoingMessage::new(self.body.to_string());
        for (name, value) in own {
            if let Some(v) = value {
                msg = msg.attribute(name, v);
            }
        }
        for (k, v) in &self.kept {
            if msg.attributes.len() >= MAX_ATTRIBUTES {
                break;
            }
            msg = msg.attribute(k, *v);
        }
        msg.dedup_id = self.dedup_id.map(str::to_string);
        msg.group_id = Some(self.group_id.to_string());
        msg
    }
}

/// At most `max` bytes of `s` (cut at a character boundary), with `…`
/// when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr<'m>(m: &'m OutgoingMessage, name: &str) -> Option<&'m str> {
        m.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_dead_letter_carries_the_body_and_the_reason() {
        let m = DeadLetter::new("{\"a\":1}", DeadReason::RetriesExhausted, "boom")
            .last_status("500")
            .attempts(3)
            .endpoint("billing")
            .source_queue("https://q/outbound")
            .keep([("event-type", "order.created"), ("hookrelay-reason", "old")])
            .dedup_id("m-1")
            .message();
        assert_eq!(m.body, "{\"a\":1}");
        assert_eq!(attr(&m, DLQ_REASON), Some("retries-exhausted"));
        assert_eq!(attr(&m, DLQ_LAST_STATUS), Some("500"));
        assert_eq!(attr(&m, DLQ_ATTEMPTS), Some("3"));
        assert_eq!(attr(&m, DLQ_ENDPOINT), Some("billing"));
        assert_eq!(attr(&m, DLQ_ERROR), Some("boom"));
        assert_eq!(attr(&m, "event-type"), Some("order.created"));
        assert_eq!(
            m.attributes.len(),
            7,
            "an old hookrelay-* attribute is not copied"
        );
        assert_eq!(m.group_id.as_deref(), Some("billing"));
        assert_eq!(m.dedup_id.as_deref(), Some("m-1"));
    }

    #[test]
    fn errors_are_cut_and_attributes_stay_within_the_sqs_count() {
        let long = "é".repeat(300);
        let own: Vec<(String, String)> =
            (0..12).map(|i| (format!("a{i:02}"), "v".into())).collect();
        let m = DeadLetter::new("x", DeadReason::InvalidEvent, &long)
            .keep(own.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .group("invalid")
            .message();
        let error = attr(&m, DLQ_ERROR).unwrap();
        assert!(
            error.len() <= MAX_ERROR_BYTES + '…'.len_utf8(),
            "{}",
            error.len()
        );
        assert_eq!(m.attributes.len(), 10);
        assert_eq!(m.group_id.as_deref(), Some("invalid"));
    }
}
