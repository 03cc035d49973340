//! Real delivery attempts per message.
//!
//! A message's `ApproximateReceiveCount` counts every receive, and not
//! every receive is an attempt: records of an ordered group returned
//! unprocessed behind a failing one, infrastructure retries (Secrets
//! Manager or the state table down), throttled or crashed invocations.
//! Used as the attempt number, it would cut an endpoint's schedule short.
//!
//! [`AttemptLog::failed`] counts attempts where they happen, on the failure
//! path only (a success needs no count): one atomic `ADD` per failed
//! attempt in the state table, keyed by the SQS message id. A redriven
//! message is a new message (SQS gives it a new id), so it starts a fresh
//! schedule. Items expire with the table's TTL after the queue's longest
//! retention.
//!
//! | pk                 | sk         | what                                    |
//! |--------------------|------------|-----------------------------------------|
//! | `message#<id>`     | `attempts` | `attempts` (number), `expires_at`       |

use crate::clock::Clock;
use crate::state_table::{StateTable, TTL_ATTRIBUTE};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::sync::Arc;
use std::time::Duration;

/// How long a count is kept: SQS's longest retention.
pub const KEEP: Duration = Duration::from_secs(14 * 24 * 3600);

#[async_trait]
pub trait AttemptLog: Send + Sync {
    /// Records one more failed attempt of message `message_id` and returns
    /// how many it has had, this one included. `Ok(None)`: not counted
    /// here (the caller falls back to the receive count).
    async fn failed(&self, message_id: &str) -> Result<Option<u32>, String>;
}

/// No state table: the receive count is the only count there is.
pub struct ReceiveCountOnly;

#[async_trait]
impl AttemptLog for ReceiveCountOnly {
    async fn failed(&self, _: &str) -> Result<Option<u32>, String> {
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
}

#[async_trait]
impl AttemptLog for DynamoAttempts {
    async fn failed(&self, message_id: &str) -> Result<Option<u32>, String> {
        let expires = self.clock.now() + KEEP;
        let out = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", AttributeValue::S(format!("message#{message_id}")))
            .key("sk", AttributeValue::S("attempts".into()))
            .update_expression("SET #ttl = :expires ADD attempts :one")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N(expires.unix_timestamp().to_string()),
            )
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(&e).to_string())?;
        let count = out
            .attributes()
            .and_then(|a| a.get("attempts"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or("the attempt count came back without a number")?;
        Ok(Some(count))
    }
}
