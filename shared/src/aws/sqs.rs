//! The SQS adapter of the [`Queue`] and [`MessageControl`] ports.
//!
//! FIFO queues are recognised by their `.fifo` URL suffix: messages then
//! carry a group id and the message's own id as the deduplication id, so a
//! platform's retry of the same delivery is not enqueued twice.

use crate::queue::{MAX_BATCH, MessageControl, OutgoingMessage, Queue, QueueError};
use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    SendMessageBatchRequestEntry,
};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    fifo: bool,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        let url = url.into();
        let fifo = url.ends_with(".fifo");
        Self { client, url, fifo }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    fn fifo_ids(&self, msg: &OutgoingMessage) -> (Option<String>, Option<String>) {
        if !self.fifo {
            return (None, None);
        }
        let group = msg.group_id.clone().unwrap_or_else(|| "default".into());
        (
            Some(sanitize_fifo_id(&group)),
            msg.dedup_id.as_deref().map(sanitize_fifo_id),
        )
    }
}

/// The `AWSTraceHeader` system attribute of a message that carries a trace.
fn system_attributes(
    msg: &OutgoingMessage,
) -> Result<
    Option<
        std::collections::HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>,
    >,
    QueueError,
> {
    let Some(header) = &msg.trace_header else {
        return Ok(None);
    };
    let value = MessageSystemAttributeValue::builder()
        .data_type("String")
        .string_value(header)
        .build()
        .map_err(|e| QueueError::Rejected(e.to_string()))?;
    Ok(Some(std::collections::HashMap::from([(
        MessageSystemAttributeNameForSends::AwsTraceHeader,
        value,
    )])))
}

fn attributes(
    msg: &OutgoingMessage,
) -> Result<std::collections::HashMap<String, MessageAttributeValue>, QueueError> {
    msg.attributes
        .iter()
        .map(|(k, v)| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map(|a| (k.clone(), a))
                .map_err(|e| QueueError::Rejected(e.to_string()))
        })
        .collect()
}

/// SQS accepts up to 128 characters of alphanumerics and punctuation in
/// group and deduplication ids; anything else is replaced by its SHA-256.
pub fn sanitize_fifo_id(id: &str) -> String {
    if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) {
        id.to_string()
    } else {
        hex::encode(Sha256::digest(id.as_bytes()))
    }
}

/// Client-side faults SQS reports for one message: resending will not help.
fn is_rejection(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "InvalidParameterValue"
                | "InvalidMessageContents"
                | "InvalidAttributeName"
                | "InvalidAttributeValue"
                | "BatchRequestTooLong"
                | "MessageTooLong"
                | "AWS.SimpleQueueService.BatchRequestTooLong"
        )
    )
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_sqs::error::SdkError<E, R>,
) -> QueueError {
    let code = e.code().map(str::to_string);
    let text = DisplayErrorContext(&e).to_string();
    if is_rejection(code.as_deref()) {
        QueueError::Rejected(text)
    } else {
        QueueError::Unavailable(text)
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        let (group, dedup) = self.fifo_ids(&msg);
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&msg.body)
            .set_message_attributes(Some(attributes(&msg)?).filter(|a| !a.is_empty()))
            .set_message_system_attributes(system_attributes(&msg)?)
            .set_message_group_id(group)
            .set_message_deduplication_id(dedup)
            .set_delay_seconds(msg.delay_secs.filter(|_| !self.fifo))
            .send()
            .await
            .map_err(classify)?;
        Ok(out.message_id.unwrap_or_default())
    }

    async fn send_batch(
        &self,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<Result<String, QueueError>>, QueueError> {
        assert!(
            msgs.len() <= MAX_BATCH,
            "send_batch takes at most {MAX_BATCH} messages"
        );
        if msgs.is_empty() {
            return Ok(vec![]);
        }
        let mut entries = Vec::with_capacity(msgs.len());
        for (i, msg) in msgs.iter().enumerate() {
            let (group, dedup) = self.fifo_ids(msg);
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&msg.body)
                    .set_message_attributes(Some(attributes(msg)?).filter(|a| !a.is_empty()))
                    .set_message_system_attributes(system_attributes(msg)?)
                    .set_message_group_id(group)
                    .set_message_deduplication_id(dedup)
                    .set_delay_seconds(msg.delay_secs.filter(|_| !self.fifo))
                    .build()
                    .map_err(|e| QueueError::Rejected(e.to_string()))?,
            );
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(classify)?;
        let mut results: Vec<Result<String, QueueError>> =
            vec![Err(QueueError::Unavailable("no result for this entry".into())); msgs.len()];
        for ok in out.successful {
            if let Ok(i) = ok.id.parse::<usize>()
                && let Some(slot) = results.get_mut(i)
            {
                *slot = Ok(ok.message_id);
            }
        }
        for failed in out.failed {
            if let Ok(i) = failed.id.parse::<usize>()
                && let Some(slot) = results.get_mut(i)
            {
                let text = format!("{}: {}", failed.code, failed.message.unwrap_or_default());
                *slot = Err(if failed.sender_fault && is_rejection(Some(&failed.code)) {
                    QueueError::Rejected(text)
                } else {
                    QueueError::Unavailable(text)
                });
            }
        }
        Ok(results)
    }
}

#[async_trait]
impl MessageControl for SqsQueue {
    async fn change_visibility(
        &self,
        receipt_handle: &str,
        seconds: i32,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_ids_are_kept_when_valid_and_hashed_otherwise() {
        assert_eq!(sanitize_fifo_id("msg_2Lp4-x.y"), "msg_2Lp4-x.y");
        let long = "a".repeat(129);
        assert_eq!(sanitize_fifo_id(&long).len(), 64);
        assert_eq!(sanitize_fifo_id("with space").len(), 64);
        assert_eq!(sanitize_fifo_id("é").len(), 64);
    }
}
