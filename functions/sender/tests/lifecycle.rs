//! Endpoint lifecycle against moto (SQS, Secrets Manager, DynamoDB, SNS)
//! with a controllable clock: the auto-disable rules at their thresholds
//! (successes counted without a write each), the SNS notice, parking while
//! disabled, the replaying state, and replay in creation order on enable.

mod common;

use common::{Options, World, attr};
use hookrelay_shared::aws::dynamodb::health::{
    DynamoHealth, begin_replay, disable, disable_and_notify, finish_replay,
};
use hookrelay_shared::aws::dynamodb::state_table::StateTable;
use hookrelay_shared::aws::secrets_manager::SecretsManagerSwitch;
use hookrelay_shared::aws::sns::SnsNotifier;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::{Clock, ManualClock};
use hookrelay_shared::enable::{EnableSettings, Enabled, Parked, enable};
use hookrelay_shared::health::{
    EndpointHealth, Outcome, ParkError, ParkRequest, Parking, RateRule, Rules, Trigger,
};
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

fn rate_only(min_attempts: u32) -> Rules {
    Rules {
        consecutive: None,
        rate: Some(RateRule {
            min_attempts,
            threshold: 0.95,
            window_hours: 24,
        }),
    }
}

#[tokio::test]
async fn the_failure_rate_rule_fires_at_its_threshold_and_not_before() {
    let t = table().await;
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    let h = health(&t, clock.clone());
    let rules = rate_only(50);
    // 3 successes on a healthy endpoint: they change no state, but count.
    for _ in 0..3 {
        h.record("ep", Outcome::Success, "200", &rules)
            .await
            .unwrap();
    }
    // 56 failures: 56 of 59 = 94.9%.
    for i in 0..56 {
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
    assert!(disabled.reason.contains("57 of 60"), "{}", disabled.reason);
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
async fn a_busy_healthy_endpoint_with_a_short_blip_is_not_disabled() {
    let t = table().await;
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    // Two sender instances, each counting its own successes.
    let a = health(&t, clock.clone());
    let b = health(&t, clock.clone());
    let rules = rate_only(50);
    // Two busy hours: each instance delivers one job a minute.
    for _ in 0..120 {
        clock.advance(Duration::from_secs(60));
        for h in [&a, &b] {
            assert_eq!(
                h.record("ep", Outcome::Success, "200", &rules)
                    .await
                    .unwrap(),
                None
            );
        }
    }
    // A 5-minute outage: 100 failed attempts, all through one instance.
    for i in 0..100 {
        clock.advance(Duration::from_secs(3));
        assert_eq!(
            a.record("ep", Outcome::Failure, "503", &rules)
                .await
                .unwrap(),
            None,
            "failure {i}: 100 of 340 attempts is no reason to disable"
        );
    }
    b.flush("ep").await.unwrap();
    let (state, _) = t.load("ep").await.unwrap();
    assert!(!state.is_disabled());
    assert_eq!(state.window(clock.now(), 24), (340, 100));
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
async fn healthy_successes_cost_no_write_and_are_added_up_once_a_minute() {
    let t = table().await;
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    let h = DynamoHealth::new(t.clone(), clock.clone());
    h.record("ep", Outcome::Success, "200", &Rules::default())
        .await
        .unwrap();
    let (first, rev) = t.load("ep").await.unwrap();
    assert_eq!(
        first.window(clock.now(), 24),
        (1, 0),
        "the first success is written"
    );
    for _ in 0..5 {
        clock.advance(Duration::from_secs(1));
        h.record("ep", Outcome::Success, "200", &Rules::default())
            .await
            .unwrap();
    }
    let (state, now_rev) = t.load("ep").await.unwrap();
    assert_eq!(
        now_rev, rev,
        "no state write for successes that change nothing"
    );
    assert_eq!(
        state.window(clock.now(), 24),
        (1, 0),
        "counted in memory, not written yet"
    );
    clock.advance(Duration::from_secs(60));
    h.record("ep", Outcome::Success, "200", &Rules::default())
        .await
        .unwrap();
    let (state, now_rev) = t.load("ep").await.unwrap();
    assert_eq!(
        state.window(clock.now(), 24),
        (7, 0),
        "flushed with one ADD"
    );
    assert_eq!(now_rev, rev, "the counters are not the revisioned state");
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
    // On the stream: the typed events, endpoint.disabled once, and the
    // job's message.dead_lettered.
    let events: Vec<serde_json::Value> = moto::drain(&sqs, &notices)
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    let of =
        |t: &str| -> Vec<&serde_json::Value> { events.iter().filter(|e| e["type"] == t).collect() };
    assert_eq!(events.len(), 2, "{events:?}");
    let disabled = of("endpoint.disabled");
    assert_eq!(disabled.len(), 1, "one endpoint.disabled");
    let body = disabled[0];
    assert_eq!(body["version"], 1);
    assert!(body["id"].as_str().unwrap().starts_with("opev_"));
    assert_eq!(body["endpoint"], "leaving");
    assert_eq!(body["trigger"], "gone");
    let dead = of("message.dead_lettered");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["queue"], "outbound");
    assert_eq!(dead[0]["reason"], "gone");
    assert_eq!(dead[0]["endpoint"], "leaving");
    assert_eq!(dead[0]["last_status"], "410");
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
    disable(
        &t,
        "erp",
        "maintenance window",
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap()
    .expect("disabled by this call");

    for i in 0..5 {
        w.publish_job(
            "erp",
            &format!("job_{i}"),
            &format!("2026-11-22T10:00:0{i}.000Z"),
            &format!(r#"{{"n":{i}}}"#),
        )
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
    let done = enable_now(&w, &t, &outbound).await;
    assert_eq!(
        done,
        Enabled::Replayed {
            was_disabled: true,
            switched_on: false,
            replayed: 5,
            disabled_again: None,
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
        "creation order"
    );
    // Normal delivery resumes.
    w.publish("erp", "order.updated", r#"{"n":5}"#).await;
    w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(ep.requests().len(), 6);
}

/// `hookrelay endpoints enable erp` without its waits.
async fn enable_now(w: &World, t: &StateTable, outbound: &SqsQueue) -> Enabled {
    let switch = SecretsManagerSwitch::new(w.sm.clone(), w.prefix.clone());
    let parked = Parked { table: t, outbound };
    let no_wait = EnableSettings {
        settle: Duration::ZERO,
        config_recheck: Duration::ZERO,
    };
    enable(&switch, Some(parked), "erp", &no_wait, &|_| {})
        .await
        .unwrap()
}

fn bodies(ep: &TestEndpoint) -> Vec<String> {
    ep.requests()
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect()
}

async fn parked_world(t: &StateTable, concurrency: usize) -> (World, TestEndpoint) {
    let w = World::with(Options {
        health: Arc::new(
            DynamoHealth::new(t.clone(), Arc::new(hookrelay_shared::clock::SystemClock))
                .with_cache_ttl(Duration::ZERO),
        ),
        concurrency,
        ..Options::default()
    })
    .await;
    let ep = TestEndpoint::start().await;
    w.add_endpoint(
        "erp",
        &format!(r#"{{"url":"{}","allow_http":true}}"#, ep.url()),
    )
    .await;
    (w, ep)
}

async fn poll_until_parked(w: &World, t: &StateTable, n: usize) {
    while t.parked_count("erp").await.unwrap() < n {
        let r = w.poll_until_received(Duration::from_secs(5)).await;
        assert!(r.received > 0, "{n} jobs parked");
        assert!(r.failed.is_empty(), "parked, not retried: {r:?}");
    }
}

#[tokio::test]
async fn parked_jobs_replay_in_creation_order_even_when_parked_concurrently() {
    let t = table().await;
    let (w, ep) = parked_world(&t, 10).await;
    disable(&t, "erp", "maintenance", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    // Sent newest first, so the queue's order (and the order they happen
    // to be parked in, 10 at a time) is the opposite of their creation.
    for n in (0..6).rev() {
        w.publish_job(
            "erp",
            &format!("job_{n}"),
            &format!("2026-11-22T10:00:0{n}.000Z"),
            &format!(r#"{{"n":{n}}}"#),
        )
        .await;
    }
    poll_until_parked(&w, &t, 6).await;
    assert!(ep.requests().is_empty());

    let outbound = SqsQueue::new(w.sqs.clone(), w.outbound.clone());
    let done = enable_now(&w, &t, &outbound).await;
    assert!(
        matches!(done, Enabled::Replayed { replayed: 6, .. }),
        "{done:?}"
    );
    while ep.requests().len() < 6 {
        assert!(w.poll_until_received(Duration::from_secs(5)).await.received > 0);
    }
    assert_eq!(
        bodies(&ep),
        (0..6)
            .map(|n| format!(r#"{{"n":{n}}}"#))
            .collect::<Vec<_>>(),
        "creation order"
    );
}

#[tokio::test]
async fn new_jobs_are_parked_behind_the_replay_then_delivery_is_normal() {
    let t = table().await;
    let (w, ep) = parked_world(&t, 10).await;
    disable(&t, "erp", "maintenance", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    for n in 0..3 {
        w.publish_job(
            "erp",
            &format!("job_{n}"),
            &format!("2026-11-22T10:00:0{n}.000Z"),
            &format!(r#"{{"n":{n}}}"#),
        )
        .await;
    }
    poll_until_parked(&w, &t, 3).await;

    // `endpoints enable`, first step: the endpoint is no longer disabled...
    assert!(
        begin_replay(&t, "erp", time::OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    let (state, _) = t.load("erp").await.unwrap();
    assert!(!state.is_disabled());
    assert_eq!(state.parking(), Parking::Replaying);
    // ...but a job arriving before the backlog is replayed waits behind it.
    w.publish_job("erp", "job_3", "2026-11-22T10:00:03.000Z", r#"{"n":3}"#)
        .await;
    poll_until_parked(&w, &t, 4).await;
    assert!(ep.requests().is_empty(), "nothing overtakes the backlog");

    let outbound = SqsQueue::new(w.sqs.clone(), w.outbound.clone());
    let (replayed, again) = finish_replay(&t, "erp", &outbound, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((replayed, again), (4, None));
    assert_eq!(t.load("erp").await.unwrap().0.parking(), Parking::No);
    while ep.requests().len() < 4 {
        assert!(w.poll_until_received(Duration::from_secs(5)).await.received > 0);
    }
    assert_eq!(
        bodies(&ep),
        (0..4)
            .map(|n| format!(r#"{{"n":{n}}}"#))
            .collect::<Vec<_>>()
    );
    // Replay over: delivered at once, nothing parked.
    w.publish_job("erp", "job_4", "2026-11-22T10:00:04.000Z", r#"{"n":4}"#)
        .await;
    let r = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(r.deleted, 1);
    assert_eq!(ep.requests().len(), 5);
    assert_eq!(t.parked_count("erp").await.unwrap(), 0);
}

#[tokio::test]
async fn a_job_parked_behind_the_replay_keeps_it_from_ending() {
    let t = table().await;
    begin_replay(&t, "ep", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let loaded = t.load_full("ep").await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(
        t.park_while_replaying("ep", "job_1", "{}", now, now + Duration::from_secs(60))
            .await
            .unwrap()
    );
    let mut done = loaded.state.clone();
    done.finish_replay();
    assert!(
        !t.save_if_nothing_parked("ep", &done, &loaded)
            .await
            .unwrap(),
        "a job was parked after the replay read the state: it must not end"
    );
    let reread = t.load_full("ep").await.unwrap();
    assert!(
        t.save_if_nothing_parked("ep", &done, &reread)
            .await
            .unwrap()
    );
    // Over: a replaying-time park is refused, nothing written.
    assert!(
        !t.park_while_replaying("ep", "job_2", "{}", now, now + Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert_eq!(t.parked_count("ep").await.unwrap(), 1);
}

#[tokio::test]
async fn a_sender_with_a_stale_replaying_state_delivers_once_the_replay_is_over() {
    let t = table().await;
    // A long cache: this instance still believes the endpoint replays.
    let h = DynamoHealth::new(t.clone(), Arc::new(hookrelay_shared::clock::SystemClock))
        .with_cache_ttl(Duration::from_secs(3600));
    begin_replay(&t, "ep", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(h.parking("ep").await.unwrap(), Parking::Replaying);
    let outbound = SqsQueue::new(moto::sqs().await, "http://unused".to_string());
    finish_replay(&t, "ep", &outbound, Duration::ZERO)
        .await
        .unwrap();
    let parked = h
        .park(ParkRequest {
            endpoint: "ep",
            job_id: "job_1",
            body: "{}",
            created_at: time::OffsetDateTime::now_utc(),
            always: false,
        })
        .await
        .unwrap();
    assert!(!parked, "not parked: deliver it");
    assert_eq!(t.parked_count("ep").await.unwrap(), 0);
    assert_eq!(h.parking("ep").await.unwrap(), Parking::No, "state re-read");
}

#[tokio::test]
async fn a_job_too_large_for_a_dynamodb_item_is_refused_with_the_reason() {
    let t = table().await;
    let h = health(&t, Arc::new(ManualClock::at_unix(1_800_000_000)));
    disable(&t, "ep", "x", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let body = format!(r#"{{"blob":"{}"}}"#, "x".repeat(420 * 1024));
    let e = h
        .park(ParkRequest {
            endpoint: "ep",
            job_id: "job_big",
            body: &body,
            created_at: time::OffsetDateTime::now_utc(),
            always: false,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, ParkError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("DynamoDB item"), "{e}");
}

#[tokio::test]
async fn a_manual_disable_sends_the_notice_once() {
    let t = table().await;
    let sns = moto::sns().await;
    let sqs = moto::sqs().await;
    let (topic, notices) = moto::topic_with_queue(&sns, &sqs).await;
    let notifier = SnsNotifier::new(sns, topic);
    let now = time::OffsetDateTime::now_utc();
    assert!(
        disable_and_notify(&t, &notifier, "crm", "maintenance", now)
            .await
            .unwrap()
    );
    assert!(
        !disable_and_notify(&t, &notifier, "crm", "again", now)
            .await
            .unwrap()
    );
    let notice = moto::drain(&sqs, &notices).await;
    assert_eq!(notice.len(), 1, "one notice");
    let body: serde_json::Value = serde_json::from_str(notice[0].body().unwrap()).unwrap();
    assert_eq!(body["type"], "endpoint.disabled");
    // Raw delivery carries the SNS message attributes subscription filter
    // policies match on.
    let attrs = notice[0].message_attributes().expect("attributes");
    assert_eq!(attrs["type"].string_value(), Some("endpoint.disabled"));
    assert_eq!(attrs["endpoint"].string_value(), Some("crm"));
    assert_eq!(body["endpoint"], "crm");
    assert_eq!(body["trigger"], "manual");
    assert_eq!(body["reason"], "maintenance");
}

#[tokio::test]
async fn endpoints_switched_off_in_their_configuration_park_their_jobs() {
    let t = table().await;
    let (w, ep) = parked_world(&t, 10).await;
    w.add_endpoint(
        "erp",
        &format!(
            r#"{{"url":"{}","allow_http":true,"enabled":false}}"#,
            ep.url()
        ),
    )
    .await;
    w.publish_job("erp", "job_0", "2026-11-22T10:00:00.000Z", r#"{"n":0}"#)
        .await;
    poll_until_parked(&w, &t, 1).await;
    assert!(ep.requests().is_empty());
    assert!(w.dead_letters().await.is_empty());
}

#[tokio::test]
async fn jobs_fanned_out_with_an_unchecked_subscription_are_checked_by_the_sender() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    w.add_endpoint(
        "erp",
        &format!(
            r#"{{"url":"{}","allow_http":true,"events":["order.*"]}}"#,
            ep.url()
        ),
    )
    .await;
    for (id, event_type) in [
        ("job_wanted", "order.created"),
        ("job_unwanted", "idea.created"),
    ] {
        let job = format!(
            r#"{{"version":1,"id":"{id}","endpoint":"erp","event_type":"{event_type}","payload":{{}},"created_at":"2026-11-22T10:00:00.000Z","event_id":"e","subscription_unchecked":true}}"#
        );
        w.sqs
            .send_message()
            .queue_url(&w.outbound)
            .message_body(job)
            .send()
            .await
            .unwrap();
    }
    let mut deleted = 0;
    while deleted < 2 {
        let r = w.poll_until_received(Duration::from_secs(5)).await;
        assert!(r.received > 0 && r.failed.is_empty(), "{r:?}");
        deleted += r.deleted;
    }
    let delivered: Vec<String> = ep
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        delivered,
        vec!["job_wanted"],
        "the unsubscribed one is dropped"
    );
    assert!(w.dead_letters().await.is_empty());
}
