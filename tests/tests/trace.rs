//! X-Ray traces across SQS: the queue adapter carries a message's trace
//! header as the `AWSTraceHeader` system attribute, one message at a time
//! (moto keeps it: read back) and in batches (moto drops it there: the
//! request the SDK sent is read instead).

use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::queue::{OutgoingMessage, Queue};
use hookrelay_test_support::capture::Captured;
use hookrelay_test_support::moto;

const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

#[tokio::test]
async fn a_message_carries_its_trace_header_as_the_aws_trace_header_attribute() {
    let sqs = moto::sqs().await;
    let url = moto::create_queue(&sqs, "traced", false, &[]).await;
    let q = SqsQueue::new(sqs.clone(), url.clone());
    q.send(OutgoingMessage::new("{}".into()).trace(Some(TRACE)))
        .await
        .unwrap();
    q.send(OutgoingMessage::new("{}".into()).trace(None))
        .await
        .unwrap();
    let got = moto::drain(&sqs, &url).await;
    assert_eq!(got.len(), 2);
    let headers: Vec<Option<&str>> = got
        .iter()
        .map(|m| {
            m.attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader)
                })
                .map(String::as_str)
        })
        .collect();
    assert!(headers.contains(&Some(TRACE)), "{headers:?}");
    assert!(headers.contains(&None), "no header, no attribute");
}

#[tokio::test]
async fn batched_messages_carry_their_trace_headers_too() {
    let captured = Captured::new("SendMessageBatch");
    let sqs = moto::sqs_capturing(&captured).await;
    let url = moto::create_queue(&sqs, "traced", false, &[]).await;
    let q = SqsQueue::new(sqs, url);
    let results = q
        .send_batch(vec![
            OutgoingMessage::new("{}".into()).trace(Some(TRACE)),
            OutgoingMessage::new("{}".into()),
        ])
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok));
    let bodies = captured.bodies();
    assert_eq!(bodies.len(), 1);
    let request: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    let entries = request["Entries"].as_array().unwrap();
    assert_eq!(
        entries[0]["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"],
        TRACE
    );
    assert!(entries[1].get("MessageSystemAttributes").is_none());
}
