//! The receiver's handler against moto server with the real SDK: Secrets
//! Manager for source configuration, SQS for the inbound queue.

use hookrelay_shared::aws::secrets_manager::SecretsManager;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::{Clock, ManualClock};
use hookrelay_shared::envelope::{BodyEncoding, OwnedEnvelope};
use hookrelay_shared::queue::Queue;
use hookrelay_shared::schemes::{Scheme, SignInput, SignatureConfig};
use hookrelay_test_support::{apigw, moto, unique};
use lambda_http::Body;
use receiver::{Ports, Receiver, Settings};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

struct Fixture {
    receiver: Receiver,
    sqs: aws_sdk_sqs::Client,
    sm: aws_sdk_secretsmanager::Client,
    queue_url: String,
    prefix: String,
    clock: Arc<ManualClock>,
}

async fn fixture_with(queue_attrs: &[(&str, &str)], fifo: bool) -> Fixture {
    let sqs = moto::sqs().await;
    let sm = moto::secretsmanager().await;
    let queue_url = moto::create_queue(&sqs, "inbound", fifo, queue_attrs).await;
    let prefix = unique("hr");
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(sm.clone())),
            inbound: Arc::new(SqsQueue::new(sqs.clone(), queue_url.clone())),
            events: None,
            clock: clock.clone(),
        },
        Settings::new(prefix.clone()),
    );
    Fixture {
        receiver,
        sqs,
        sm,
        queue_url,
        prefix,
        clock,
    }
}

async fn fixture() -> Fixture {
    fixture_with(&[], false).await
}

impl Fixture {
    async fn add_source(&self, name: &str, config: &str) {
        moto::put_secret(&self.sm, &format!("{}/sources/{name}", self.prefix), config).await;
    }

    async fn post(
        &self,
        source: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        let req = apigw::request(&format!("/webhooks/{source}"), headers, body, false);
        response(self.receiver.handle(req).await)
    }

    async fn queued(&self) -> Vec<(OwnedEnvelope, aws_sdk_sqs::types::Message)> {
        moto::drain(&self.sqs, &self.queue_url)
            .await
            .into_iter()
            .map(|m| (serde_json::from_str(m.body().unwrap()).unwrap(), m))
            .collect()
    }

    fn sign(&self, config: &str, id: &str, body: &[u8]) -> Vec<(String, String)> {
        let cfg: SignatureConfig = serde_json::from_str(config).unwrap();
        let input = SignInput {
            id,
            at: self.clock.now(),
            body,
            event_type: None,
        };
        let mut h = Scheme::compile(&cfg).unwrap().sign(&input).unwrap().headers;
        h.push(("Content-Type".into(), "application/json".into()));
        h
    }
}

fn response(resp: lambda_http::Response<Body>) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(serde_json::Value::Null),
        _ => serde_json::Value::Null,
    };
    (status, body)
}

const GITHUB: &str = r#"{"signature":{"scheme":"github","keys":["gh-secret"]}}"#;

