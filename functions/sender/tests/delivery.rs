//! The sender against moto (outbound queue, DLQ, Secrets Manager) and a
//! local HTTP endpoint the tests script, driven by the local event-source
//! poller exactly as Lambda's SQS mapping would drive it.

#[path = "support/batch.rs"]
mod batch;
mod common;

use common::{Options, World, attr};
use hookrelay_shared::outbound::NetworkPolicy;
use hookrelay_shared::schemes::{Scheme, SignatureConfig};
use hookrelay_test_support::endpoint::{Reply, TestEndpoint};
use std::time::{Duration, Instant};

const SW_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn endpoint_config(url: &str, extra: &str) -> String {
    format!(r#"{{"url":"{url}","allow_http":true,"signature":{{"keys":["{SW_KEY}"]}}{extra}}}"#)
}

fn verify_standard_webhooks(req: &hookrelay_test_support::endpoint::Recorded) -> bool {
    let cfg: SignatureConfig = serde_json::from_str(&format!(
        r#"{{"scheme":"standard-webhooks","keys":["{SW_KEY}"]}}"#
    ))
    .unwrap();
    Scheme::compile(&cfg)
        .unwrap()
        .verify(&req.headers, &req.body, time::OffsetDateTime::now_utc())
        .is_ok()
}

#[tokio::test]
async fn fails_twice_then_succeeds_on_the_third_attempt_with_a_valid_signature() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    ep.script([Reply::status(500).body("boom"), Reply::status(502)]);
    w.add_endpoint(
        "billing",
        &endpoint_config(
            &ep.url(),
            r#","retry":{"delays":["1s","2s","1h"],"jitter":0}"#,
        ),
    )
    .await;
    let job_id = w
        .publish("billing", "invoice.paid", r#"{"invoice":42,"amount":1.50}"#)
        .await;

    let first = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(
        (first.received, first.deleted, first.failed.len()),
        (1, 0, 1)
    );
    let second = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!((second.received, second.deleted), (1, 0));
    let third = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(
        (third.received, third.deleted, third.failed.len()),
        (1, 1, 0),
        "the poller deleted it"
    );

    let seen = ep.requests();
    assert_eq!(seen.len(), 3, "exactly three attempts");
    assert_eq!(w.changes(), vec![1, 2], "visibility follows the schedule");
    // Waits between attempts were real SQS redeliveries.
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(900));
    assert!(seen[2].at - seen[1].at >= Duration::from_millis(1900));
    let last = &seen[2];
    assert!(
        verify_standard_webhooks(last),
        "third delivery carries a valid signature"
    );
    assert_eq!(
        last.header("webhook-id"),
        Some(job_id.as_str()),
        "job id is the idempotency key"
    );
    assert_eq!(
        last.body, br#"{"invoice":42,"amount":1.50}"#,
        "payload bytes exactly"
    );
    assert_eq!(last.header("content-type"), Some("application/json"));
    assert!(w.outbound_empty().await);
    assert!(w.dead_letters().await.is_empty());
}

