//! Operations: the metrics each answer writes (CloudWatch's embedded
//! metric format, checked against the specification), against moto with
//! the real SDK.

use hookrelay_shared::aws::secrets_manager::SecretsManager;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::ManualClock;
use hookrelay_shared::metrics::{Lines, Metrics};
use hookrelay_shared::schemes::{Scheme, SignInput, SignatureConfig};
use hookrelay_test_support::emf_spec::{self, Extracted, total};
use hookrelay_test_support::{apigw, moto, unique};
use receiver::{Ports, Receiver, Settings};
use std::sync::Arc;
use time::OffsetDateTime;

const KEY: &str = r#"{"scheme":"github","keys":["gh-secret"]}"#;

struct Fixture {
    receiver: Receiver,
    lines: Lines,
    sm: aws_sdk_secretsmanager::Client,
    prefix: String,
}

async fn fixture(queue_exists: bool) -> Fixture {
    let sqs = moto::sqs().await;
    let sm = moto::secretsmanager().await;
    let queue_url = if queue_exists {
        moto::create_queue(&sqs, "inbound", false, &[]).await
    } else {
        format!("{}/123456789012/{}", moto::endpoint(), unique("missing"))
    };
    let prefix = unique("hr");
    let (metrics, lines) = Metrics::in_memory("hookrelay-test");
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(sm.clone())),
            inbound: Arc::new(SqsQueue::new(sqs, queue_url)),
            events: None,
            clock: Arc::new(ManualClock::new(OffsetDateTime::now_utc())),
        },
        Settings::new(prefix.clone()),
    )
    .with_metrics(metrics);
    Fixture {
        receiver,
        lines,
        sm,
        prefix,
    }
}

