//! [`AttemptLog`] in the state table: one item per outbound message.
//!
//! | pk                 | sk         | what                                              |
//! |--------------------|------------|---------------------------------------------------|
//! | `message#<id>`     | `attempts` | `attempts`, `receive` (the last receive counted), `expires_at` |
//!
//! The rules the counts follow are in [`crate::attempts`].

use super::state_table::{StateTable, TTL_ATTRIBUTE};
use crate::attempts::{AttemptLog, KEEP};
use crate::clock::Clock;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::sync::Arc;

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