#[tokio::test]
async fn an_endpoint_that_always_fails_ends_in_the_dlq_with_the_reason() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(503).body("down for maintenance"));
    w.add_endpoint(
        "crm",
        &endpoint_config(&ep.url(), r#","retry":{"delays":["30s","30s"],"jitter":0}"#),
    )
    .await;
    w.publish("crm", "customer.created", r#"{"id":1}"#).await;

    for _ in 0..2 {
        let r = w.poll_until_received(Duration::from_secs(5)).await;
        assert_eq!(r.failed.len(), 1);
        w.fast_forward().await;
    }
    let last = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(
        (last.received, last.deleted),
        (1, 1),
        "moved to the DLQ, original let go"
    );
    assert_eq!(ep.requests().len(), 3);
    assert_eq!(w.changes(), vec![30, 30]);

    let dead = w.dead_letters().await;
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(attr(d, "hookrelay-reason"), "retries-exhausted");
    assert_eq!(attr(d, "hookrelay-last-status"), "503");
    assert_eq!(attr(d, "hookrelay-attempts"), "3");
    assert_eq!(attr(d, "hookrelay-endpoint"), "crm");
    assert_eq!(attr(d, "hookrelay-source-queue"), w.outbound);
    assert!(attr(d, "hookrelay-error").contains("down for maintenance"));
    let job: serde_json::Value = serde_json::from_str(d.body().unwrap()).unwrap();
    assert_eq!(job["endpoint"], "crm", "the DLQ holds the original job");
    assert!(w.outbound_empty().await);
}

#[tokio::test]
async fn smarter_launch_schedule_10s_then_100s_three_attempts_in_all() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(500));
    let cfg = format!(
        r#"{{"url":"{}","allow_http":true,"signature":{{"scheme":"smarterlaunch","keys":["sl-key"]}},"retry":{{"delays":["10s","100s"],"jitter":0}}}}"#,
        ep.url()
    );
    w.add_endpoint("sl", &cfg).await;
    w.publish("sl", "proposal.accepted", r#"{"proposal":7}"#)
        .await;
    w.poll_until_received(Duration::from_secs(5)).await;
    w.fast_forward().await;
    w.poll_until_received(Duration::from_secs(5)).await;
    w.fast_forward().await;
    let last = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(last.deleted, 1);
    assert_eq!(w.changes(), vec![10, 100]);
    assert_eq!(ep.requests().len(), 3, "3 attempts in all");
    assert_eq!(
        attr(&w.dead_letters().await[0], "hookrelay-reason"),
        "retries-exhausted"
    );
    // Each attempt was signed the Smarter Launch way.
    let req = &ep.requests()[0];
    assert!(req.header("x-smarterlaunch-signature").is_some());
}

#[tokio::test]
async fn retry_after_on_429_and_503_is_honoured_within_bounds() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    ep.script([
        Reply::status(429).header("Retry-After", "42"),
        Reply::status(503).header("Retry-After", "999999"),
        Reply::status(500).header("Retry-After", "7"),
    ]);
    w.add_endpoint(
        "rl",
        &endpoint_config(
            &ep.url(),
            r#","retry":{"delays":["5s","5s","5s","5s"],"jitter":0}"#,
        ),
    )
    .await;
    w.publish("rl", "t", "{}").await;
    for _ in 0..3 {
        w.poll_until_received(Duration::from_secs(5)).await;
        w.fast_forward().await;
    }
    let done = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(done.deleted, 1);
    // 42 s as asked; a day capped below SQS's 12-hour limit; Retry-After ignored on 500.
    assert_eq!(w.changes(), vec![42, 43_140, 5]);
}

#[tokio::test]
async fn gone_stops_retrying_at_once() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::status(410));
    w.add_endpoint("old", &endpoint_config(&ep.url(), "")).await;
    w.publish("old", "t", "{}").await;
    let r = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!((r.received, r.deleted), (1, 1));
    assert_eq!(ep.requests().len(), 1);
    assert!(w.changes().is_empty());
    let dead = w.dead_letters().await;
    assert_eq!(attr(&dead[0], "hookrelay-reason"), "gone");
    assert_eq!(attr(&dead[0], "hookrelay-last-status"), "410");
}

#[tokio::test]
async fn jobs_that_can_never_succeed_go_to_the_dlq_at_once() {
    let w = World::new().await;
    w.sqs
        .send_message()
        .queue_url(&w.outbound)
        .message_body("not a job")
        .send()
        .await
        .unwrap();
    w.publish("nobody", "t", "{}").await;
    let ep = TestEndpoint::start().await;
    // A disabled endpoint in a deployment without a state table to park jobs in.
    w.add_endpoint(
        "off",
        &format!(
            r#"{{"url":"{}","allow_http":true,"enabled":false}}"#,
            ep.url()
        ),
    )
    .await;
    w.publish("off", "t", "{}").await;

    let mut received = 0;
    while received < 3 {
        let r = w.poll_until_received(Duration::from_secs(5)).await;
        assert!(r.received > 0);
        assert!(r.failed.is_empty());
        received += r.received;
    }
    let mut reasons: Vec<String> = w
        .dead_letters()
        .await
        .iter()
        .map(|m| attr(m, "hookrelay-reason"))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec!["endpoint-disabled", "invalid-job", "unknown-endpoint"]
    );
    assert!(ep.requests().is_empty());
}

