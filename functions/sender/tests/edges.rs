//! The edges of delivery (issue 12), against moto (SQS, Secrets Manager,
//! DynamoDB) and a scripted endpoint, with real SQS's refusals in front of
//! the real adapters: the order of a replayed backlog and fresh jobs,
//! header values that cannot be sent, the visibility limit counted from
//! the receive, dead letters that SQS always accepts, and the
//! invocation's deadline.

#[path = "support/rig.rs"]
mod rig;

use hookrelay_shared::attributes::REPLAY_SEQ;
use hookrelay_test_support::endpoint::{Reply, TestEndpoint};
use rig::{Rig, attr, endpoint};
use std::time::Duration;
use time::OffsetDateTime;

fn payloads(ep: &TestEndpoint) -> Vec<u64> {
    ep.requests()
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["n"].as_u64().unwrap()
        })
        .collect()
}

/// After a replay, parked jobs R1, R2 and a new job F1 arrive in one
/// batch of the endpoint's FIFO group: SQS's order is the order.
#[tokio::test]
async fn on_a_fifo_queue_fresh_jobs_never_overtake_the_replayed_backlog() {
    let rig = Rig::new(true).await;
    let ep = TestEndpoint::start().await;
    rig.add_endpoint("erp", &endpoint(&ep.url(), "[]")).await;
    rig.publish_with("erp", 1, &[(REPLAY_SEQ, "00000000000000000007.000000000")])
        .await;
    rig.publish_with("erp", 2, &[(REPLAY_SEQ, "00000000000000000007.000000001")])
        .await;
    rig.publish("erp", 3).await;
    let (msgs, failed) = rig.round(3).await;
    assert_eq!(msgs.len(), 3, "one batch");
    assert!(failed.is_empty());
    assert_eq!(payloads(&ep), vec![1, 2, 3], "the backlog first, as queued");
}

/// A job id that cannot be a header value (it becomes `webhook-id`): the
/// producer's mistake, dead-lettered at intake as `invalid-job`, never sent
/// and never counted against the endpoint's health.
#[tokio::test]
async fn a_job_id_that_cannot_be_sent_is_an_invalid_job_and_the_endpoint_stays_healthy() {
    let rig = Rig::new(false).await;
    let ep = TestEndpoint::start().await;
    rig.add_endpoint("crm", &endpoint(&ep.url(), "[]")).await;
    rig.publish_job("crm", "job\u{1}x", 1, &[]).await;
    rig.publish_job("crm", "job\r\nX-Injected: 1", 2, &[]).await;
    let (_, failed) = rig.round(2).await;
    assert!(failed.is_empty(), "not retried");
    assert!(ep.requests().is_empty(), "never sent");
    let dead = rig.dead().await;
    assert_eq!(dead.len(), 2);
    for d in &dead {
        assert_eq!(attr(d, "hookrelay-reason"), "invalid-job");
        assert!(attr(d, "hookrelay-error").contains("id: control characters"));
    }
    let (state, rev) = rig.table.load("crm").await.unwrap();
    assert_eq!(rev, None, "nothing recorded against the endpoint's health");
    assert!(!state.is_disabled());
}

/// A scheme parameter that ends up in a header (`hmac`'s `prefix`) and
/// cannot be sent: the configuration is invalid (retried until it is
/// fixed, as any invalid configuration), the endpoint's health untouched.
#[tokio::test]
async fn a_scheme_parameter_that_cannot_be_sent_makes_the_configuration_invalid() {
    let rig = Rig::new(false).await;
    let ep = TestEndpoint::start().await;
    rig.add_endpoint(
        "hm",
        &format!(
            r#"{{"url":"{}","allow_http":true,"signature":{{"scheme":"hmac","keys":["k"],"prefix":"v1\u0001"}}}}"#,
            ep.url()
        ),
    )
    .await;
    rig.publish("hm", 1).await;
    let (_, failed) = rig.round(1).await;
    assert_eq!(failed.len(), 1, "retried until the configuration is fixed");
    assert_eq!(rig.changes(), vec![5], "on the default schedule");
    assert!(ep.requests().is_empty(), "never sent");
    let (_, rev) = rig.table.load("hm").await.unwrap();
    assert_eq!(rev, None, "nothing recorded against the endpoint's health");
}

