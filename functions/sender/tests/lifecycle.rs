//! Endpoint lifecycle against moto (SQS, Secrets Manager, DynamoDB, SNS)
//! with a controllable clock: the auto-disable rules at their thresholds,
//! the SNS notice, parking while disabled and replay in order on enable.

mod common;

use common::{Options, World, attr};
use hookrelay_shared::clock::{Clock, ManualClock};
use hookrelay_shared::health::{EndpointHealth, Outcome, RateRule, Rules, Trigger};
use hookrelay_shared::health_store::{DynamoHealth, SnsNotifier, enable_and_replay};
use hookrelay_shared::queue::SqsQueue;
use hookrelay_shared::state_table::StateTable;
use hookrelay_test_support::endpoint::{Reply, TestEndpoint};
use hookrelay_test_support::moto;
use std::sync::Arc;
use std::time::Duration;

const DAY: u64 = 86_400;

async fn table() -> StateTable {
    let ddb = moto::dynamodb().await;
    let name = moto::create_state_table(&ddb).await;
    StateTable::new(ddb, name)
}

fn health(table: &StateTable, clock: Arc<ManualClock>) -> DynamoHealth {
    DynamoHealth::new(table.clone(), clock).with_cache_ttl(Duration::ZERO)
}

#[tokio::test]
async fn the_failure_rate_rule_fires_at_its_threshold_and_not_before() {
    let t = table().await;
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    let h = health(&t, clock.clone());
    let rules = Rules {
        consecutive: None,
        rate: Some(RateRule {
            min_attempts: 50,
            threshold: 0.95,
            window_hours: 24,
        }),
    };
    // 3 successes among the first attempts (after a failure, so they count).
    h.record("ep", Outcome::Failure, "500", &rules)
        .await
        .unwrap();
    for _ in 0..3 {
        h.record("ep", Outcome::Success, "200", &rules)
            .await
            .unwrap();
    }
    for i in 0..55 {
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            h.record("ep", Outcome::Failure, "500", &rules)
                .await
                .unwrap(),
            None,
            "failure {i}"
        );
    }
    // 57 of 60 failed = 95%.
    let disabled = h
        .record("ep", Outcome::Failure, "503", &rules)
        .await
        .unwrap()
        .expect("disabled at 95%");
    assert_eq!(disabled.trigger, Trigger::FailureRate);
    assert_eq!(
        h.record("ep", Outcome::Failure, "500", &rules)
            .await
            .unwrap(),
        None,
        "announced once"
    );
    let (state, _) = t.load("ep").await.unwrap();
    assert!(state.is_disabled());
    assert_eq!(state.last_status.as_deref(), Some("503"));
}

#[tokio::test]
async fn five_days_of_failures_disable_and_a_success_resets_the_window() {
    let t = table().await;
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    let h = health(&t, clock.clone());
    let rules = Rules {
        rate: None,
        ..Rules::default()
    };
    h.record("ep", Outcome::Failure, "500", &rules)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(4 * DAY));
    h.record("ep", Outcome::Success, "200", &rules)
        .await
        .unwrap();
    // The success reset the window: 5 days from the next failure.
    h.record("ep", Outcome::Failure, "500", &rules)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(5 * DAY - 1));
    assert_eq!(
        h.record("ep", Outcome::Failure, "500", &rules)
            .await
            .unwrap(),
        None,
        "4 days 23:59:59"
    );
    clock.advance(Duration::from_secs(1));
    let d = h
        .record("ep", Outcome::Failure, "500", &rules)
        .await
        .unwrap()
        .expect("5 days");
    assert_eq!(d.trigger, Trigger::ConsecutiveFailures);
    assert_eq!(d.at, clock.now());
}