#[tokio::test]
async fn a_verified_webhook_becomes_one_envelope_on_the_queue() {
    let f = fixture().await;
    f.add_source("github", GITHUB).await;
    let body = br#"{"ref":"refs/heads/main", "n": 1.0}"#;
    let mut headers = f.sign(r#"{"scheme":"github","keys":["gh-secret"]}"#, "x", body);
    headers.push(("X-GitHub-Event".into(), "push".into()));
    headers.push((
        "X-GitHub-Delivery".into(),
        "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
    ));
    headers.push(("Authorization".into(), "token must-not-be-copied".into()));

    let (status, answer) = f.post("github", &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["id"], "72d3162e-cc78-11e3-81ab-4c9367dc0958");

    let queued = f.queued().await;
    assert_eq!(queued.len(), 1);
    let (env, msg) = &queued[0];
    assert_eq!(env.version, 1);
    assert_eq!(env.id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(env.source, "github");
    assert_eq!(env.event_type.as_deref(), Some("push"));
    assert_eq!(env.body_encoding, BodyEncoding::Utf8);
    assert_eq!(&*env.body_bytes().unwrap(), body, "exact raw bytes");
    assert_eq!(
        env.headers.get("x-github-event").map(String::as_str),
        Some("push")
    );
    assert_eq!(
        env.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    assert!(!env.headers.contains_key("authorization"));
    assert!(!env.headers.contains_key("x-hub-signature-256"));
    assert_eq!((env.received_at - f.clock.now()).whole_seconds(), 0);
    let attrs = msg.message_attributes().unwrap();
    assert_eq!(attrs["source"].string_value(), Some("github"));
    assert_eq!(attrs["event-type"].string_value(), Some("push"));
}

#[tokio::test]
async fn base64_encoded_binary_bodies_are_verified_and_kept_exactly() {
    let f = fixture().await;
    let cfg = r#"{"scheme":"hmac","keys":["k"],"header":"X-Sig","encoding":"base64"}"#;
    f.add_source("bin", &format!(r#"{{"signature":{cfg}}}"#))
        .await;
    let body: Vec<u8> = vec![0xff, 0xfe, 0x00, 0x01, b'{', 0x80];
    let headers = f.sign(cfg, "x", &body);
    let req = apigw::request("/webhooks/bin", &headers, &body, true);
    let (status, answer) = response(f.receiver.handle(req).await);
    assert_eq!(status, 202, "{answer}");
    let queued = f.queued().await;
    assert_eq!(queued[0].0.body_encoding, BodyEncoding::Base64);
    assert_eq!(&*queued[0].0.body_bytes().unwrap(), &body[..]);
    // No delivery id from the platform: a UUID.
    assert!(uuid::Uuid::parse_str(answer["id"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn bad_or_missing_signatures_get_401_and_nothing_is_queued() {
    let f = fixture().await;
    f.add_source("github", GITHUB).await;
    let body = br#"{"a":1}"#;
    let good = f.sign(r#"{"scheme":"github","keys":["gh-secret"]}"#, "x", body);
    let wrong = f.sign(r#"{"scheme":"github","keys":["other"]}"#, "x", body);

    for (headers, body) in [
        (&wrong, &body[..]),
        (&vec![], &body[..]),
        (&good, &br#"{"a":2}"#[..]),
    ] {
        let (status, answer) = f.post("github", headers, body).await;
        assert_eq!(status, 401);
        assert_eq!(answer, serde_json::json!({"error": "invalid signature"}));
    }
    assert!(f.queued().await.is_empty());
}

#[tokio::test]
async fn unknown_sources_methods_and_names_are_refused() {
    let f = fixture().await;
    let (status, answer) = f.post("nope", &[], b"{}").await;
    assert_eq!(
        (status, answer),
        (404, serde_json::json!({"error": "unknown source"}))
    );
    let (status, _) = f.post("..", &[], b"{}").await;
    assert_eq!(status, 404);

    let mut event: serde_json::Value =
        serde_json::from_str(&apigw::post_event("/webhooks/x", &[], b"", false)).unwrap();
    event["requestContext"]["http"]["method"] = "GET".into();
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(f.receiver.handle(req).await.status(), 405);

    // A function limited to some sources does not serve the others.
    let mut settings = Settings::new(f.prefix.clone());
    settings.only_sources = Some(vec!["stripe".into()]);
    f.add_source("github", GITHUB).await;
    let limited = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(f.sm.clone())),
            inbound: Arc::new(SqsQueue::new(f.sqs.clone(), f.queue_url.clone())),
            events: None,
            clock: f.clock.clone(),
        },
        settings,
    );
    let req = apigw::request("/webhooks/github", &[], b"{}", false);
    assert_eq!(limited.handle(req).await.status(), 404);
}

#[tokio::test]
async fn malformed_json_and_oversize_bodies_get_4xx_and_nothing_is_queued() {
    let f = fixture().await;
    f.add_source(
        "leanbe",
        r#"{"signature":{"scheme":"leanbe","keys":["k"]}}"#,
    )
    .await;
    let (status, answer) = f.post("leanbe", &[], b"{not json").await;
    assert_eq!(
        (status, answer),
        (400, serde_json::json!({"error": "malformed JSON"}))
    );

    // A JSON-pointer event type needs a JSON body even when the signature does not.
    let cfg = r#"{"scheme":"hmac","keys":["k"]}"#;
    f.add_source(
        "typed",
        &format!(r#"{{"signature":{cfg},"event_type":{{"json_pointer":"/type"}}}}"#),
    )
    .await;
    let headers = f.sign(cfg, "x", b"type=a");
    assert_eq!(f.post("typed", &headers, b"type=a").await.0, 400);

    f.add_source("github", GITHUB).await;
    let big = vec![b'x'; 262_145];
    let (status, answer) = f.post("github", &[], &big).await;
    assert_eq!(status, 413);
    assert_eq!(answer["limit_bytes"], 262_144);
    // Under the body limit but over it once wrapped in the envelope.
    let body = vec![b'"'; 200_000];
    let headers = f.sign(r#"{"scheme":"github","keys":["gh-secret"]}"#, "x", &body);
    assert_eq!(f.post("github", &headers, &body).await.0, 413);
    assert!(f.queued().await.is_empty());
}

#[tokio::test]
async fn event_type_from_a_json_pointer_and_platform_delivery_ids() {
    let f = fixture().await;
    let cfg = r#"{"scheme":"standard-webhooks","keys":["whsec_dGVzdC1zZWNyZXQ="]}"#;
    f.add_source("sw", &format!(r#"{{"signature":{cfg}}}"#))
        .await;
    let body = br#"{"type":"invoice.paid","data":{}}"#;
    let headers = f.sign(cfg, "msg_abc", body);
    let (status, answer) = f.post("sw", &headers, body).await;
    assert_eq!(status, 202);
    assert_eq!(answer["id"], "msg_abc");
    let (env, _) = &f.queued().await[0];
    assert_eq!(env.event_type.as_deref(), Some("invoice.paid"));
}

#[tokio::test]
async fn stale_timestamps_are_401() {
    let f = fixture().await;
    let cfg = r#"{"scheme":"stripe","keys":["whsec_x"]}"#;
    f.add_source("stripe", &format!(r#"{{"signature":{cfg}}}"#))
        .await;
    let body = br#"{"id":"evt_1","type":"charge.succeeded"}"#;
    let headers = f.sign(cfg, "x", body);
    f.clock.advance(Duration::from_secs(301));
    assert_eq!(f.post("stripe", &headers, body).await.0, 401);
    assert!(f.queued().await.is_empty());
}

#[tokio::test]
async fn bulk_bodies_become_one_message_per_element_with_leaddone_answers() {
    // A queue that refuses messages over 1 KiB: the 11th element (second
    // SendMessageBatch chunk) is too big for it, the first ten are not.
    let f = fixture_with(&[("MaximumMessageSize", "1024")], false).await;
    f.add_source(
        "leaddone",
        r#"{"signature":{"scheme":"leaddone","clients":{"shop-1":["ld-secret"]}},"bulk":{},"event_type":{"json_pointer":"/status"}}"#,
    )
    .await;
    let mut elements: Vec<String> =
        (0..10).map(|i| format!(r#"{{"id":"ORD-{i}","article":"A","price":199,"phone":"0600000000","status":"new"}}"#)).collect();
    elements.push(format!(
        r#"{{"id":"ORD-BIG","article":"{}","price":1,"phone":"0"}}"#,
        "x".repeat(1200)
    ));
    let body = format!("[{}]", elements.join(",\n"));
    let headers = f.sign(
        r#"{"scheme":"leaddone","client_id":"shop-1","keys":["ld-secret"]}"#,
        "x",
        body.as_bytes(),
    );

    let (status, answer) = f.post("leaddone", &headers, body.as_bytes()).await;
    assert_eq!(status, 207, "{answer}");
    let results = answer.as_array().unwrap();
    assert_eq!(results.len(), 11);
    for (i, r) in results.iter().take(10).enumerate() {
        assert_eq!(r["success"], true);
        assert_eq!(r["order_id"], format!("ORD-{i}"));
        assert!(r["internal_id"].is_string());
        assert!(r["message"].is_string());
    }
    assert_eq!(results[10]["success"], false);
    assert_eq!(results[10]["order_id"], "ORD-BIG");

    let mut queued = f.queued().await;
    assert_eq!(queued.len(), 10);
    queued.sort_by_key(|(e, _)| e.bulk_index);
    for (i, (env, _)) in queued.iter().enumerate() {
        assert_eq!(env.bulk_index, Some(i));
        assert_eq!(env.body, elements[i], "each element's exact bytes");
        assert_eq!(env.event_type.as_deref(), Some("new"));
        assert_eq!(env.id, results[i]["internal_id"].as_str().unwrap());
    }
}

#[tokio::test]
async fn bulk_bodies_must_be_arrays() {
    let f = fixture().await;
    let cfg = r#"{"scheme":"leaddone","client_id":"c","keys":["k"]}"#;
    f.add_source("ld", &format!(r#"{{"signature":{cfg},"bulk":{{}}}}"#))
        .await;
    for body in [&br#"{"id":1}"#[..], &b"[1,"[..]] {
        let headers = f.sign(cfg, "x", body);
        assert_eq!(f.post("ld", &headers, body).await.0, 400);
    }
    assert!(f.queued().await.is_empty());
}

#[tokio::test]
async fn fifo_queues_deduplicate_a_redelivered_webhook() {
    let f = fixture_with(&[("ContentBasedDeduplication", "false")], true).await;
    f.add_source("github", GITHUB).await;
    let body = br#"{"zen":"Keep it logically awesome."}"#;
    let mut headers = f.sign(r#"{"scheme":"github","keys":["gh-secret"]}"#, "x", body);
    headers.push(("X-GitHub-Delivery".into(), "d-1".into()));
    assert_eq!(f.post("github", &headers, body).await.0, 202);
    assert_eq!(f.post("github", &headers, body).await.0, 202);
    let queued = f.queued().await;
    assert_eq!(queued.len(), 1);
    let attrs = queued[0].1.attributes().unwrap();
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    assert_eq!(
        attrs.get(&A::MessageDeduplicationId).map(String::as_str),
        Some("d-1")
    );
    assert_eq!(
        attrs.get(&A::MessageGroupId).map(String::as_str),
        Some("github")
    );
}

#[tokio::test]
async fn secrets_manager_down_is_503_and_nothing_is_queued() {
    let sqs = moto::sqs().await;
    let queue_url = moto::create_queue(&sqs, "inbound", false, &[]).await;
    let down = aws_sdk_secretsmanager::Client::new(&moto::sdk_config_down().await);
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(down)),
            inbound: Arc::new(SqsQueue::new(sqs.clone(), queue_url.clone())),
            events: None,
            clock: Arc::new(hookrelay_shared::clock::SystemClock),
        },
        Settings::new("hr"),
    );
    let resp = receiver
        .handle(apigw::request("/webhooks/github", &[], b"{}", false))
        .await;
    assert_eq!(resp.headers().get("retry-after").unwrap(), "5");
    let (status, answer) = response(resp);
    assert_eq!(
        (status, answer),
        (
            503,
            serde_json::json!({"error": "temporarily unavailable, retry later"})
        )
    );
    assert!(moto::drain(&sqs, &queue_url).await.is_empty());
}

#[tokio::test]
async fn sqs_down_is_503_never_202() {
    let sm = moto::secretsmanager().await;
    let prefix = unique("hr");
    moto::put_secret(&sm, &format!("{prefix}/sources/github"), GITHUB).await;
    let down = aws_sdk_sqs::Client::new(&moto::sdk_config_down().await);
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(sm)),
            inbound: Arc::new(SqsQueue::new(
                down,
                "http://127.0.0.1:1/000000000000/inbound",
            )),
            events: None,
            clock: Arc::new(hookrelay_shared::clock::SystemClock),
        },
        Settings::new(prefix),
    );
    let body = br#"{"a":1}"#;
    let cfg: SignatureConfig =
        serde_json::from_str(r#"{"scheme":"github","keys":["gh-secret"]}"#).unwrap();
    let input = SignInput {
        id: "x",
        at: OffsetDateTime::now_utc(),
        body,
        event_type: None,
    };
    let headers = Scheme::compile(&cfg).unwrap().sign(&input).unwrap().headers;
    let (status, _) = response(
        receiver
            .handle(apigw::request("/webhooks/github", &headers, body, false))
            .await,
    );
    assert_eq!(status, 503);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_a_refresh_at_most_every_30_seconds() {
    let f = fixture().await;
    let name = format!("{}/sources/shop", f.prefix);
    f.add_source(
        "shop",
        r#"{"signature":{"scheme":"shopify","keys":["old-key"]}}"#,
    )
    .await;
    let body = br#"{"id":1}"#;
    let old = f.sign(r#"{"scheme":"shopify","keys":["old-key"]}"#, "x", body);
    let new = f.sign(r#"{"scheme":"shopify","keys":["new-key"]}"#, "x", body);
    assert_eq!(
        f.post("shop", &old, body).await.0,
        202,
        "cache warmed with the old key"
    );

    // Rotation: a new version becomes AWSCURRENT.
    let put =
        f.sm.put_secret_value()
            .secret_id(&name)
            .secret_string(r#"{"signature":{"scheme":"shopify","keys":["new-key"]}}"#)
            .send()
            .await
            .unwrap();
    assert!(put.version_stages().contains(&"AWSCURRENT".to_string()));

    assert_eq!(
        f.post("shop", &new, body).await.0,
        401,
        "refreshed less than 30 s ago"
    );
    f.clock.advance(Duration::from_secs(30));
    assert_eq!(
        f.post("shop", &new, body).await.0,
        202,
        "refreshed, new key verifies"
    );
    assert_eq!(
        f.post("shop", &old, body).await.0,
        401,
        "old key no longer configured"
    );
    assert_eq!(f.queued().await.len(), 2);
}

#[tokio::test]
async fn the_queue_port_reports_sqs_refusals_as_rejections() {
    let sqs = moto::sqs().await;
    let url = moto::create_queue(&sqs, "small", false, &[("MaximumMessageSize", "1024")]).await;
    let q = SqsQueue::new(sqs, url);
    let err = q
        .send(hookrelay_shared::queue::OutgoingMessage::new(
            "x".repeat(2000),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, hookrelay_shared::queue::QueueError::Rejected(_)),
        "{err:?}"
    );
}

/// A receiver whose sources relay to an events queue (`events_down`: one
/// nobody answers), with its own inbound queue.
async fn relaying(f: &Fixture, events_url: &str, events_down: bool) -> Receiver {
    let events_client = if events_down {
        aws_sdk_sqs::Client::new(&moto::sdk_config_down().await)
    } else {
        f.sqs.clone()
    };
    Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(f.sm.clone())),
            inbound: Arc::new(SqsQueue::new(f.sqs.clone(), f.queue_url.clone())),
            events: Some(Arc::new(SqsQueue::new(
                events_client,
                events_url.to_string(),
            ))),
            clock: f.clock.clone(),
        },
        Settings::new(f.prefix.clone()),
    )
}

/// GitHub does not sign `X-GitHub-Event`: relaying on it must be asked for.
const GITHUB_RELAY: &str = r#"{"signature":{"scheme":"github","keys":["gh-secret"]},"relay":true,"relay_unsigned_event_type":true}"#;

fn github_headers(f: &Fixture, body: &[u8], delivery: &str) -> Vec<(String, String)> {
    let mut headers = f.sign(r#"{"scheme":"github","keys":["gh-secret"]}"#, "x", body);
    headers.push(("X-GitHub-Event".into(), "push".into()));
    headers.push(("X-GitHub-Delivery".into(), delivery.into()));
    headers
}

#[tokio::test]
async fn a_relay_failure_is_503_and_the_platform_retry_fans_out() {
    let f = fixture().await;
    f.add_source("github", GITHUB_RELAY).await;
    let events = moto::create_queue(&f.sqs, "events", false, &[]).await;
    let body = br#"{"ref":"refs/heads/main"}"#;
    let headers = github_headers(&f, body, "d-7");

    // The events queue is down: queued on the inbound queue, but not a 2xx.
    let down = relaying(&f, &events, true).await;
    let req = apigw::request("/webhooks/github", &headers, body, false);
    let resp = down.handle(req).await;
    assert_eq!(resp.headers().get("retry-after").unwrap(), "5");
    assert_eq!(
        response(resp),
        (
            503,
            serde_json::json!({"error": "temporarily unavailable, retry later"})
        )
    );
    assert!(moto::drain(&f.sqs, &events).await.is_empty());

    // The platform sends it again: relayed this time, under the same id.
    let up = relaying(&f, &events, false).await;
    let req = apigw::request("/webhooks/github", &headers, body, false);
    assert_eq!(response(up.handle(req).await).0, 202);
    let relayed = moto::drain(&f.sqs, &events).await;
    assert_eq!(relayed.len(), 1);
    let event: serde_json::Value = serde_json::from_str(relayed[0].body().unwrap()).unwrap();
    assert_eq!(event["id"], "github:d-7");
    assert_eq!(event["type"], "push");
    // The inbound queue saw the webhook twice, with the same id.
    let ids: Vec<String> = f
        .queued()
        .await
        .into_iter()
        .map(|(e, _)| e.id.to_string())
        .collect();
    assert_eq!(ids, vec!["d-7", "d-7"]);
}

#[tokio::test]
async fn a_relaying_source_without_an_events_queue_queues_nothing() {
    let f = fixture().await;
    f.add_source("github", GITHUB_RELAY).await;
    let body = br#"{"a":1}"#;
    let headers = github_headers(&f, body, "d-1");
    let (status, answer) = f.post("github", &headers, body).await;
    assert_eq!(status, 500, "{answer}");
    assert!(f.queued().await.is_empty(), "refused before queueing");
}

#[tokio::test]
async fn bulk_relays_only_what_the_inbound_queue_accepted() {
    let f = fixture_with(&[("MaximumMessageSize", "1024")], false).await;
    let events = moto::create_queue(&f.sqs, "events", false, &[]).await;
    f.add_source(
        "leaddone",
        r#"{"signature":{"scheme":"leaddone","clients":{"shop-1":["ld-secret"]}},"bulk":{},"relay":true,"event_type":{"json_pointer":"/status"}}"#,
    )
    .await;
    let mut elements: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"id":"ORD-{i}","status":"new"}}"#))
        .collect();
    // Too big for the inbound queue, not for the events queue (and in a
    // second SendMessageBatch chunk, so the first ten are accepted).
    elements.push(format!(
        r#"{{"id":"ORD-BIG","status":"new","note":"{}"}}"#,
        "x".repeat(1200)
    ));
    let body = format!("[{}]", elements.join(","));
    let headers = f.sign(
        r#"{"scheme":"leaddone","client_id":"shop-1","keys":["ld-secret"]}"#,
        "x",
        body.as_bytes(),
    );
    let req = || apigw::request("/webhooks/leaddone", &headers, body.as_bytes(), false);

    let up = relaying(&f, &events, false).await;
    let (status, answer) = response(up.handle(req()).await);
    assert_eq!(status, 207, "{answer}");
    let relayed: Vec<String> = moto::drain(&f.sqs, &events)
        .await
        .iter()
        .map(|m| {
            let e: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
            e["payload"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    let mut relayed = relayed;
    relayed.sort();
    let accepted: Vec<String> = (0..10).map(|i| format!("ORD-{i}")).collect();
    assert_eq!(relayed, accepted, "not ORD-BIG");
    assert_eq!(f.queued().await.len(), 10);

    // Events queue down: every element is on the inbound queue, none fanned
    // out, so none counts as received and the platform sends them again.
    let down = relaying(&f, &events, true).await;
    let (status, answer) = response(down.handle(req()).await);
    assert_eq!(status, 503, "{answer}");
    let results = answer.as_array().unwrap();
    for r in &results[..10] {
        assert_eq!(r["success"], false);
        assert_eq!(r["message"], "not relayed for fan-out, retry this element");
    }
    assert_eq!(results[10]["message"], "rejected by the queue");
}

// ---------------------------------------------------------------------------
// Issue 12: what the signature covers.
// ---------------------------------------------------------------------------

/// A request whose headers may repeat: API Gateway's payload 2.0 joins
/// repeated headers with commas; `lambda_http` also accepts a list, which
/// gives the function several values of one header (what a transport that
/// does not join them hands over).
fn request_with_values(
    path: &str,
    headers: &[(&str, Vec<String>)],
    body: &[u8],
) -> lambda_http::Request {
    let mut event: serde_json::Value =
        serde_json::from_str(&apigw::post_event(path, &[], body, false)).unwrap();
    for (name, values) in headers {
        event["headers"][name.to_ascii_lowercase()] = serde_json::json!(values);
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

#[tokio::test]
async fn a_repeated_signature_header_with_different_values_is_refused_in_either_order() {
    let f = fixture().await;
    let cfg = r#"{"scheme":"leaflink","keys":["ll-secret"]}"#;
    f.add_source("leaflink", &format!(r#"{{"signature":{cfg}}}"#))
        .await;
    let body = br#"{"order":1}"#;
    let valid = f.sign(cfg, "x", body)[0].1.clone();
    let bogus = f.sign(r#"{"scheme":"leaflink","keys":["other"]}"#, "x", body)[0]
        .1
        .clone();

    for values in [
        vec![valid.clone(), bogus.clone()],
        vec![bogus.clone(), valid.clone()],
        // What API Gateway hands the function for the same request.
        vec![format!("{valid},{bogus}")],
        vec![format!("{bogus},{valid}")],
    ] {
        let req = request_with_values(
            "/webhooks/leaflink",
            &[("LL-Signature", values.clone())],
            body,
        );
        let (status, answer) = response(f.receiver.handle(req).await);
        assert_eq!(status, 401, "{values:?}: {answer}");
    }
    assert!(f.queued().await.is_empty(), "nothing queued");

    // Identical copies are one value.
    let req = request_with_values(
        "/webhooks/leaflink",
        &[("LL-Signature", vec![valid.clone(), valid])],
        body,
    );
    assert_eq!(response(f.receiver.handle(req).await).0, 202);
}

const LEANBE: &str = r#"{"signature":{"scheme":"leanbe","keys":["lb-secret"]}}"#;

fn leanbe_body(payload: &str, signed: &str, extra: &str) -> String {
    let cfg: SignatureConfig =
        serde_json::from_str(r#"{"scheme":"leanbe","keys":["lb-secret"]}"#).unwrap();
    // The genuine signature of `signed`, as Leanbe would send it.
    let genuine = Scheme::compile(&cfg)
        .unwrap()
        .sign(&SignInput {
            id: "x",
            at: OffsetDateTime::now_utc(),
            body: signed.as_bytes(),
            event_type: Some("order.paid"),
        })
        .unwrap()
        .body
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&genuine).unwrap();
    format!(
        r#"{{"payload":{payload},"event":"order.paid","triggeredAt":"2026-01-01T00:00:00.000Z","signature":"{}"{extra}}}"#,
        v["signature"].as_str().unwrap()
    )
}

#[tokio::test]
async fn leanbe_bodies_are_queued_only_when_the_signature_pins_them_down() {
    let f = fixture().await;
    f.add_source("leanbe", LEANBE).await;
    let f = &f;
    let post = |body: String| async move { f.post("leanbe", &[], body.as_bytes()).await };

    // Genuine signatures, payloads that say something else.
    let signed = r#"{"id":9007199254740992,"status":"pending"}"#;
    assert_eq!(
        post(leanbe_body(
            r#"{"id":9007199254740993,"status":"pending"}"#,
            signed,
            ""
        ))
        .await
        .0,
        401
    );
    assert_eq!(
        post(leanbe_body(
            r#"{"id":9007199254740992,"status":"paid","status":"pending"}"#,
            signed,
            ""
        ))
        .await
        .0,
        401
    );
    for malformed in [
        leanbe_body(signed, signed, r#","amount":1"#),
        leanbe_body(signed, signed, &format!(r#","payload":{signed}"#)),
    ] {
        assert_eq!(post(malformed).await.0, 400);
    }
    let sig = serde_json::from_str::<serde_json::Value>(&leanbe_body(signed, signed, "")).unwrap()
        ["signature"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        post(format!(r#"[{signed},"{sig}"]"#)).await.0,
        400,
        "array body"
    );
    assert!(f.queued().await.is_empty(), "nothing queued");

    // Pretty-printed, the same values: queued byte for byte.
    let pretty = leanbe_body(
        "{\n  \"id\": 9007199254740992,\n  \"status\": \"pending\"\n}",
        signed,
        "",
    );
    assert_eq!(post(pretty.clone()).await.0, 202);
    let queued = f.queued().await;
    assert_eq!(&*queued[0].0.body_bytes().unwrap(), pretty.as_bytes());
}

#[tokio::test]
async fn the_envelope_says_whether_the_signature_covers_the_event_type() {
    let f = fixture().await;
    f.add_source("github", GITHUB).await;
    let body = br#"{"ref":"refs/heads/main"}"#;
    let headers = github_headers(&f, body, "d-1");
    assert_eq!(f.post("github", &headers, body).await.0, 202);
    let sw = r#"{"scheme":"standard-webhooks","keys":["whsec_dGVzdC1zZWNyZXQ="]}"#;
    f.add_source("sw", &format!(r#"{{"signature":{sw}}}"#))
        .await;
    let body = br#"{"type":"invoice.paid"}"#;
    assert_eq!(f.post("sw", &f.sign(sw, "msg_1", body), body).await.0, 202);

    let mut queued = f.queued().await;
    queued.sort_by_key(|(e, _)| e.source.to_string());
    let raw: Vec<serde_json::Value> = queued
        .iter()
        .map(|(_, m)| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(
        (raw[0]["source"].as_str(), raw[0]["event_type"].as_str()),
        (Some("github"), Some("push"))
    );
    assert_eq!(
        raw[0]["event_type_signed"], false,
        "X-GitHub-Event is not signed"
    );
    assert_eq!(
        (raw[1]["source"].as_str(), raw[1]["event_type"].as_str()),
        (Some("sw"), Some("invoice.paid"))
    );
    assert_eq!(
        raw[1]["event_type_signed"], true,
        "/type is inside the signed body"
    );
    assert_eq!(raw[1]["version"], 1, "same version: a member was added");
}

#[tokio::test]
async fn relay_refuses_an_uncovered_event_type_unless_the_source_says_so() {
    let f = fixture().await;
    let events = moto::create_queue(&f.sqs, "events", false, &[]).await;
    let up = relaying(&f, &events, false).await;
    let body = br#"{"ref":"refs/heads/main"}"#;

    // Relaying GitHub without the opt-in: the webhook is queued on the
    // inbound queue (nothing verified is lost) and answered 202, but the
    // header's event type is not fanned out.
    f.add_source(
        "github",
        r#"{"signature":{"scheme":"github","keys":["gh-secret"]},"relay":true}"#,
    )
    .await;
    let headers = github_headers(&f, body, "d-1");
    let req = apigw::request("/webhooks/github", &headers, body, false);
    assert_eq!(response(up.handle(req).await).0, 202);
    assert!(moto::drain(&f.sqs, &events).await.is_empty(), "not relayed");
    let queued = f.queued().await;
    assert_eq!(queued.len(), 1, "queued on the inbound queue");
    assert!(!queued[0].0.event_type_signed);

    // Leanbe's `event` member is not signed either.
    f.add_source(
        "leanbe",
        r#"{"signature":{"scheme":"leanbe","keys":["lb-secret"]},"relay":true}"#,
    )
    .await;
    let lb = leanbe_body(r#"{"a":1}"#, r#"{"a":1}"#, "");
    let req = apigw::request("/webhooks/leanbe", &[], lb.as_bytes(), false);
    assert_eq!(response(up.handle(req).await).0, 202);
    assert!(moto::drain(&f.sqs, &events).await.is_empty(), "not relayed");
    assert_eq!(f.queued().await.len(), 1);

    // With the explicit opt-in, relayed.
    f.add_source("github2", GITHUB_RELAY).await;
    let req = apigw::request("/webhooks/github2", &headers, body, false);
    assert_eq!(response(up.handle(req).await).0, 202);
    let relayed = moto::drain(&f.sqs, &events).await;
    assert_eq!(relayed.len(), 1);
    let event: serde_json::Value = serde_json::from_str(relayed[0].body().unwrap()).unwrap();
    assert_eq!(event["type"], "push");

    // A type the signature covers needs no opt-in.
    let sw = r#"{"scheme":"standard-webhooks","keys":["whsec_dGVzdC1zZWNyZXQ="]}"#;
    f.add_source("sw", &format!(r#"{{"signature":{sw},"relay":true}}"#))
        .await;
    let body = br#"{"type":"invoice.paid"}"#;
    let req = apigw::request("/webhooks/sw", &f.sign(sw, "msg_9", body), body, false);
    assert_eq!(response(up.handle(req).await).0, 202);
    let relayed = moto::drain(&f.sqs, &events).await;
    assert_eq!(relayed.len(), 1);
    let event: serde_json::Value = serde_json::from_str(relayed[0].body().unwrap()).unwrap();
    assert_eq!(event["type"], "invoice.paid");
}

/// Found by `cargo fuzz` (fuzz/regressions/envelope/): a delivery id and an
/// event type read from a verified body may hold characters SQS refuses
/// (`\uffff` and `\u0000` escapes in the JSON; a raw U+FFFF in a relayed
/// payload). They are escaped in the messages' JSON and replaced in
/// attributes, so the webhook is queued, not answered 500 on every retry.
/// Both queues refuse what real SQS refuses (moto takes any character).
#[tokio::test]
async fn ids_and_event_types_with_characters_sqs_refuses_are_queued() {
    use hookrelay_test_support::sqs_rules::StrictQueue;
    let f = fixture().await;
    let events = moto::create_queue(&f.sqs, "events", false, &[]).await;
    let inbound = Arc::new(StrictQueue::new(SqsQueue::new(
        f.sqs.clone(),
        f.queue_url.clone(),
    )));
    let relayed_to = Arc::new(StrictQueue::new(SqsQueue::new(
        f.sqs.clone(),
        events.clone(),
    )));
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(f.sm.clone())),
            inbound: inbound.clone(),
            events: Some(relayed_to.clone()),
            clock: f.clock.clone(),
        },
        Settings::new(f.prefix.clone()),
    );
    let cfg = r#"{"scheme":"stripe","keys":["whsec_stripe"]}"#;
    f.add_source("stripe", &format!(r#"{{"signature":{cfg},"relay":true}}"#))
        .await;
    let body =
        "{\"id\":\"evt_\\uffff1\",\"type\":\"order.\\u0000created\",\"note\":\"a\u{ffff}b\"}";
    let headers = f.sign(cfg, "x", body.as_bytes());
    let req = apigw::request("/webhooks/stripe", &headers, body.as_bytes(), false);
    let (status, answer) = response(receiver.handle(req).await);
    assert_eq!(status, 202, "{answer}");
    assert!(inbound.refusals().is_empty(), "{:?}", inbound.refusals());
    assert!(
        relayed_to.refusals().is_empty(),
        "{:?}",
        relayed_to.refusals()
    );

    let queued = f.queued().await;
    assert_eq!(queued.len(), 1);
    let (env, msg) = &queued[0];
    assert_eq!(env.id, "evt_\u{ffff}1");
    assert_eq!(env.event_type.as_deref(), Some("order.\u{0}created"));
    assert_eq!(&*env.body_bytes().unwrap(), body.as_bytes());
    let attrs = msg.message_attributes().unwrap();
    assert_eq!(
        attrs["event-type"].string_value(),
        Some("order.\u{fffd}created")
    );
    let relayed = moto::drain(&f.sqs, &events).await;
    assert_eq!(relayed.len(), 1);
    let event: serde_json::Value = serde_json::from_str(relayed[0].body().unwrap()).unwrap();
    assert_eq!(event["id"], "stripe:evt_\u{ffff}1");
    assert_eq!(event["type"], "order.\u{0}created");
    assert_eq!(event["payload"]["note"], "a\u{ffff}b");
}

// ---------------------------------------------------------------------------
// Issue 18: bulk ids and 503s.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_retried_bulk_element_keeps_its_id_end_to_end() {
    let f = fixture().await;
    let events = moto::create_queue(&f.sqs, "events", false, &[]).await;
    let up = relaying(&f, &events, false).await;
    f.add_source(
        "leaddone",
        r#"{"signature":{"scheme":"leaddone","clients":{"shop-1":["ld-secret"]}},"bulk":{},"relay":true,"event_type":{"json_pointer":"/status"}}"#,
    )
    .await;
    let signing = r#"{"scheme":"leaddone","client_id":"shop-1","keys":["ld-secret"]}"#;
    let post = |elements: Vec<&str>| {
        let body = format!("[{}]", elements.join(","));
        let headers = f.sign(signing, "x", body.as_bytes());
        let req = apigw::request("/webhooks/leaddone", &headers, body.as_bytes(), false);
        let up = &up;
        async move { response(up.handle(req).await) }
    };
    let ids = |answer: &serde_json::Value| -> Vec<String> {
        answer
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["internal_id"].as_str().unwrap().to_string())
            .collect()
    };
    let relayed_ids = |msgs: Vec<aws_sdk_sqs::types::Message>| -> Vec<String> {
        msgs.iter()
            .map(|m| {
                let e: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
                e["id"].as_str().unwrap().to_string()
            })
            .collect()
    };

    let a = r#"{"id":"ORD-1","status":"new"}"#;
    let b = r#"{"id":"ORD-2","status":"new"}"#;
    let (status, first) = post(vec![a, b]).await;
    assert_eq!(status, 202, "{first}");
    let first_relayed = relayed_ids(moto::drain(&f.sqs, &events).await);

    // The platform sends ORD-2 again, alone, in a new request (no delivery
    // id): same envelope id, same event id for the router.
    let (status, retry) = post(vec![b]).await;
    assert_eq!(status, 202, "{retry}");
    assert_eq!(ids(&retry)[0], ids(&first)[1]);
    let retry_relayed = relayed_ids(moto::drain(&f.sqs, &events).await);
    assert!(
        first_relayed.contains(&retry_relayed[0]),
        "{first_relayed:?} {retry_relayed:?}"
    );
    let mut envelope_ids: Vec<String> = f
        .queued()
        .await
        .iter()
        .map(|(e, _)| e.id.to_string())
        .collect();
    envelope_ids.sort();
    assert_eq!(
        envelope_ids
            .iter()
            .filter(|id| **id == ids(&first)[1])
            .count(),
        2
    );

    // The same order with its next status is another event.
    let (_, next) = post(vec![r#"{"id":"ORD-2","status":"approved"}"#]).await;
    assert_ne!(ids(&next)[0], ids(&first)[1]);
    assert!(ids(&next)[0].starts_with("ORD-2."));
}

#[tokio::test]
async fn a_bulk_503_carries_retry_after() {
    let sm = moto::secretsmanager().await;
    let prefix = unique("hr");
    let signing = r#"{"scheme":"leaddone","client_id":"shop-1","keys":["ld-secret"]}"#;
    moto::put_secret(
        &sm,
        &format!("{prefix}/sources/leaddone"),
        &format!(r#"{{"signature":{signing},"bulk":{{}}}}"#),
    )
    .await;
    // The inbound queue does not answer: no element is queued.
    let down = aws_sdk_sqs::Client::new(&moto::sdk_config_down().await);
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(sm)),
            inbound: Arc::new(SqsQueue::new(
                down,
                "http://127.0.0.1:1/000000000000/inbound",
            )),
            events: None,
            clock: Arc::new(hookrelay_shared::clock::SystemClock),
        },
        Settings::new(prefix),
    );
    let body = br#"[{"id":"ORD-1"},{"id":"ORD-2"}]"#;
    let cfg: SignatureConfig = serde_json::from_str(signing).unwrap();
    let headers = Scheme::compile(&cfg)
        .unwrap()
        .sign(&SignInput {
            id: "x",
            at: OffsetDateTime::now_utc(),
            body,
            event_type: None,
        })
        .unwrap()
        .headers;
    let resp = receiver
        .handle(apigw::request("/webhooks/leaddone", &headers, body, false))
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("5")
    );
}
