//! Operations: the metrics the sender writes (CloudWatch's embedded metric
//! format, checked against the specification) while it delivers, retries
//! and dead-letters, against moto and a local endpoint.

mod common;

use common::World;
use hookrelay_test_support::emf_spec::{self, Extracted, total};
use hookrelay_test_support::endpoint::{Reply, TestEndpoint};
use std::time::Duration;

fn metrics(w: &World) -> Vec<Extracted> {
    let lines = w.metrics.take();
    emf_spec::validate_log(&lines.join("\n")).unwrap()
}

#[tokio::test]
async fn deliveries_retries_and_dead_letters_are_counted_and_only_opted_in_endpoints_get_their_own()
{
    let w = World::new().await;
    let flaky = TestEndpoint::start().await;
    flaky.script([Reply::status(500), Reply::status(503)]);
    let down = TestEndpoint::start().await;
    down.set_default(Reply::status(404));
    w.add_endpoint(
        "flaky",
        &format!(
            r#"{{"url":"{}","allow_http":true,"metrics":true,"retry":{{"delays":["1s","1s"],"jitter":0}}}}"#,
            flaky.url()
        ),
    )
    .await;
    w.add_endpoint(
        "down",
        &format!(
            r#"{{"url":"{}","allow_http":true,"retry":{{"delays":["1s"],"jitter":0}}}}"#,
            down.url()
        ),
    )
    .await;
    w.publish("flaky", "order.created", r#"{"n":1}"#).await;
    w.publish("down", "order.created", r#"{"n":2}"#).await;
    let mut all = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(w.outbound_empty().await && flaky.requests().len() == 3 && down.requests().len() == 2)
        && std::time::Instant::now() < deadline
    {
        w.poll_until_received(Duration::from_secs(3)).await;
        all.extend(metrics(&w));
    }
    all.extend(metrics(&w));
    assert_eq!(flaky.requests().len(), 3);
    assert_eq!(down.requests().len(), 2);

    // In total: one delivered, four failed attempts (two 5xx, two 4xx),
    // three retries, one dead letter.
    assert_eq!(total(&all, "Delivered", &[]), 1.0);
    assert_eq!(total(&all, "DeliveryFailed", &[]), 4.0);
    assert_eq!(total(&all, "DeliveryFailed", &[("Class", "5xx")]), 2.0);
    assert_eq!(total(&all, "DeliveryFailed", &[("Class", "4xx")]), 2.0);
    assert_eq!(total(&all, "Retried", &[]), 3.0);
    assert_eq!(
        total(&all, "DeadLettered", &[("Reason", "retries-exhausted")]),
        1.0
    );
    let answers: usize = all
        .iter()
        .filter(|m| m.name == "AnswerTime" && m.dimensions.is_empty())
        .map(|m| m.values.len())
        .sum();
    assert_eq!(answers, 5, "one answer time per attempt");
    let ages: Vec<f64> = all
        .iter()
        .filter(|m| m.name == "JobAge" && m.dimensions.is_empty())
        .flat_map(|m| m.values.clone())
        .collect();
    assert_eq!(ages.len(), 1, "one delivered job");
    assert!(ages[0] > 0.0, "created_at is in the past");
    assert!(all.iter().all(|m| m.unit.as_deref().is_some()));

    // The endpoint that opted in has its own; the other none.
    assert_eq!(total(&all, "Delivered", &[("Endpoint", "flaky")]), 1.0);
    assert_eq!(total(&all, "DeliveryFailed", &[("Endpoint", "flaky")]), 2.0);
    assert_eq!(total(&all, "Retried", &[("Endpoint", "flaky")]), 2.0);
    assert!(
        all.iter().all(|m| m.dimension("Endpoint") != Some("down")),
        "an endpoint without \"metrics\": true costs no metric of its own"
    );
}

#[tokio::test]
async fn failed_attempts_and_dead_letters_are_published_as_typed_events_when_asked() {
    let sns = hookrelay_test_support::moto::sns().await;
    let sqs = hookrelay_test_support::moto::sqs().await;
    let (topic, stream) = hookrelay_test_support::moto::topic_with_queue(&sns, &sqs).await;
    let w = World::with(common::Options {
        notifier: std::sync::Arc::new(hookrelay_shared::aws::sns::SnsNotifier::new(sns, topic)),
        settings: Some(|s| s.attempt_failed_events = true),
        ..common::Options::default()
    })
    .await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(503));
    w.add_endpoint(
        "down",
        &format!(
            r#"{{"url":"{}","allow_http":true,"retry":{{"delays":["1s"],"jitter":0}}}}"#,
            ep.url()
        ),
    )
    .await;
    let job = w.publish("down", "order.created", r#"{"n":1}"#).await;
    for _ in 0..2 {
        w.poll_until_received(Duration::from_secs(5)).await;
    }
    assert_eq!(ep.requests().len(), 2);
    assert_eq!(w.dead_letters().await.len(), 1);

    let events: Vec<serde_json::Value> = hookrelay_test_support::moto::drain(&sqs, &stream)
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    let failed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "attempt.failed")
        .collect();
    assert_eq!(failed.len(), 2, "{events:?}");
    assert_eq!(failed[0]["job_id"], job);
    assert_eq!(failed[0]["status"], "503");
    assert_eq!(failed[0]["class"], "5xx");
    let mut by_attempt: Vec<(u64, Option<u64>)> = failed
        .iter()
        .map(|e| {
            (
                e["attempt"].as_u64().unwrap(),
                e["next_attempt_in_secs"].as_u64(),
            )
        })
        .collect();
    by_attempt.sort();
    assert_eq!(
        by_attempt,
        vec![(1, Some(1)), (2, None)],
        "the last attempt has no next one"
    );
    let dead: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "message.dead_lettered")
        .collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["job_id"], job);
    assert_eq!(dead[0]["reason"], "retries-exhausted");
    assert_eq!(dead[0]["attempts"], 2);
    assert!(events.iter().all(|e| e["version"] == 1));
}

#[tokio::test]
async fn attempt_failed_is_not_published_unless_asked() {
    let sns = hookrelay_test_support::moto::sns().await;
    let sqs = hookrelay_test_support::moto::sqs().await;
    let (topic, stream) = hookrelay_test_support::moto::topic_with_queue(&sns, &sqs).await;
    let w = World::with(common::Options {
        notifier: std::sync::Arc::new(hookrelay_shared::aws::sns::SnsNotifier::new(sns, topic)),
        ..common::Options::default()
    })
    .await;
    let ep = TestEndpoint::start().await;
    ep.script([Reply::status(500)]);
    w.add_endpoint(
        "once",
        &format!(
            r#"{{"url":"{}","allow_http":true,"retry":{{"delays":["1s"],"jitter":0}}}}"#,
            ep.url()
        ),
    )
    .await;
    w.publish("once", "t", "{}").await;
    for _ in 0..2 {
        w.poll_until_received(Duration::from_secs(5)).await;
    }
    assert_eq!(ep.requests().len(), 2, "failed, then delivered");
    assert!(
        hookrelay_test_support::moto::drain(&sqs, &stream)
            .await
            .is_empty()
    );
}
