//! End to end: `hookrelay dev up` (moto server, the real receiver and
//! sender binaries under `cargo lambda watch`, the local event-source
//! poller, the demo endpoint), driven over HTTP and through the CLI.
//!
//! One pipeline for the whole test binary; the scenarios run in one test,
//! in order, because they look at shared queues. The pipeline stops when
//! this process ends, even if a test fails (it watches its stdin).

use hookrelay_test_support::platforms::{self, PLATFORMS};
use hookrelay_test_support::{repo_root, unique};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

struct Pipeline {
    env: BTreeMap<String, String>,
    env_file: PathBuf,
    /// `--state-dir`: local.env and the logs.
    state: PathBuf,
    child: Child,
    _stdin: ChildStdin,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // Closing stdin asks `dev up` to stop what it started.
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

fn start() -> Pipeline {
    let state = std::env::temp_dir().join(unique("hookrelay-e2e"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .current_dir(repo_root())
        .args([
            "dev",
            "up",
            "--moto-port",
            "0",
            "--lambda-port",
            "0",
            "--endpoint-port",
            "0",
            "--api-port",
            "0",
            "--no-reload",
        ])
        .args(["--exit-on-stdin-close", "--quiet", "--state-dir"])
        .arg(&state)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hookrelay dev up");
    let stdin = child.stdin.take().expect("stdin");
    let env_file = state.join("local.env");
    let deadline = Instant::now() + Duration::from_secs(600);
    while !env_file.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "hookrelay dev up exited ({status}); logs in {}",
                state.join("logs").display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the local pipeline did not come up"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let text = std::fs::read_to_string(&env_file).unwrap();
    let env = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Pipeline {
        env,
        env_file,
        state,
        child,
        _stdin: stdin,
    }
}

impl Pipeline {
    fn var(&self, k: &str) -> &str {
        self.env
            .get(k)
            .unwrap_or_else(|| panic!("{k} missing from local.env"))
    }

    /// Runs the CLI against this pipeline; returns (exit code, stdout+stderr).
    fn cli(&self, args: &[&str], stdin: &[u8]) -> (i32, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
            .arg("--env-file")
            .arg(&self.env_file)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(
            &hookrelay_test_support::moto::sdk_config_for(self.var("AWS_ENDPOINT_URL")).await,
        )
    }

    async fn sm(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(
            &hookrelay_test_support::moto::sdk_config_for(self.var("AWS_ENDPOINT_URL")).await,
        )
    }

    async fn deliveries(&self, endpoint: &str) -> Vec<Value> {
        let url = format!(
            "{}/_control/{endpoint}/deliveries",
            self.var("DEMO_ENDPOINT_URL")
        );
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap()
    }

    async fn control(&self, endpoint: &str, action: &str) {
        let url = format!(
            "{}/_control/{endpoint}/{action}",
            self.var("DEMO_ENDPOINT_URL")
        );
        assert!(
            reqwest::Client::new()
                .post(url)
                .send()
                .await
                .unwrap()
                .status()
                .is_success()
        );
    }

    /// Waits until `endpoint` has received `n` deliveries.
    async fn wait_deliveries(&self, endpoint: &str, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let d = self.deliveries(endpoint).await;
            if d.len() >= n || Instant::now() > deadline {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn queue_count(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName as Q;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Q::All)
        .send()
        .await
        .unwrap();
    let a = out.attributes().unwrap();
    a[&Q::ApproximateNumberOfMessages].parse::<usize>().unwrap()
        + a[&Q::ApproximateNumberOfMessagesNotVisible]
            .parse::<usize>()
            .unwrap()
}

/// Takes every message off a queue (and deletes them), returning the bodies.
async fn take_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for m in hookrelay_test_support::moto::drain(sqs, url).await {
        out.push(serde_json::from_str(m.body().unwrap()).unwrap());
        sqs.delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    out
}

fn example_key(source: &str) -> String {
    let text = std::fs::read_to_string(
        repo_root()
            .join("examples/sources")
            .join(format!("{source}.json")),
    )
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    match source {
        "leaddone" => v["signature"]["clients"]["example-client"][0]
            .as_str()
            .unwrap()
            .to_string(),
        _ => v["signature"]["keys"][0].as_str().unwrap().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_pipeline_end_to_end() {
    hookrelay_shared::aws::install_crypto_provider();
    let p = start();
    let sqs = p.sqs().await;
    let http = reqwest::Client::new();
    let inbound = p.var("INBOUND_QUEUE_URL").to_string();
    take_all(&sqs, &inbound).await;

    // 1. Each seed platform's own sample code signs; the receiver accepts;
    //    one changed byte is refused and nothing is queued.
    for platform in PLATFORMS {
        let key = example_key(platform);
        let input = platforms::input(platform);
        let (lang, script) = platforms::scripts(platform, "sign").remove(0);
        let env = vec![
            ("FIXTURE_KEY", key.as_str()),
            ("FIXTURE_CLIENT_ID", "example-client"),
        ];
        let sent = platforms::sign(&script, &lang, &input, &env);
        let url = format!("{}/webhooks/{platform}", p.var("RECEIVER_URL"));
        let post = |body: String| {
            let mut req = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body);
            for (k, v) in sent.http_headers() {
                req = req.header(k, v);
            }
            req.send()
        };
        let resp = post(platforms::flip_one_byte(&sent.body)).await.unwrap();
        assert_eq!(resp.status(), 401, "{platform}: changed byte");
        assert_eq!(
            queue_count(&sqs, &inbound).await,
            0,
            "{platform}: nothing queued on 401"
        );

        let resp = post(sent.body.clone()).await.unwrap();
        assert_eq!(
            resp.status(),
            202,
            "{platform} ({lang}): {}",
            resp.text().await.unwrap_or_default()
        );
        let queued = take_all(&sqs, &inbound).await;
        assert!(
            !queued.is_empty(),
            "{platform}: envelope on the inbound queue"
        );
        for env in &queued {
            assert_eq!(env["source"], *platform);
            assert_eq!(env["version"], 1);
        }
        if *platform != "leaddone" {
            assert_eq!(queued[0]["body"], sent.body, "{platform}: exact body");
        }
    }

    // 1b. The receiver is reached through the local stand-in for API
    //     Gateway, which builds the event the deployed HTTP API builds.
    //     A correctly signed LeafLink body that is not UTF-8: under a text
    //     content type API Gateway passes it as text with U+FFFD in place of
    //     the bytes that are not UTF-8, so the signature no longer matches
    //     (401, nothing queued); under a binary type it is base64-encoded
    //     and queued byte for byte.
    let url = format!("{}/webhooks/leaflink", p.var("RECEIVER_URL"));
    let leaflink = hookrelay_shared::schemes::Scheme::compile(
        &serde_json::from_value(
            serde_json::json!({"scheme": "leaflink", "keys": [example_key("leaflink")]}),
        )
        .unwrap(),
    )
    .unwrap();
    let sign = |body: &[u8]| {
        leaflink
            .sign(&hookrelay_shared::schemes::SignInput {
                id: "x",
                at: time::OffsetDateTime::now_utc(),
                body,
                event_type: None,
            })
            .unwrap()
            .headers
            .remove(0)
    };
    let latin1 = b"{\"note\":\"caf\xe9\"}".to_vec();
    let (name, signature) = sign(&latin1);
    for content_type in ["application/json", "text/plain; charset=utf-8"] {
        let resp = http
            .post(&url)
            .header("content-type", content_type)
            .header(&name, &signature)
            .body(latin1.clone())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let answer = resp.text().await.unwrap();
        assert_eq!(status, 401, "{content_type}: {answer}");
        assert_eq!(
            answer, r#"{"error":"invalid signature"}"#,
            "the receiver's answer"
        );
    }
    assert_eq!(
        queue_count(&sqs, &inbound).await,
        0,
        "nothing queued on 401"
    );
    let resp = http
        .post(&url)
        .header("content-type", "application/octet-stream")
        .header(&name, &signature)
        .body(latin1.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let queued = take_all(&sqs, &inbound).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["body_encoding"], "base64");
    assert_eq!(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            queued[0]["body"].as_str().unwrap()
        )
        .unwrap(),
        latin1,
        "exact bytes"
    );

    //     A repeated signature header is refused in either order, as the
    //     deployed stack (which joins the values with commas) refuses it.
    let body = br#"{"order":"repeated"}"#.to_vec();
    let (name, valid) = sign(&body);
    let (_, bogus) = sign(b"something else");
    for (first, second) in [(&valid, &bogus), (&bogus, &valid)] {
        let resp = http
            .post(&url)
            .header("content-type", "application/json")
            .header(&name, first)
            .header(&name, second)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    assert_eq!(
        queue_count(&sqs, &inbound).await,
        0,
        "nothing queued on 401"
    );

    // 2. A job to an endpoint that fails twice: delivered on the third
    //    attempt with a valid signature, and the poller deleted it.
    let sm = p.sm().await;
    let prefix = p.var("HOOKRELAY_SECRETS_PREFIX");
    let demo = p.var("DEMO_ENDPOINT_URL");
    let twice = unique("twice");
    let key = "whsec_ZTJlLWZhaWxzLXR3aWNlLWtleQ==";
    let cfg = format!(
        r#"{{"url":"{demo}/{twice}","allow_http":true,"signature":{{"keys":["{key}"]}},"retry":{{"delays":["1s","1s","30s"],"jitter":0}}}}"#
    );
    hookrelay_test_support::moto::put_secret(&sm, &format!("{prefix}/endpoints/{twice}"), &cfg)
        .await;
    p.control(&twice, "fail?times=2").await;
    let (code, out) = p.cli(
        &["publish", "--endpoint", &twice, "--event", "order.created"],
        br#"{"order":7}"#,
    );
    assert_eq!(code, 0, "{out}");
    let d = p.wait_deliveries(&twice, 3, Duration::from_secs(60)).await;
    assert_eq!(d.len(), 3, "{d:?}");
    assert_eq!(
        d.iter()
            .map(|x| x["answered"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![500, 500, 200]
    );
    assert!(
        d.iter().all(|x| x["verified"] == true),
        "every attempt carried a valid signature"
    );
    assert!(
        d.iter().all(|x| x["id"] == d[0]["id"]),
        "same idempotency key on every attempt"
    );
    let outbound = p.var("OUTBOUND_QUEUE_URL").to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue_count(&sqs, &outbound).await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        queue_count(&sqs, &outbound).await,
        0,
        "the poller deleted the delivered job"
    );

    // 3. An endpoint that always fails ends in the DLQ after its schedule;
    //    `hookrelay dlq redrive` brings the job back once it recovers.
    let down = unique("down");
    let cfg = format!(
        r#"{{"url":"{demo}/{down}","allow_http":true,"signature":{{"keys":["{key}"]}},"retry":{{"delays":["1s","1s"],"jitter":0}}}}"#
    );
    hookrelay_test_support::moto::put_secret(&sm, &format!("{prefix}/endpoints/{down}"), &cfg)
        .await;
    p.control(&down, "fail?times=always").await;
    let (code, out) = p.cli(
        &["publish", "--endpoint", &down, "--event", "invoice.paid"],
        br#"{"invoice":42}"#,
    );
    assert_eq!(code, 0, "{out}");
    let d = p.wait_deliveries(&down, 3, Duration::from_secs(60)).await;
    assert_eq!(d.len(), 3);
    let dlq = p.var("OUTBOUND_DLQ_URL").to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while queue_count(&sqs, &dlq).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, listed) = p.cli(&["dlq", "list"], b"");
    assert_eq!(code, 0, "{listed}");
    assert!(
        listed.contains("hookrelay-reason: retries-exhausted"),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("hookrelay-endpoint: {down}")),
        "{listed}"
    );

    p.control(&down, "recover").await;
    let (code, out) = p.cli(&["dlq", "redrive"], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("moved 1 message"), "{out}");
    let d = p.wait_deliveries(&down, 4, Duration::from_secs(30)).await;
    assert_eq!(d.len(), 4, "delivered after the redrive");
    assert_eq!(d[3]["answered"], 200);
    assert_eq!(d[3]["verified"], true);
    assert_eq!(queue_count(&sqs, &dlq).await, 0);

    // 4. Relay: a verified GitHub webhook goes on the inbound queue and,
    //    through the router, to every subscribed endpoint, re-signed.
    let before = p.deliveries("demo").await.len();
    let body = br#"{"zen":"Design for failure.","hook_id":1}"#;
    let url = format!("{}/webhooks/github", p.var("RECEIVER_URL"));
    let (code, out) = p.cli(
        &[
            "send",
            "--scheme",
            "github",
            "--key",
            &example_key("github"),
            "--url",
            &url,
            "-H",
            "X-GitHub-Event: ping",
        ],
        body,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("202"), "{out}");
    let d = p
        .wait_deliveries("demo", before + 1, Duration::from_secs(30))
        .await;
    let relayed = d
        .iter()
        .find(|x| x["body"] == std::str::from_utf8(body).unwrap())
        .expect("relayed to demo");
    assert_eq!(relayed["verified"], true);
    assert_eq!(relayed["scheme"], "standard-webhooks");
    let queued = take_all(&sqs, &inbound).await;
    let github = queued
        .iter()
        .find(|e| e["source"] == "github")
        .expect("the webhook's envelope");
    assert_eq!(github["event_type"], "ping");
    assert_eq!(
        github["event_type_signed"], false,
        "GitHub does not sign X-GitHub-Event (the example source relays it explicitly)"
    );

    // 5. Subscriptions and lifecycle through the CLI: an endpoint with a
    //    filter; disabled, its deliveries are parked; enabled, they are
    //    replayed in arrival order.
    let crm = unique("crm");
    let crm_url = format!("{demo}/{crm}");
    let (code, out) = p.cli(
        &[
            "endpoints",
            "add",
            &crm,
            "--url",
            &crm_url,
            "--allow-http",
            "--generate-key",
            "--events",
            "order.*",
            "--filter",
            r#"/status not_one_of ["Approving"]"#,
            "--retry",
            "1s,2s",
        ],
        b"",
    );
    assert_eq!(code, 0, "{out}");
    let generated = out
        .lines()
        .find_map(|l| {
            l.split("shown once; give it to the endpoint's owner): ")
                .nth(1)
        })
        .expect("key printed once")
        .to_string();
    let (_, shown) = p.cli(&["endpoints", "show", &crm], b"");
    assert!(!shown.contains(&generated), "show hides the key");
    let (_, revealed) = p.cli(&["endpoints", "show", &crm, "--reveal"], b"");
    assert!(revealed.contains(&generated), "--reveal shows it");

    tokio::time::sleep(Duration::from_secs(6)).await; // the router's endpoint list refreshes every 5 s locally
    let (code, out) = p.cli(
        &["endpoints", "disable", &crm, "--reason", "maintenance"],
        b"",
    );
    assert_eq!(code, 0, "{out}");
    tokio::time::sleep(Duration::from_secs(6)).await; // senders cache endpoint state for 5 s
    for (i, status) in ["Approved", "Approving", "Revised", "Rejected"]
        .iter()
        .enumerate()
    {
        let payload = format!(r#"{{"n":{i},"status":"{status}"}}"#);
        let (code, out) = p.cli(&["publish", "--event", "order.updated"], payload.as_bytes());
        assert_eq!(code, 0, "{out}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let table = p.var("HOOKRELAY_STATE_TABLE").to_string();
    let ddb = aws_sdk_dynamodb::Client::new(
        &hookrelay_test_support::moto::sdk_config_for(p.var("AWS_ENDPOINT_URL")).await,
    );
    let state = hookrelay_shared::aws::dynamodb::state_table::StateTable::new(ddb, table);
    while state.parked_count(&crm).await.unwrap() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        state.parked_count(&crm).await.unwrap(),
        3,
        "three settled events parked, Approving filtered out"
    );
    assert!(
        p.deliveries(&crm).await.is_empty(),
        "nothing delivered while disabled"
    );
    let (_, listed) = p.cli(&["endpoints", "list"], b"");
    assert!(
        listed.contains(&format!("{crm}  "))
            && listed.contains("DISABLED")
            && listed.contains("3 parked"),
        "{listed}"
    );

    let (code, out) = p.cli(&["endpoints", "enable", &crm], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 parked job(s) replayed"), "{out}");
    let d = p.wait_deliveries(&crm, 3, Duration::from_secs(30)).await;
    let order: Vec<i64> = d
        .iter()
        .map(|x| {
            serde_json::from_str::<Value>(x["body"].as_str().unwrap()).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(order, vec![0, 2, 3], "replayed in arrival order");
    assert!(d.iter().all(|x| x["verified"] == true));

    // 6. Metrics: after a signed webhook, an unsigned one and a delivery to
    //    the flaky example endpoint (which has metrics of its own), the
    //    functions' log holds EMF lines, valid by the specification, with
    //    those counts. A new source, so its counts are this step's alone.
    let source = unique("metered");
    let key = "metered-example-key";
    hookrelay_test_support::moto::put_secret(
        &sm,
        &format!("{prefix}/sources/{source}"),
        &format!(r#"{{"signature":{{"scheme":"github","keys":["{key}"]}}}}"#),
    )
    .await;
    let url = format!("{}/webhooks/{source}", p.var("RECEIVER_URL"));
    for (signing_key, expected) in [(key, "202"), ("not-the-key", "401")] {
        let (_, out) = p.cli(
            &[
                "send",
                "--scheme",
                "github",
                "--key",
                signing_key,
                "--url",
                &url,
            ],
            br#"{"metered":true}"#,
        );
        assert!(out.starts_with(expected), "{out}");
    }
    let before = p.deliveries("flaky").await.len();
    let (code, out) = p.cli(
        &["publish", "--endpoint", "flaky", "--event", "order.created"],
        br#"{"order":"metered"}"#,
    );
    assert_eq!(code, 0, "{out}");
    let d = p
        .wait_deliveries("flaky", before + 3, Duration::from_secs(60))
        .await;
    assert_eq!(d.len(), before + 3, "two failures, then delivered");

    use hookrelay_test_support::emf_spec::{total, validate_log};
    let log = p.state.join("logs").join("functions.log");
    let s = source.as_str();
    type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);
    let expected: [Expected; 5] = [
        ("WebhooksAccepted", &[("Source", s)], 1.0),
        (
            "WebhooksRefused",
            &[("Source", s), ("Reason", "signature")],
            1.0,
        ),
        ("Delivered", &[("Endpoint", "flaky")], 1.0),
        ("DeliveryFailed", &[("Endpoint", "flaky")], 2.0),
        ("Retried", &[("Endpoint", "flaky")], 2.0),
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let metrics = validate_log(&text).unwrap_or_else(|e| panic!("invalid EMF: {e}"));
        assert!(metrics.iter().all(|m| m.namespace == "hookrelay/local"));
        let got: Vec<f64> = expected
            .iter()
            .map(|(name, dims, _)| total(&metrics, name, dims))
            .collect();
        let want: Vec<f64> = expected.iter().map(|(_, _, v)| *v).collect();
        if got == want {
            let answers = metrics
                .iter()
                .filter(|m| m.name == "AnswerTime" && m.dimension("Endpoint") == Some("flaky"))
                .map(|m| m.values.len())
                .sum::<usize>();
            assert!(answers >= 3, "an answer time per attempt to flaky");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "EMF totals {got:?}, expected {want:?} (log: {})",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
