//! Driving the sender with exactly the batch a test wants: receive until
//! every expected message is in hand, hand them to the handler as one SQS
//! event (the shape Lambda's event source mapping uses), then settle the
//! batch as the mapping would. The poller takes whatever one receive
//! returns, which makes assertions about batches depend on luck.

#![allow(dead_code)]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use std::time::{Duration, Instant};

/// Receives until `want` messages are in hand (each stays invisible for
/// `hold_secs`), in the order SQS returned them.
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    want: usize,
    hold_secs: i32,
) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut all: Vec<Message> = Vec::new();
    while all.len() < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} messages arrived",
            all.len()
        );
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(hold_secs)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive");
        all.extend(out.messages.unwrap_or_default());
    }
    all
}

/// The SQS event Lambda would deliver for these messages.
pub fn event(messages: &[Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut r = SqsMessage::default();
            r.message_id = m.message_id.clone();
            r.receipt_handle = m.receipt_handle.clone();
            r.body = m.body.clone();
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
            r
        })
        .collect();
    event
}

/// Ids the handler reported as failed.
pub fn failed(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

/// Deletes what the handler let go; makes what it reported as failed
/// visible again at once (the test's stand-in for waiting out the delay).
pub async fn settle(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    messages: &[Message],
    response: &SqsBatchResponse,
) {
    let failed = failed(response);
    for m in messages {
        let receipt = m.receipt_handle().expect("receipt");
        if failed.iter().any(|f| Some(f.as_str()) == m.message_id()) {
            sqs.change_message_visibility()
                .queue_url(url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .expect("visible again");
        } else {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(receipt)
                .send()
                .await
                .expect("delete");
        }
    }
}
