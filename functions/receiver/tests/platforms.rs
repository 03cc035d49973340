//! Each seed platform's own sample code signs a webhook; the receiver (with
//! moto behind it) accepts it and queues the exact body. One changed byte:
//! 401 and nothing queued.

use hookrelay_shared::aws::secrets_manager::SecretsManager;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::SystemClock;
use hookrelay_shared::envelope::OwnedEnvelope;
use hookrelay_test_support::platforms::{self, PLATFORMS};
use hookrelay_test_support::{apigw, moto, unique};
use receiver::{Ports, Receiver, Settings};
use std::sync::Arc;

const KEY: &str = "receiver-platform-key";

#[tokio::test]
async fn every_platform_sample_signer_is_accepted_and_a_changed_byte_is_401() {
    let sqs = moto::sqs().await;
    let sm = moto::secretsmanager().await;
    let queue_url = moto::create_queue(&sqs, "inbound", false, &[]).await;
    let prefix = unique("hr");
    for p in PLATFORMS {
        let bulk = if *p == "leaddone" {
            r#","bulk":{}"#
        } else {
            ""
        };
        let cfg = format!(
            r#"{{"signature":{}{bulk}}}"#,
            platforms::verify_config(p, KEY)
        );
        moto::put_secret(&sm, &format!("{prefix}/sources/{p}"), &cfg).await;
    }
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(SecretsManager::new(sm)),
            inbound: Arc::new(SqsQueue::new(sqs.clone(), queue_url.clone())),
            events: None,
            clock: Arc::new(SystemClock),
        },
        Settings::new(prefix),
    );

    let mut runs = 0;
    for platform in PLATFORMS {
        for input in platforms::inputs(platform) {
            for (lang, script) in platforms::scripts(platform, "sign") {
                for extra in platforms::sign_variants(platform) {
                    let mut env = vec![("FIXTURE_KEY", KEY)];
                    env.extend(extra);
                    let sent = platforms::sign(&script, &lang, &input, &env);
                    let what = format!("{platform} {lang} {} {env:?}", input.display());
                    let path = format!("/webhooks/{platform}");

                    let tampered = platforms::flip_one_byte(&sent.body);
                    let resp = receiver
                        .handle(apigw::request(
                            &path,
                            &sent.http_headers(),
                            tampered.as_bytes(),
                            false,
                        ))
                        .await;
                    assert_eq!(resp.status(), 401, "{what}: changed byte");
                    assert!(
                        moto::drain(&sqs, &queue_url).await.is_empty(),
                        "{what}: nothing queued on 401"
                    );

                    let resp = receiver
                        .handle(apigw::request(
                            &path,
                            &sent.http_headers(),
                            sent.body.as_bytes(),
                            false,
                        ))
                        .await;
                    assert!(
                        resp.status() == 202,
                        "{what}: {} {:?}",
                        resp.status(),
                        resp.body()
                    );
                    let queued = moto::drain(&sqs, &queue_url).await;
                    let envelopes: Vec<OwnedEnvelope> = queued
                        .iter()
                        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
                        .collect();
                    if *platform == "leaddone" {
                        // Bulk: one message per array element, each its exact bytes.
                        let elements: Vec<&serde_json::value::RawValue> =
                            serde_json::from_str(&sent.body).unwrap();
                        assert_eq!(envelopes.len(), elements.len(), "{what}");
                        for e in &envelopes {
                            assert_eq!(e.body, elements[e.bulk_index.unwrap()].get(), "{what}");
                        }
                    } else {
                        assert_eq!(envelopes.len(), 1, "{what}");
                        assert_eq!(envelopes[0].body, sent.body, "{what}: exact body");
                        assert_eq!(envelopes[0].source, *platform);
                    }
                    for m in &queued {
                        sqs.delete_message()
                            .queue_url(&queue_url)
                            .receipt_handle(m.receipt_handle().unwrap())
                            .send()
                            .await
                            .unwrap();
                    }
                    runs += 1;
                }
            }
        }
    }
    assert!(runs >= 20, "only {runs} runs");
}
