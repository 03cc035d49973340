//! A local stand-in for Lambda's SQS event source mapping, for `make dev`
//! (`hookrelay dev up`) and the tests (moto has no event source mappings).
//!
//! It does what the mapping does in AWS: long-polls a queue, invokes a
//! function with the batch in the real SQS event shape (system attributes
//! such as `ApproximateReceiveCount`, message attributes, ARN, region),
//! deletes exactly the records not listed in `batchItemFailures`, and leaves
//! the rest to their visibility timeout. An invocation error, or a failure
//! naming a message that is not in the batch, fails the whole batch, as
//! Lambda does.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use std::collections::HashSet;

/// How the poller reaches the function.
#[async_trait]
pub trait Invoke: Send + Sync {
    async fn invoke(&self, event: SqsEvent) -> Result<SqsBatchResponse, String>;
}

/// Invokes a function through a Lambda runtime API's Invoke endpoint, e.g.
/// `cargo lambda watch` at `http://127.0.0.1:9000`.
pub struct HttpInvoker {
    client: reqwest::Client,
    url: String,
}

impl HttpInvoker {
    pub fn new(runtime_api: &str, function: &str) -> Self {
        hookrelay_shared::aws::install_crypto_provider();
        Self {
            client: reqwest::Client::new(),
            url: format!(
                "{}/2015-03-31/functions/{function}/invocations",
                runtime_api.trim_end_matches('/')
            ),
        }
    }
}

#[async_trait]
impl Invoke for HttpInvoker {
    async fn invoke(&self, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        let body = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("invoke failed: {e}"))?;
        let function_error = resp.headers().contains_key("x-amz-function-error");
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        if function_error || !status.is_success() {
            return Err(format!("function error ({status}): {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("unexpected response {text:?}: {e}"))
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub received: usize,
    pub deleted: usize,
    /// Message ids left for a retry.
    pub failed: Vec<String>,
    /// The invocation itself failed (whole batch left).
    pub invoke_error: Option<String>,
}

pub struct Poller {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    region: String,
    pub batch_size: i32,
    pub wait_secs: i32,
}

impl Poller {
    pub async fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
    ) -> Result<Self, String> {
        let queue_url = queue_url.into();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot read {queue_url}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        let region = queue_arn
            .split(':')
            .nth(3)
            .unwrap_or("us-east-1")
            .to_string();
        Ok(Self {
            sqs,
            queue_url,
            queue_arn,
            region,
            batch_size: 10,
            wait_secs: 1,
        })
    }

    /// One receive, invoke, delete cycle. An empty receive invokes nothing.
    pub async fn poll_once(&self, function: &dyn Invoke) -> Result<PollReport, String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(self.wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| {
                format!(
                    "receive failed: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        let messages = out.messages.unwrap_or_default();
        let mut report = PollReport {
            received: messages.len(),
            ..PollReport::default()
        };
        if messages.is_empty() {
            return Ok(report);
        }
        let mut event = SqsEvent::default();
        event.records = messages.iter().map(|m| self.record(m)).collect();
        let ids: HashSet<&str> = messages.iter().filter_map(|m| m.message_id()).collect();
        let response = match function.invoke(event).await {
            Ok(r) => r,
            Err(e) => {
                report.failed = ids.iter().map(|s| s.to_string()).collect();
                report.invoke_error = Some(e);
                return Ok(report);
            }
        };
        let failed: HashSet<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        if failed.iter().any(|f| !ids.contains(f)) {
            report.failed = ids.iter().map(|s| s.to_string()).collect();
            report.invoke_error =
                Some("batchItemFailures names a message that is not in the batch".into());
            return Ok(report);
        }
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.contains(m.message_id().unwrap_or_default()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        report.failed = failed.iter().map(|s| s.to_string()).collect();
        report.failed.sort();
        if !entries.is_empty() {
            let n = entries.len();
            let del = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "delete failed: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    )
                })?;
            report.deleted = n - del.failed.len();
        }
        Ok(report)
    }

    /// An SQS message as Lambda's event source mapping presents it.
    fn record(&self, m: &Message) -> SqsMessage {
        let mut r = SqsMessage::default();
        r.message_id = m.message_id.clone();
        r.receipt_handle = m.receipt_handle.clone();
        r.body = m.body.clone();
        r.md5_of_body = m.md5_of_body.clone();
        r.md5_of_message_attributes = m.md5_of_message_attributes.clone();
        r.attributes = m
            .attributes()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        r.message_attributes = m
            .message_attributes()
            .map(|attrs| {
                attrs
                    .iter()
                    .map(|(k, v)| {
                        let mut a = SqsMessageAttribute::default();
                        a.string_value = v.string_value.clone();
                        a.data_type = Some(v.data_type.clone());
                        (k.clone(), a)
                    })
                    .collect()
            })
            .unwrap_or_default();
        r.event_source = Some("aws:sqs".into());
        r.event_source_arn = Some(self.queue_arn.clone());
        r.aws_region = Some(self.region.clone());
        r
    }
}
