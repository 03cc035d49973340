//! The local event-source poller (`hookrelay_cli::local_esm`) against
//! moto's SQS: it must do what Lambda's SQS event source mapping does, since
//! every local and moto-backed test of the functions relies on it.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use hookrelay_cli::local_esm::{Invoke, Poller};
use hookrelay_test_support::moto;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What the scripted function answers.
enum Answer {
    /// batchItemFailures naming the records whose body is in the list.
    FailBodies(Vec<&'static str>),
    /// batchItemFailures naming a message id that is not in the batch.
    UnknownId,
    /// The invocation itself fails.
    Error,
}

struct Scripted {
    answer: Answer,
    seen: Mutex<Vec<SqsEvent>>,
}

#[async_trait]
impl Invoke for Scripted {
    async fn invoke(&self, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        self.seen.lock().unwrap().push(event.clone());
        let failure = |id: &str| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id.to_string();
            f
        };
        let mut response = SqsBatchResponse::default();
        match &self.answer {
            Answer::FailBodies(bodies) => {
                for r in &event.records {
                    if bodies.contains(&r.body.as_deref().unwrap_or("")) {
                        response
                            .batch_item_failures
                            .push(failure(r.message_id.as_deref().unwrap()));
                    }
                }
            }
            Answer::UnknownId => response
                .batch_item_failures
                .push(failure("not-in-this-batch")),
            Answer::Error => return Err("the function crashed".into()),
        }
        Ok(response)
    }
}

fn scripted(answer: Answer) -> Scripted {
    Scripted {
        answer,
        seen: Mutex::new(vec![]),
    }
}

struct Queue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    poller: Poller,
}

/// A queue with a long visibility timeout (nothing comes back by itself
/// during a test) holding `bodies`, and a poller on it.
async fn queue_with(bodies: &[&str]) -> Queue {
    let sqs = moto::sqs().await;
    let url = moto::create_queue(&sqs, "esm", false, &[("VisibilityTimeout", "300")]).await;
    for b in bodies {
        sqs.send_message()
            .queue_url(&url)
            .message_body(*b)
            .message_attributes(
                "endpoint",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("billing")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let mut poller = Poller::new(sqs.clone(), url.clone()).await.unwrap();
    poller.wait_secs = 0;
    Queue { sqs, url, poller }
}

impl Queue {
    /// (visible, in flight): messages still on the queue.
    async fn counts(&self) -> (u32, u32) {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let a = out.attributes().unwrap();
        let n = |k: QueueAttributeName| a[&k].parse::<u32>().unwrap();
        (
            n(QueueAttributeName::ApproximateNumberOfMessages),
            n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Makes every message the function was given visible again, as the end
    /// of its visibility timeout would (without waiting for it).
    async fn expire_visibility(&self, function: &Scripted) {
        let receipts: Vec<String> = function
            .seen
            .lock()
            .unwrap()
            .iter()
            .flat_map(|e| e.records.iter())
            .filter_map(|r| r.receipt_handle.clone())
            .collect();
        for receipt in receipts {
            // Deleted messages have nothing to make visible: ignore those errors.
            let _ = self
                .sqs
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }

    /// Bodies visible now, with their receive counts (nothing deleted).
    async fn visible(&self) -> BTreeMap<String, String> {
        moto::drain(&self.sqs, &self.url)
            .await
            .into_iter()
            .map(|m| {
                let count = m
                    .attributes()
                    .and_then(|a| {
                        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                    })
                    .cloned()
                    .unwrap_or_default();
                (m.body().unwrap_or("").to_string(), count)
            })
            .collect()
    }
}

#[tokio::test]
async fn deletes_exactly_the_records_not_in_batch_item_failures() {
    let q = queue_with(&["a", "b", "c"]).await;
    let f = scripted(Answer::FailBodies(vec!["b"]));
    let report = q.poller.poll_once(&f).await.unwrap();
    assert_eq!(report.received, 3);
    assert_eq!(report.deleted, 2);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.invoke_error, None);
    // "b" is not deleted: it waits out its visibility timeout.
    assert_eq!(q.counts().await, (0, 1));
    q.expire_visibility(&f).await;
    assert_eq!(
        q.visible().await,
        BTreeMap::from([("b".to_string(), "2".to_string())]),
        "only the failed record comes back, as a second receive"
    );
}

#[tokio::test]
async fn the_function_gets_the_sqs_event_shape() {
    let q = queue_with(&["a"]).await;
    let f = scripted(Answer::FailBodies(vec![]));
    q.poller.poll_once(&f).await.unwrap();
    let seen = f.seen.lock().unwrap();
    let r = &seen[0].records[0];
    assert_eq!(r.body.as_deref(), Some("a"));
    assert_eq!(r.attributes["ApproximateReceiveCount"], "1");
    assert!(r.attributes.contains_key("SentTimestamp"));
    assert_eq!(
        r.message_attributes["endpoint"].string_value.as_deref(),
        Some("billing")
    );
    assert_eq!(r.event_source.as_deref(), Some("aws:sqs"));
    assert!(
        r.event_source_arn
            .as_deref()
            .unwrap()
            .starts_with("arn:aws:sqs:")
    );
    assert_eq!(r.aws_region.as_deref(), Some(moto::REGION));
}

#[tokio::test]
async fn an_invocation_error_deletes_nothing() {
    let q = queue_with(&["a", "b"]).await;
    let f = scripted(Answer::Error);
    let report = q.poller.poll_once(&f).await.unwrap();
    assert_eq!(report.received, 2);
    assert_eq!(report.deleted, 0);
    assert_eq!(report.failed.len(), 2, "the whole batch is left");
    assert!(report.invoke_error.unwrap().contains("crashed"));
    assert_eq!(q.counts().await, (0, 2));
    q.expire_visibility(&f).await;
    assert_eq!(q.visible().await.len(), 2);
}

#[tokio::test]
async fn a_failure_naming_an_unknown_record_fails_the_whole_batch() {
    let q = queue_with(&["a", "b"]).await;
    let f = scripted(Answer::UnknownId);
    let report = q.poller.poll_once(&f).await.unwrap();
    assert_eq!(report.deleted, 0, "Lambda treats it as a failed batch");
    assert_eq!(report.failed.len(), 2);
    assert!(report.invoke_error.unwrap().contains("not in the batch"));
    q.expire_visibility(&f).await;
    assert_eq!(q.visible().await.len(), 2);
}

#[tokio::test]
async fn an_empty_queue_invokes_nothing() {
    let q = queue_with(&[]).await;
    let f = scripted(Answer::Error);
    let report = q.poller.poll_once(&f).await.unwrap();
    assert_eq!(report.received, 0);
    assert!(f.seen.lock().unwrap().is_empty());
}