#[tokio::test]
async fn ten_records_at_200ms_are_delivered_concurrently_over_one_pool() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    ep.set_default(Reply::ok().delay(Duration::from_millis(200)));
    w.add_endpoint("slow", &endpoint_config(&ep.url(), ""))
        .await;
    // Warm the endpoint cache and the connection pool's first connection,
    // so the batch below is deliveries only.
    w.publish("slow", "t", r#"{"n":-1}"#).await;
    w.poll_until_received(Duration::from_secs(5)).await;
    for i in 0..10 {
        w.publish("slow", "t", &format!(r#"{{"n":{i}}}"#)).await;
    }
    // All ten in one batch, whatever one receive would have returned.
    let msgs = batch::receive(&w.sqs, &w.outbound, 10, 60).await;
    let started = Instant::now();
    let response = w.sender.handle(batch::event(&msgs)).await;
    let elapsed = started.elapsed();
    batch::settle(&w.sqs, &w.outbound, &msgs, &response).await;
    assert!(batch::failed(&response).is_empty());
    assert_eq!(ep.requests().len(), 11);
    assert_eq!(ep.max_in_flight(), 10, "all ten in flight at once");
    // One after the other they take 2 s; concurrently about 200 ms. Half
    // the sequential time leaves a loaded machine plenty of room.
    assert!(
        elapsed < Duration::from_millis(1000),
        "well under 10 x 200 ms: {elapsed:?}"
    );

    // A second batch reuses the pooled connections instead of opening new ones.
    let before = ep.connections();
    w.publish("slow", "t", "{}").await;
    w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(
        ep.connections(),
        before,
        "connection reused across invocations"
    );
}

#[tokio::test]
async fn private_addresses_and_redirects_are_refused_when_not_allowed() {
    let w = World::with(Options {
        network: NetworkPolicy::public_only(),
        ..Options::default()
    })
    .await;
    let ep = TestEndpoint::start().await;
    // One attempt each: the DLQ says how each attempt ended.
    let once = r#","retry":{"delays":[],"jitter":0}"#;
    w.add_endpoint("loop", &endpoint_config(&ep.url(), once))
        .await;
    let by_name = ep.url().replace("127.0.0.1", "localhost");
    w.add_endpoint("byname", &endpoint_config(&by_name, once))
        .await;
    w.add_endpoint(
        "meta",
        &endpoint_config("http://169.254.169.254/latest/meta-data/", once),
    )
    .await;
    for e in ["loop", "byname", "meta"] {
        w.publish(e, "t", "{}").await;
    }
    let mut received = 0;
    while received < 3 {
        received += w.poll_until_received(Duration::from_secs(5)).await.received;
    }
    assert!(
        ep.requests().is_empty(),
        "nothing reached a private address"
    );
    // Refused by the guard, not a connection that happened to fail: the
    // metadata address would fail to connect here anyway.
    let mut dead: Vec<(String, String, String)> = w
        .dead_letters()
        .await
        .iter()
        .map(|m| {
            (
                attr(m, "hookrelay-endpoint"),
                attr(m, "hookrelay-last-status"),
                attr(m, "hookrelay-error"),
            )
        })
        .collect();
    dead.sort();
    assert_eq!(dead.len(), 3);
    for (endpoint, status, error) in &dead {
        assert_eq!(status, "refused", "{endpoint}: {error}");
        assert!(
            error.contains("not a public address") || error.contains("non-public addresses"),
            "{endpoint}: {error}"
        );
    }
    let retry = r#","retry":{"delays":["1h"],"jitter":0}"#;

    // Redirects are not followed, even where private addresses are allowed.
    let w = World::new().await;
    let target = TestEndpoint::start().await;
    let redirector = TestEndpoint::start().await;
    redirector.set_default(Reply::status(302).header("Location", &target.url()));
    w.add_endpoint("r", &endpoint_config(&redirector.url(), retry))
        .await;
    w.publish("r", "t", "{}").await;
    let r = w.poll_until_received(Duration::from_secs(5)).await;
    assert_eq!(r.failed.len(), 1);
    assert_eq!(redirector.requests().len(), 1);
    assert!(target.requests().is_empty(), "redirect not followed");
}

#[tokio::test]
async fn custom_headers_and_key_rotation_signatures() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    let cfg = format!(
        r#"{{"url":"{}","allow_http":true,"headers":{{"Authorization":"Bearer lt-token"}},
            "signature":{{"scheme":"standard-webhooks","keys":["whsec_bmV3LWtleQ==",{{"secret":"{SW_KEY}","not_after":"2999-01-01T00:00:00Z"}}]}}}}"#,
        ep.url()
    );
    w.add_endpoint("rot", &cfg).await;
    w.publish("rot", "t", r#"{"a":1}"#).await;
    w.poll_until_received(Duration::from_secs(5)).await;
    let req = &ep.requests()[0];
    assert_eq!(req.header("authorization"), Some("Bearer lt-token"));
    assert_eq!(
        req.header("webhook-signature").unwrap().split(' ').count(),
        2,
        "one signature per active key"
    );
    assert!(
        verify_standard_webhooks(req),
        "an endpoint that only knows the old key still verifies"
    );
}