/// A record received `ago` before the handler sees it (a batching window,
/// records delivered before it): the retry it is given must still be one
/// SQS accepts, which counts 12 hours from the receive. Returns the
/// visibility changes asked for (seconds, accepted by SQS's rule).
async fn retried_after_a_late_start(rig: &Rig, ago: Duration) -> Vec<(i32, bool)> {
    let msgs = rig.receive(1).await;
    let received = OffsetDateTime::now_utc() - ago;
    rig.control
        .received(msgs[0].receipt_handle().unwrap(), received);
    let mut event = rig::event(&msgs);
    event.records[0].attributes.insert(
        "ApproximateFirstReceiveTimestamp".into(),
        (received.unix_timestamp_nanos() / 1_000_000).to_string(),
    );
    let response = rig.sender.handle(event).await;
    assert_eq!(rig::failed(&response).len(), 1, "retried");
    rig.control
        .changes
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s, ok)| (*s, *ok))
        .collect()
}

#[tokio::test]
async fn a_delay_at_the_visibility_limit_counts_from_the_receive() {
    let rig = Rig::new(false).await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(500));
    // The longest delay a schedule may have.
    rig.add_endpoint("slow", &endpoint(&ep.url(), r#"["11h 59m", "1s"]"#))
        .await;
    rig.publish("slow", 1).await;
    let changes = retried_after_a_late_start(&rig, Duration::from_secs(300)).await;
    assert_eq!(changes.len(), 1);
    let (secs, accepted) = changes[0];
    assert!(
        accepted,
        "SQS would refuse {secs} s, 300 s after the receive"
    );
    assert!(
        (43_200 - 300 - 120..=43_200 - 300).contains(&secs),
        "as long as SQS allows: {secs}"
    );
}

#[tokio::test]
async fn a_retry_after_at_the_visibility_limit_counts_from_the_receive() {
    let rig = Rig::new(false).await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(503).header("Retry-After", "86400"));
    rig.add_endpoint("busy", &endpoint(&ep.url(), r#"["5s"]"#))
        .await;
    rig.publish("busy", 1).await;
    let changes = retried_after_a_late_start(&rig, Duration::from_secs(240)).await;
    assert_eq!(changes.len(), 1);
    let (secs, accepted) = changes[0];
    assert!(
        accepted,
        "SQS would refuse {secs} s, 240 s after the receive"
    );
    assert!(
        (43_200 - 240 - 120..=43_200 - 240).contains(&secs),
        "as long as SQS allows: {secs}"
    );
}

/// A job within a few hundred bytes of SQS's 1 MiB limit: its dead letter
/// (body plus the reason attributes) must still be one SQS accepts, or the
/// job is retried, and sent again, on every receive.
#[tokio::test]
async fn a_job_at_the_size_limit_still_fits_in_the_dead_letter_queue() {
    let rig = Rig::new(false).await;
    let head = r#"{"version":1,"id":"job_big","endpoint":"nobody","event_type":"t","created_at":"2026-11-22T10:00:00.000Z","payload":""#;
    let fill = 1_048_576 - 200 - head.len() - 2;
    let body = format!(r#"{head}{}"}}"#, "a".repeat(fill));
    assert_eq!(body.len(), 1_048_576 - 200);
    rig.publish_body("nobody", &body, &[]).await;
    let (_, failed) = rig.round(1).await;
    assert!(
        failed.is_empty(),
        "not retried; refused: {:?}",
        rig.dead_letters.refusals()
    );
    let dead = rig.dead().await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some(body.as_str()), "the job, uncut");
    assert_eq!(attr(&dead[0], "hookrelay-reason"), "unknown-endpoint");
}

/// An endpoint's answer (it goes into `hookrelay-error`) and a job's
/// endpoint name can hold characters SQS refuses in attribute values: the
/// dead letter still goes through, after one attempt.
#[tokio::test]
async fn characters_sqs_refuses_never_keep_a_job_out_of_the_dead_letter_queue() {
    let rig = Rig::new(false).await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(500).body("overloaded \u{FFFF} try later"));
    rig.add_endpoint("crm", &endpoint(&ep.url(), "[]")).await;
    rig.publish("crm", 1).await;
    // Escaped in the JSON (SQS takes the body), U+FFFE once parsed.
    rig.publish_body(
        "x",
        r#"{"version":1,"id":"job_x","endpoint":"bad\ufffename","event_type":"t","payload":{},"created_at":"2026-11-22T10:00:00.000Z"}"#,
        &[],
    )
    .await;
    let (_, failed) = rig.round(2).await;
    assert!(
        failed.is_empty(),
        "not retried; refused: {:?}",
        rig.dead_letters.refusals()
    );
    assert_eq!(ep.requests().len(), 1, "one attempt");
    let mut dead = rig.dead().await;
    dead.sort_by_key(|d| attr(d, "hookrelay-reason"));
    assert_eq!(attr(&dead[0], "hookrelay-reason"), "retries-exhausted");
    assert!(attr(&dead[0], "hookrelay-error").contains("overloaded \u{FFFD} try later"));
    assert_eq!(attr(&dead[1], "hookrelay-reason"), "unknown-endpoint");
    assert_eq!(attr(&dead[1], "hookrelay-endpoint"), "bad\u{FFFD}name");
}

/// The invocation's deadline: an attempt that could not be settled before
/// it is not started, and the records not attempted go back unprocessed
/// and uncounted. Three jobs of a FIFO group at an endpoint that takes
/// 2 s (timeout 3 s), with 11 s left: two fit (each needs its 3 s plus
/// the 5-s settling margin), the third is returned and later gets its
/// whole schedule (one attempt).
#[tokio::test]
async fn no_attempt_is_started_that_the_invocation_deadline_could_cut_off() {
    let rig = Rig::new(true).await;
    let ep = TestEndpoint::start().await;
    let slow = || Reply::ok().delay(Duration::from_secs(2));
    ep.script([slow(), slow()]);
    ep.set_default(Reply::status(500));
    rig.add_endpoint(
        "erp",
        &format!(
            r#"{{"url":"{}","allow_http":true,"timeout_secs":3,"retry":{{"delays":[]}},"health":{{"consecutive_days":0,"rate_min_attempts":0}}}}"#,
            ep.url()
        ),
    )
    .await;
    for n in 1..=3 {
        rig.publish("erp", n).await;
    }
    let msgs = rig.receive(3).await;
    let deadline = OffsetDateTime::now_utc() + Duration::from_secs(11);
    let response = rig.sender.handle_until(rig::event(&msgs), deadline).await;
    assert_eq!(payloads(&ep), vec![1, 2], "the third could not end in time");
    let failed = rig::failed(&response);
    assert_eq!(failed, vec![msgs[2].message_id().unwrap().to_string()]);
    assert!(rig.changes().is_empty(), "returned as it is, no delay");
    rig::settle(&rig.sqs, &rig.outbound, &msgs, &response).await;

    // Its one attempt is still to come: it was received, not attempted.
    let (_, failed) = rig.round(1).await;
    assert!(failed.is_empty());
    assert_eq!(payloads(&ep), vec![1, 2, 3]);
    let dead = rig.dead().await;
    assert_eq!(attr(&dead[0], "hookrelay-reason"), "retries-exhausted");
    assert_eq!(attr(&dead[0], "hookrelay-attempts"), "1");
}

/// An endpoint timeout the deployment's function timeout cannot hold (the
/// template passes it in) is a configuration error: never attempted.
#[tokio::test]
async fn an_endpoint_timeout_the_function_cannot_hold_is_refused() {
    let rig = Rig::with(rig::Options {
        settings: Some(|s| s.function_timeout = Some(Duration::from_secs(30))),
        ..rig::Options::default()
    })
    .await;
    let ep = TestEndpoint::start().await;
    let config = |timeout: u32| {
        format!(
            r#"{{"url":"{}","allow_http":true,"timeout_secs":{timeout}}}"#,
            ep.url()
        )
    };
    rig.add_endpoint("long", &config(60)).await;
    rig.add_endpoint("fits", &config(25)).await;
    rig.publish("long", 1).await;
    rig.publish("fits", 2).await;
    let (msgs, failed) = rig.round(2).await;
    assert_eq!(payloads(&ep), vec![2]);
    let long = msgs.iter().find(|m| rig::payload_n(m) == 1).unwrap();
    assert_eq!(failed, vec![long.message_id().unwrap().to_string()]);
    assert_eq!(
        rig.changes(),
        vec![5],
        "retried on the default schedule until fixed"
    );
    let (_, rev) = rig.table.load("long").await.unwrap();
    assert_eq!(rev, None, "not the endpoint's failure");
}
