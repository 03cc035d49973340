//! For each seed platform's format, the platform's own verification code
//! (in its own language) accepts what the sender delivered.

mod common;

use common::World;
use hookrelay_test_support::endpoint::TestEndpoint;
use hookrelay_test_support::platforms::{self, PLATFORMS, Sent};
use std::time::Duration;

const KEY: &str = "sender-platform-key";

#[tokio::test]
async fn each_platform_verifier_accepts_what_the_sender_delivered() {
    let w = World::new().await;
    for platform in PLATFORMS {
        let ep = TestEndpoint::start().await;
        let cfg = format!(
            r#"{{"url":"{}","allow_http":true,"signature":{}}}"#,
            ep.url(),
            platforms::sign_config(platform, KEY)
        );
        w.add_endpoint(platform, &cfg).await;
        let raw = std::fs::read(platforms::input(platform)).unwrap();
        // Jobs carry JSON; producers in JavaScript send it compact.
        let payload = hookrelay_shared::js_stringify::js_stringify(&raw).unwrap();
        w.publish(platform, "idea.created", &payload).await;
        let r = w.poll_until_received(Duration::from_secs(5)).await;
        assert_eq!(r.deleted, 1, "{platform}: delivered");

        let req = &ep.requests()[0];
        let sent = Sent {
            body: String::from_utf8(req.body.clone()).unwrap(),
            headers: req.headers.iter().cloned().collect(),
        };
        for (lang, script) in platforms::scripts(platform, "verify") {
            let mut env = vec![("FIXTURE_KEY", KEY)];
            env.extend(platforms::verify_env(platform, &lang));
            assert!(
                platforms::verify(&script, &lang, &sent, &env),
                "{platform} {lang} rejected the delivery"
            );
        }
        if *platform == "leanbe" {
            let body: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
            assert_eq!(body["event"], "idea.created");
            assert!(body["triggeredAt"].as_str().unwrap().ends_with('Z'));
        }
    }
}