#[tokio::test]
async fn leaddone_batch_endpoints_get_one_array_with_per_item_results() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    ep.script([Reply::ok().body(r#"[{"success":true},{"success":false},{"success":true}]"#)]);
    let cfg = format!(
        r#"{{"url":"{}","allow_http":true,"batch":{{"max_items":10}},"retry":{{"delays":["1h"],"jitter":0}},
            "signature":{{"scheme":"leaddone","client_id":"shop-1","keys":["ld-secret"]}}}}"#,
        ep.url()
    );
    w.add_endpoint("ld", &cfg).await;
    for i in 0..3 {
        w.publish("ld", "order.created", &format!(r#"{{"id":"ORD-{i}"}}"#))
            .await;
    }
    // All three in one batch: one array POST, and the item the endpoint
    // reported as failed is the one retried.
    let msgs = batch::receive(&w.sqs, &w.outbound, 3, 60).await;
    let response = w.sender.handle(batch::event(&msgs)).await;
    let reqs = ep.requests();
    assert_eq!(reqs.len(), 1, "one request for the batch");
    let body: Vec<serde_json::Value> = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body.len(), 3);
    let failed = batch::failed(&response);
    assert_eq!(failed.len(), 1);
    let second = body[1]["id"].as_str().unwrap();
    let retried = msgs
        .iter()
        .find(|m| m.message_id() == Some(failed[0].as_str()))
        .unwrap();
    assert!(
        retried.body().unwrap().contains(second),
        "the second item failed"
    );
    let req = &reqs[0];
    assert_eq!(req.header("x-webhook-clientid"), Some("shop-1"));
    let cfg: SignatureConfig =
        serde_json::from_str(r#"{"scheme":"leaddone","clients":{"shop-1":["ld-secret"]}}"#)
            .unwrap();
    assert!(
        Scheme::compile(&cfg)
            .unwrap()
            .verify(&req.headers, &req.body, time::OffsetDateTime::now_utc())
            .is_ok()
    );
}

#[tokio::test]
async fn delivery_errors_never_carry_the_url() {
    let w = World::new().await;
    // Nobody listens there: a connection error, whose text used to quote
    // the URL with its query token.
    let port = hookrelay_test_support::moto::free_port();
    w.add_endpoint(
        "closed",
        &endpoint_config(
            &format!("http://127.0.0.1:{port}/hooks?token=s3cr3t-query-token"),
            r#","retry":{"delays":[],"jitter":0}"#,
        ),
    )
    .await;
    w.publish("closed", "t", "{}").await;
    w.poll_until_received(Duration::from_secs(5)).await;
    let dead = w.dead_letters().await;
    assert_eq!(attr(&dead[0], "hookrelay-last-status"), "connect-error");
    let error = attr(&dead[0], "hookrelay-error");
    assert!(!error.is_empty());
    assert!(!error.contains("s3cr3t"), "{error}");
    assert!(!error.contains("/hooks"), "{error}");
}

#[tokio::test]
async fn an_endpoint_content_type_replaces_the_default_instead_of_doubling_it() {
    let w = World::new().await;
    let ep = TestEndpoint::start().await;
    w.add_endpoint(
        "ct",
        &endpoint_config(
            &ep.url(),
            r#","headers":{"Content-Type":"application/vnd.acme+json; charset=utf-8"}"#,
        ),
    )
    .await;
    w.publish("ct", "t", "{}").await;
    w.poll_until_received(Duration::from_secs(5)).await;
    let req = &ep.requests()[0];
    let types: Vec<&str> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(types, vec!["application/vnd.acme+json; charset=utf-8"]);
    assert!(verify_standard_webhooks(req));
}