impl Fixture {
    async fn add_source(&self, name: &str) {
        moto::put_secret(
            &self.sm,
            &format!("{}/sources/{name}", self.prefix),
            &format!(r#"{{"signature":{KEY}}}"#),
        )
        .await;
    }

    /// Posts and returns the status and the metrics that one invocation wrote.
    async fn post(&self, source: &str, signed: bool, body: &[u8]) -> (u16, Vec<Extracted>) {
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if signed {
            let cfg: SignatureConfig = serde_json::from_str(KEY).unwrap();
            let input = SignInput {
                id: "x",
                at: OffsetDateTime::now_utc(),
                body,
                event_type: None,
            };
            headers.extend(Scheme::compile(&cfg).unwrap().sign(&input).unwrap().headers);
        }
        let req = apigw::request(&format!("/webhooks/{source}"), &headers, body, false);
        let status = self.receiver.handle(req).await.status().as_u16();
        let lines = self.lines.take();
        assert!(!lines.is_empty(), "every invocation writes its metrics");
        let mut metrics = Vec::new();
        for line in &lines {
            metrics.extend(emf_spec::validate(line).unwrap_or_else(|e| panic!("{e}: {line}")));
        }
        assert!(metrics.iter().all(|m| m.namespace == "hookrelay-test"));
        (status, metrics)
    }
}

#[tokio::test]
async fn each_answer_writes_valid_emf_counting_it_per_source_and_in_total() {
    let f = fixture(true).await;
    let source = unique("gh");
    f.add_source(&source).await;

    let (status, m) = f.post(&source, true, br#"{"n":1}"#).await;
    assert_eq!(status, 202);
    assert_eq!(total(&m, "WebhooksAccepted", &[("Source", &source)]), 1.0);
    assert_eq!(total(&m, "WebhooksAccepted", &[]), 1.0);
    assert_eq!(m.len(), 2, "accepted, per source and in total: {m:?}");

    let (status, m) = f.post(&source, false, br#"{"n":2}"#).await;
    assert_eq!(status, 401);
    let s = source.as_str();
    assert_eq!(
        total(
            &m,
            "WebhooksRefused",
            &[("Source", s), ("Reason", "signature")]
        ),
        1.0
    );
    assert_eq!(total(&m, "WebhooksRefused", &[("Source", s)]), 1.0);
    assert_eq!(
        total(&m, "WebhooksRefused", &[("Reason", "signature")]),
        1.0
    );
    assert_eq!(total(&m, "WebhooksRefused", &[]), 1.0);
    assert_eq!(total(&m, "WebhooksAccepted", &[]), 0.0);
}

#[tokio::test]
async fn names_that_are_not_configured_sources_never_become_dimensions() {
    let f = fixture(true).await;
    let tried = unique("nosuch");
    let (status, m) = f.post(&tried, true, b"{}").await;
    assert_eq!(status, 404);
    assert_eq!(
        total(
            &m,
            "WebhooksRefused",
            &[("Source", "(unknown)"), ("Reason", "unknown-source")]
        ),
        1.0
    );
    // Too large is found before the source is looked up.
    let big = vec![b'x'; 300_000];
    let (status, m2) = f.post(&tried, false, &big).await;
    assert_eq!(status, 413);
    assert_eq!(
        total(&m2, "WebhooksRefused", &[("Reason", "too-large")]),
        1.0
    );
    for x in m.iter().chain(&m2) {
        assert!(
            x.dimensions.iter().all(|(_, v)| v != &tried),
            "a caller's name became a dimension: {x:?}"
        );
    }
}

#[tokio::test]
async fn a_queue_that_does_not_take_the_webhook_counts_as_an_enqueue_failure() {
    let f = fixture(false).await;
    let source = unique("gh");
    f.add_source(&source).await;
    let (status, m) = f.post(&source, true, br#"{"n":1}"#).await;
    assert_eq!(status, 503);
    assert_eq!(total(&m, "EnqueueFailures", &[("Source", &source)]), 1.0);
    assert_eq!(total(&m, "WebhooksAccepted", &[]), 0.0);
}

/// A receiver instance that publishes operational events on a topic and
/// claims alerts in the state table.
async fn instance(prefix: &str, table: &str, topic: &str) -> (Receiver, Lines) {
    let sqs = moto::sqs().await;
    let sm = moto::secretsmanager().await;
    let queue_url = moto::create_queue(&sqs, "inbound", false, &[]).await;
    let (metrics, lines) = Metrics::in_memory("hookrelay-test");
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(sm)),
            inbound: Arc::new(SqsQueue::new(sqs, queue_url)),
            events: None,
            clock: Arc::new(ManualClock::new(OffsetDateTime::now_utc())),
        },
        Settings::new(prefix.to_string()),
    )
    .with_metrics(metrics)
    .with_alerts(
        Some(
            hookrelay_shared::aws::dynamodb::state_table::StateTable::new(
                moto::dynamodb().await,
                table,
            ),
        ),
        Arc::new(hookrelay_shared::aws::sns::SnsNotifier::new(
            moto::sns().await,
            topic,
        )),
    );
    (receiver, lines)
}

#[tokio::test]
async fn a_source_whose_refusals_cross_the_threshold_is_announced_once_on_the_stream() {
    let f = fixture(true).await;
    let source = unique("rotated");
    f.add_source(&source).await;
    let sqs = moto::sqs().await;
    let (topic, stream) = moto::topic_with_queue(&moto::sns().await, &sqs).await;
    let table = moto::create_state_table(&moto::dynamodb().await).await;
    let (first, first_lines) = instance(&f.prefix, &table, &topic).await;
    let (second, _) = instance(&f.prefix, &table, &topic).await;
    let request = || {
        apigw::request(
            &format!("/webhooks/{source}"),
            &[("Content-Type".into(), "application/json".into())],
            br#"{"n":1}"#,
            false,
        )
    };

    // The platform rotated its key: every webhook is refused. 19 are not
    // enough (at least 20 requests), the 20th crosses.
    for _ in 0..19 {
        assert_eq!(first.handle(request()).await.status(), 401);
    }
    assert!(moto::drain(&sqs, &stream).await.is_empty(), "not yet");
    first.handle(request()).await;
    let events = moto::drain(&sqs, &stream).await;
    assert_eq!(events.len(), 1, "source.refusals_high");
    let e: serde_json::Value = serde_json::from_str(events[0].body().unwrap()).unwrap();
    assert_eq!(e["type"], "source.refusals_high");
    assert_eq!(e["version"], 1);
    assert_eq!(e["source"], source);
    assert_eq!(e["requests"], 20);
    assert_eq!(e["refused"], 20);
    assert_eq!(e["reasons"]["signature"], 20);
    assert_eq!(e["window_secs"], 600);
    assert!(e["hint"].as_str().unwrap().contains("rotate"), "{e}");
    let attrs = events[0].message_attributes().unwrap();
    assert_eq!(attrs["type"].string_value(), Some("source.refusals_high"));
    assert_eq!(attrs["source"].string_value(), Some(source.as_str()));
    let m = emf_spec::validate_log(&first_lines.take().join("\n")).unwrap();
    assert_eq!(total(&m, "SourceRefusalsHigh", &[("Source", &source)]), 1.0);
    assert_eq!(total(&m, "SourceRefusalsHigh", &[]), 1.0);

    // It stays high: no second announcement, from this instance or from
    // another one that sees the same (the claim in the state table).
    for _ in 0..25 {
        first.handle(request()).await;
        second.handle(request()).await;
    }
    assert!(
        moto::drain(&sqs, &stream).await.is_empty(),
        "announced once across instances"
    );
}

#[tokio::test]
async fn accepted_webhooks_keep_a_source_below_the_threshold() {
    let f = fixture(true).await;
    let source = unique("mixed");
    f.add_source(&source).await;
    let sqs = moto::sqs().await;
    let (topic, stream) = moto::topic_with_queue(&moto::sns().await, &sqs).await;
    let table = moto::create_state_table(&moto::dynamodb().await).await;
    let (r, _) = instance(&f.prefix, &table, &topic).await;
    let fx = Fixture {
        receiver: r,
        lines: Lines::default(),
        sm: f.sm.clone(),
        prefix: f.prefix.clone(),
    };
    // 3 of 30 accepted: 90% refused, not more than 90%.
    for i in 0..30 {
        let signed = i % 10 == 0;
        let req_body = format!(r#"{{"n":{i}}}"#);
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if signed {
            let cfg: SignatureConfig = serde_json::from_str(KEY).unwrap();
            let input = SignInput {
                id: "x",
                at: OffsetDateTime::now_utc(),
                body: req_body.as_bytes(),
                event_type: None,
            };
            headers.extend(Scheme::compile(&cfg).unwrap().sign(&input).unwrap().headers);
        }
        let req = apigw::request(
            &format!("/webhooks/{source}"),
            &headers,
            req_body.as_bytes(),
            false,
        );
        let status = fx.receiver.handle(req).await.status();
        assert_eq!(status.as_u16(), if signed { 202 } else { 401 });
    }
    assert!(moto::drain(&sqs, &stream).await.is_empty());
}

#[tokio::test]
async fn the_envelope_carries_the_invocations_trace() {
    use lambda_http::RequestExt;
    const TRACE: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let sqs = moto::sqs().await;
    let sm = moto::secretsmanager().await;
    let queue_url = moto::create_queue(&sqs, "inbound", false, &[]).await;
    let prefix = unique("hr");
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(sm.clone())),
            inbound: Arc::new(SqsQueue::new(sqs.clone(), queue_url.clone())),
            events: None,
            clock: Arc::new(ManualClock::new(OffsetDateTime::now_utc())),
        },
        Settings::new(prefix.clone()),
    );
    moto::put_secret(
        &sm,
        &format!("{prefix}/sources/traced"),
        &format!(r#"{{"signature":{KEY}}}"#),
    )
    .await;
    let body = br#"{"n":1}"#;
    let cfg: SignatureConfig = serde_json::from_str(KEY).unwrap();
    let mut headers = Scheme::compile(&cfg)
        .unwrap()
        .sign(&SignInput {
            id: "x",
            at: OffsetDateTime::now_utc(),
            body,
            event_type: None,
        })
        .unwrap()
        .headers;
    headers.push(("Content-Type".into(), "application/json".into()));
    let mut ctx = lambda_http::Context::default();
    ctx.xray_trace_id = Some(TRACE.into());
    let req = apigw::request("/webhooks/traced", &headers, body, false).with_lambda_context(ctx);
    assert_eq!(receiver.handle(req).await.status(), 202);
    let queued = moto::drain(&sqs, &queue_url).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0]
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader))
            .map(String::as_str),
        Some(TRACE)
    );
}
