//! The dead-letter message: the original body, with why it is there as
//! message attributes ([`crate::attributes`]). The sender dead-letters jobs
//! and the router events with this one builder.
//!
//! Dead-lettering must not fail on what it carries, or the job would be
//! retried (and sent again) on every receive. So the copy is always one
//! SQS accepts: attribute values lose the characters SQS refuses (an
//! endpoint's answer can hold any), and the attributes fit beside the body
//! within SQS's message limit. The body is never cut: it came from a queue
//! with the same limit. Near that limit the room left beside the body goes
//! to the most important attributes first: `hookrelay-reason`,
//! `hookrelay-attempts`, `hookrelay-endpoint`, `hookrelay-last-status`,
//! `hookrelay-error` (shortened to fit), `hookrelay-source-queue`, then the
//! producer's own; one that does not fit is left out. Only a body within 40
//! bytes of the limit can be dead-lettered without its reason (the log
//! line still says why).

use crate::attributes::{
    DLQ_ATTEMPTS, DLQ_ENDPOINT, DLQ_ERROR, DLQ_LAST_STATUS, DLQ_REASON, DLQ_SOURCE_QUEUE,
    OWN_PREFIX,
};
use crate::queue::{MAX_BATCH_BYTES, OutgoingMessage};

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

    /// The message to send to the dead-letter queue: within SQS's limit
    /// (when the body is) and with only characters SQS accepts.
    pub fn message(&self) -> OutgoingMessage {
        self.message_within(MAX_BATCH_BYTES)
    }

    fn message_within(&self, limit: usize) -> OutgoingMessage {
        let attempts = self.attempts.map(|n| n.to_string());
        // Most important first: what does not fit is left out from the end.
        let own: [(&str, Option<String>); 6] = [
            (DLQ_REASON, Some(self.reason.as_str().to_string())),
            (DLQ_ATTEMPTS, attempts),
            (DLQ_ENDPOINT, self.endpoint.map(str::to_string)),
            (DLQ_LAST_STATUS, self.last_status.map(str::to_string)),
            (DLQ_ERROR, Some(truncate(self.error, MAX_ERROR_BYTES))),
            (DLQ_SOURCE_QUEUE, self.source_queue.map(str::to_string)),
        ];
        let kept = self.kept.iter().map(|(k, v)| (*k, Some(v.to_string())));
        let mut msg = OutgoingMessage::new(self.body.to_string());
        let mut room = limit.saturating_sub(self.body.len());
        for (name, value) in own.into_iter().chain(kept) {
            let Some(value) = value.map(|v| clean(&v)).filter(|v| !v.is_empty()) else {
                continue;
            };
            if msg.attributes.len() >= MAX_ATTRIBUTES {
                break;
            }
            // As SQS counts it: name, data type and value.
            let overhead = name.len() + "String".len();
            let value = if overhead + value.len() <= room {
                value
            } else if name == DLQ_ERROR && overhead + MIN_ERROR_BYTES <= room {
                truncate(&value, room - overhead - '…'.len_utf8())
            } else {
                continue;
            };
            room -= overhead + value.len();
            msg = msg.attribute(name, value);
        }
        msg.dedup_id = self.dedup_id.map(str::to_string);
        msg.group_id = Some(self.group_id.to_string());
        msg
    }
}

/// An error shorter than this is left out rather than cut.
const MIN_ERROR_BYTES: usize = 24;

/// What SQS accepts in a message: `#x9 | #xA | #xD | #x20 to #xD7FF |
/// #xE000 to #xFFFD | #x10000 to #x10FFFF`.
pub fn sqs_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `value` with each character SQS refuses replaced by U+FFFD.
pub fn clean(value: &str) -> String {
    if value.chars().all(sqs_allows) {
        return value.to_string();
    }
    value
        .chars()
        .map(|c| {
            if sqs_allows(c) {
                c
            } else {
                char::REPLACEMENT_CHARACTER
            }
        })
        .collect()
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
    fn values_lose_the_characters_sqs_refuses() {
        let m = DeadLetter::new("{}", DeadReason::RetriesExhausted, "bad\u{FFFF}answer\u{0}")
            .endpoint("bad\u{FFFE}name")
            .message();
        assert_eq!(attr(&m, DLQ_ERROR), Some("bad\u{FFFD}answer\u{FFFD}"));
        assert_eq!(attr(&m, DLQ_ENDPOINT), Some("bad\u{FFFD}name"));
        assert!(m.attributes.iter().all(|(_, v)| v.chars().all(sqs_allows)));
        assert_eq!(clean("tab\tnewline\n é 😀"), "tab\tnewline\n é 😀");
    }

    #[test]
    fn a_copy_never_exceeds_the_limit_and_keeps_the_most_important_attributes() {
        let error = "e".repeat(200);
        let full = DeadLetter::new("", DeadReason::RetriesExhausted, &error)
            .last_status("500")
            .attempts(3)
            .endpoint("billing")
            .source_queue("https://sqs.us-east-1.amazonaws.com/123456789012/outbound")
            .keep([("event-type", "order.created")]);
        let attributes = full.message().sqs_size();
        for short in [0, 1, 30, 100, 250, attributes - 1, attributes] {
            let body = "b".repeat(10_000 - attributes + short);
            let letter = DeadLetter {
                body: &body,
                ..full.clone()
            };
            let m = letter.message_within(10_000);
            assert!(m.sqs_size() <= 10_000, "{short}: {}", m.sqs_size());
            assert_eq!(m.body, body, "the body is never cut");
            let names: Vec<&str> = m.attributes.iter().map(|(k, _)| k.as_str()).collect();
            match short {
                0 => assert_eq!(names.len(), 7, "everything fits"),
                // One byte short: one attribute less, and not one of ours
                // before the error.
                1 => {
                    assert_eq!(names.len(), 6, "{names:?}");
                    assert_eq!(names[4], DLQ_ERROR);
                }
                // The room left is less than the reason needs.
                s if s + 38 > attributes => assert!(names.is_empty(), "{names:?}"),
                _ => assert_eq!(
                    names[..3],
                    [DLQ_REASON, DLQ_ATTEMPTS, DLQ_ENDPOINT],
                    "{short}"
                ),
            }
        }
        // Too close to the limit for the reason: the body alone.
        let body = "b".repeat(10_000 - 10);
        let m = DeadLetter {
            body: &body,
            ..full.clone()
        }
        .message_within(10_000);
        assert!(m.attributes.is_empty());
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
