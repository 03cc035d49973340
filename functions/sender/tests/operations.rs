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
