//! The SQS message attributes hookrelay writes and reads, named in one
//! place: on envelopes and events (`source`, `event-type`), on delivery
//! jobs (`endpoint`, `event-type`, and `hookrelay-replay-seq` on replayed
//! ones) and on dead letters (`hookrelay-reason` and the rest).
//!
//! SQS allows letters, digits, `-`, `_` and `.` in attribute names. Names
//! starting with `hookrelay-` are hookrelay's own: a dead letter keeps a
//! producer's other attributes, never an earlier `hookrelay-*` one.

/// The receiver source an envelope or a relayed event came from.
pub const SOURCE: &str = "source";
/// The event type of an envelope, an event or a job.
pub const EVENT_TYPE: &str = "event-type";
/// The endpoint a delivery job is for.
pub const ENDPOINT: &str = "endpoint";

/// Prefix of hookrelay's own attributes.
pub const OWN_PREFIX: &str = "hookrelay-";

/// On replayed jobs: their position in the replay, so the sender delivers
/// them one after the other, in that order.
pub const REPLAY_SEQ: &str = "hookrelay-replay-seq";

/// On dead letters: why the message is there (`retries-exhausted`, `gone`,
/// `unknown-endpoint`, `invalid-job`, `cannot-sign`, `endpoint-disabled`,
/// `invalid-event`).
pub const DLQ_REASON: &str = "hookrelay-reason";
/// The last attempt's HTTP status, or what happened instead (`timeout`,
/// `config-invalid`, `-` when nothing was attempted).
pub const DLQ_LAST_STATUS: &str = "hookrelay-last-status";
/// How many delivery attempts the job had.
pub const DLQ_ATTEMPTS: &str = "hookrelay-attempts";
/// The endpoint the job was for.
pub const DLQ_ENDPOINT: &str = "hookrelay-endpoint";
/// What went wrong, in a few words (at most a few hundred bytes).
pub const DLQ_ERROR: &str = "hookrelay-error";
/// The queue the message came from, for redrive.
pub const DLQ_SOURCE_QUEUE: &str = "hookrelay-source-queue";
