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
//! message id, by these rules:
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
//!
//! | pk                 | sk         | what                                              |
//! |--------------------|------------|---------------------------------------------------|
//! | `message#<id>`     | `attempts` | `attempts`, `receive` (the last receive counted), `expires_at` |

use crate::clock::Clock;
use crate::state_table::{StateTable, TTL_ATTRIBUTE};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::sync::Arc;
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

/// Counts in the state table.
pub struct DynamoAttempts {
    table: StateTable,
    clock: Arc<dyn Clock>,
}

impl DynamoAttempts {
    pub fn new(table: StateTable, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }

    fn key(message_id: &str) -> [(&'static str, AttributeValue); 2] {
        [
            ("pk", AttributeValue::S(format!("message#{message_id}"))),
            ("sk", AttributeValue::S("attempts".into())),
        ]
    }

    fn expires(&self) -> AttributeValue {
        AttributeValue::N((self.clock.now() + KEEP).unix_timestamp().to_string())
    }

    /// The stored count (consistent read); `None` when nothing was written.
    async fn stored(&self, message_id: &str) -> Result<Option<u32>, String> {
        let [pk, sk] = Self::key(message_id);
        let out = self
            .table
            .client()
            .get_item()
            .table_name(self.table.name())
            .key(pk.0, pk.1)
            .key(sk.0, sk.1)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        Ok(out.item().and_then(|i| i.get("attempts")).and_then(number))
    }
}

fn number(v: &AttributeValue) -> Option<u32> {
    v.as_n().ok().and_then(|n| n.parse::<u32>().ok())
}

#[async_trait]
impl AttemptLog for DynamoAttempts {
    async fn count(&self, message_id: &str, receive: u32) -> Result<Option<u32>, String> {
        let [pk, sk] = Self::key(message_id);
        // Nothing stored yet: every earlier receive may have been an
        // attempt whose count was lost, so they all count.
        let before = receive.saturating_sub(1);
        let out = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key(pk.0, pk.1)
            .key(sk.0, sk.1)
            .update_expression(
                "SET attempts = if_not_exists(attempts, :before) + :one, #receive = :receive, #ttl = :expires",
            )
            // Once per receive: a repeat (after a lost answer) changes nothing.
            .condition_expression("attribute_not_exists(#receive) OR #receive < :receive")
            .expression_attribute_names("#receive", "receive")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":before", AttributeValue::N(before.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":receive", AttributeValue::N(receive.to_string()))
            .expression_attribute_values(":expires", self.expires())
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match out {
            Ok(out) => out
                .attributes()
                .and_then(|a| a.get("attempts"))
                .and_then(number)
                .map(Some)
                .ok_or_else(|| "the attempt count came back without a number".to_string()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                // This receive was counted already.
                self.stored(message_id).await
            }
            Err(e) => Err(DisplayErrorContext(&e).to_string()),
        }
    }

    async fn not_attempted(&self, message_id: &str, receive: u32) -> Result<(), String> {
        if receive != 1 {
            return Ok(());
        }
        let [pk, sk] = Self::key(message_id);
        let out = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key(pk.0, pk.1)
            .key(sk.0, sk.1)
            .update_expression("SET attempts = :zero, #receive = :receive, #ttl = :expires")
            .condition_expression("attribute_not_exists(#receive)")
            .expression_attribute_names("#receive", "receive")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":receive", AttributeValue::N(receive.to_string()))
            .expression_attribute_values(":expires", self.expires())
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(DisplayErrorContext(&e).to_string()),
        }
    }

    async fn made(&self, message_id: &str, receive: u32) -> Result<Option<u32>, String> {
        if receive <= 1 {
            return Ok(Some(0));
        }
        self.stored(message_id).await
    }
}
