//! Operations: the metrics each answer writes (CloudWatch's embedded
//! metric format, checked against the specification), against moto with
//! the real SDK.

use hookrelay_shared::clock::ManualClock;
use hookrelay_shared::metrics::{Lines, Metrics};
use hookrelay_shared::queue::SqsQueue;
use hookrelay_shared::schemes::{Scheme, SignInput, SignatureConfig};
use hookrelay_shared::secrets::SecretsManager;
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
