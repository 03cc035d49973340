//! The SNS adapter of the [`Notifier`] port: disable notices on the notice
//! topic.

use crate::health::{Disabled, Notifier, disable_notice};
use async_trait::async_trait;

/// Publishes disable notices to an SNS topic (subscribe an e-mail address,
/// a chat webhook or a queue to it).
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

#[async_trait]
impl Notifier for SnsNotifier {
    async fn endpoint_disabled(&self, endpoint: &str, d: &Disabled) -> Result<(), String> {
        let (subject, message) = disable_notice(endpoint, d);
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .message_attributes(
                "endpoint",
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(endpoint)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(&e).to_string())?;
        Ok(())
    }
}
