//! The SNS adapter of the [`Notifier`] port: operational events on the
//! notice topic.

use crate::health::Notifier;
use crate::ops_event::OpsEvent;
use async_trait::async_trait;

/// Publishes operational events to an SNS topic (subscribe an e-mail
/// address, a chat webhook or a queue to it).
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// Publishes operational events ([`crate::ops_event`]) on the notice
/// topic: the JSON event as the message, a subject for e-mail subscribers,
/// and message attributes subscription filter policies can match: `type`,
/// and `endpoint` or `source`.
#[async_trait]
impl Notifier for SnsNotifier {
    async fn publish(&self, event: &OpsEvent) -> Result<(), String> {
        let attribute = |value: &str| {
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| e.to_string())
        };
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(event.subject())
            .message(event.to_json())
            .message_attributes("type", attribute(event.event_type())?);
        if let Some((name, value)) = event.subject_name() {
            publish = publish.message_attributes(name, attribute(value)?);
        }
        publish
            .send()
            .await
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(&e).to_string())?;
        Ok(())
    }
}