#[tokio::test]
async fn healthy_successes_cost_no_write() {
    let t = table().await;
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    let h = DynamoHealth::new(t.clone(), clock.clone());
    h.record("ep", Outcome::Success, "200", &Rules::default())
        .await
        .unwrap();
    let (_, rev) = t.load("ep").await.unwrap();
    for _ in 0..5 {
        clock.advance(Duration::from_secs(1));
        h.record("ep", Outcome::Success, "200", &Rules::default())
            .await
            .unwrap();
    }
    assert_eq!(
        t.load("ep").await.unwrap().1,
        rev,
        "no write for successes that change nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_lose_no_transition() {
    let t = table().await;
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    let h = Arc::new(health(&t, clock));
    let rules = Rules {
        consecutive: None,
        rate: Some(RateRule {
            min_attempts: 12,
            threshold: 1.0,
            window_hours: 24,
        }),
    };
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let h = Arc::clone(&h);
            tokio::spawn(async move {
                h.record("ep", Outcome::Failure, "500", &rules)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut disables = 0;
    for task in tasks {
        disables += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(disables, 1, "exactly one sender sees the transition");
    let (state, _) = t.load("ep").await.unwrap();
    assert_eq!(
        state.window(
            hookrelay_shared::clock::ManualClock::at_unix(1_800_000_000).now(),
            24
        ),
        (12, 12)
    );
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_publishes_a_notice() {
    let t = table().await;
    let sns = moto::sns().await;
    let sqs = moto::sqs().await;
    let (topic, notices) = moto::topic_with_queue(&sns, &sqs).await;
    let w = World::with(Options {
        health: Arc::new(DynamoHealth::new(
            t.clone(),
            Arc::new(hookrelay_shared::clock::SystemClock),
        )),
        notifier: Arc::new(SnsNotifier::new(sns, topic)),
        ..Options::default()
    })
    .await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(410));
    w.add_endpoint(
        "leaving",
        &format!(r#"{{"url":"{}","allow_http":true}}"#, ep.url()),
    )
    .await;
    w.publish("leaving", "t", "{}").await;
    w.poll_until_received(Duration::from_secs(5)).await;

    let (state, _) = t.load("leaving").await.unwrap();
    assert_eq!(state.disabled.as_ref().unwrap().trigger, Trigger::Gone);
    let notice = moto::drain(&sqs, &notices).await;
    assert_eq!(notice.len(), 1, "one notice");
    let body: serde_json::Value = serde_json::from_str(notice[0].body().unwrap()).unwrap();
    assert_eq!(body["endpoint"], "leaving");
    assert_eq!(body["trigger"], "gone");
    assert!(
        body["to_enable"]
            .as_str()
            .unwrap()
            .contains("hookrelay endpoints enable leaving")
    );
    assert_eq!(attr(&w.dead_letters().await[0], "hookrelay-reason"), "gone");
}

#[tokio::test]
async fn jobs_arriving_while_disabled_are_parked_then_delivered_in_order_after_enable() {
    let t = table().await;
    let w = World::with(Options {
        health: Arc::new(
            DynamoHealth::new(t.clone(), Arc::new(hookrelay_shared::clock::SystemClock))
                .with_cache_ttl(Duration::ZERO),
        ),
        concurrency: 1,
        ..Options::default()
    })
    .await;
    let ep = TestEndpoint::start().await;
    w.add_endpoint(
        "erp",
        &format!(r#"{{"url":"{}","allow_http":true}}"#, ep.url()),
    )
    .await;
    hookrelay_shared::health_store::disable(
        &t,
        "erp",
        "maintenance window",
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();

    for i in 0..5 {
        w.publish("erp", "order.updated", &format!(r#"{{"n":{i}}}"#))
            .await;
    }
    let mut parked = 0;
    while parked < 5 {
        let r = w.poll_until_received(Duration::from_secs(5)).await;
        assert!(r.failed.is_empty(), "parked, not retried");
        parked += r.deleted;
    }
    assert!(ep.requests().is_empty(), "nothing delivered while disabled");
    assert_eq!(t.parked_count("erp").await.unwrap(), 5);
    assert!(
        w.dead_letters().await.is_empty(),
        "nothing dropped or dead-lettered"
    );

    let outbound = SqsQueue::new(w.sqs.clone(), w.outbound.clone());
    let done = enable_and_replay(&t, "erp", &outbound, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        done,
        hookrelay_shared::health_store::Enabled {
            was_disabled: true,
            replayed: 5
        }
    );
    assert_eq!(t.parked_count("erp").await.unwrap(), 0);
    while ep.requests().len() < 5 {
        assert!(w.poll_until_received(Duration::from_secs(5)).await.received > 0);
    }
    let order: Vec<String> = ep
        .requests()
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    assert_eq!(
        order,
        (0..5)
            .map(|i| format!(r#"{{"n":{i}}}"#))
            .collect::<Vec<_>>(),
        "arrival order"
    );
    // Normal delivery resumes.
    w.publish("erp", "order.updated", r#"{"n":5}"#).await;
    w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(ep.requests().len(), 6);
}
