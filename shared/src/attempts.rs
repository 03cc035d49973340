//! Real delivery attempts per message.
//!
//! A message's `ApproximateReceiveCount` counts every receive, and not
//! every receive is an attempt: records of an ordered group returned
//! unprocessed behind a failing one, infrastructure retries (Secrets
//! Manager or the state table down), records returned because the
//! invocation's deadline was near, throttled invocations. Used as the
//! attempt number, it would cut an endpoint's schedule short.
//!
//! So the sender counts attempts in the state table, keyed by the SQS
//! message id ([`crate::aws::dynamodb::attempts::DynamoAttempts`]), by
//! these rules:
//!
//! - On a message's first receive the attempt number is 1: nothing can
//!   have been attempted before. No write before it (a first delivery that
//!   succeeds costs nothing); after it fails, [`AttemptLog::count`] records
//!   it. A first receive that makes no attempt records that
//!   ([`AttemptLog::not_attempted`]).
//! - On every later receive the attempt is counted *before* it is made,
//!   and an attempt that cannot be counted is not made (the record is
//!   retried later): no attempt ever goes uncounted, so a schedule never
//!   runs past its end, whatever writes fail.
//! - Each write names its receive number and is conditional on it, so a
//!   write repeated after a lost answer counts once.
//! - When nothing was written for a message at all (its first receive's
//!   write failed, or that invocation never ran to the end), every earlier
//!   receive counts as an attempt: the count can then be high (a schedule
//!   cut short, a throttled first receive counted), never low.
//!
//! A redriven message is a new message (SQS gives it a new id), so it
//! starts a fresh schedule. Items expire with the table's TTL after the
//! queue's longest retention.

use async_trait::async_trait;
use std::time::Duration;

/// How long a count is kept: SQS's longest retention.
pub const KEEP: Duration = Duration::from_secs(14 * 24 * 3600);

#[async_trait]
pub trait AttemptLog: Send + Sync {
    /// Counts an attempt of message `message_id` on its receive number
    /// `receive` (1-based) and returns its number, counting it: the
    /// attempt about to be made (later receives), or the failed one just
    /// made (first receive). Counting the same receive again returns the
    /// same number. `Ok(None)`: not counted here (the caller falls back to
    /// the receive count).
    async fn count(&self, message_id: &str, receive: u32) -> Result<Option<u32>, String>;

    /// Records that receive number `receive` made no attempt. Only the
    /// first receive needs it (later ones are counted before their attempt).
    async fn not_attempted(&self, message_id: &str, receive: u32) -> Result<(), String>;

    /// How many attempts were counted before receive `receive`, for a
    /// record settled without an attempt on it (a dead letter's
    /// `hookrelay-attempts`). `Ok(None)`: not known here.
    async fn made(&self, message_id: &str, receive: u32) -> Result<Option<u32>, String>;
}

/// No state table: the receive count is the only count there is.
pub struct ReceiveCountOnly;

#[async_trait]
impl AttemptLog for ReceiveCountOnly {
    async fn count(&self, _: &str, _: u32) -> Result<Option<u32>, String> {
        Ok(None)
    }

    async fn not_attempted(&self, _: &str, _: u32) -> Result<(), String> {
        Ok(())
    }

    async fn made(&self, _: &str, _: u32) -> Result<Option<u32>, String> {
        Ok(None)
    }
}
