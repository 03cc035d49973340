//! What one webhook costs the receiver: the whole handler, from the API
//! Gateway event's JSON to the answer, in process.
//!
//! Each iteration parses the event with `lambda_http` (as the runtime does),
//! then `Receiver::handle` looks up the cached source, verifies the
//! signature, builds the envelope and sends it with the real `aws-sdk-sqs`
//! client. Only the HTTP exchange with SQS is replaced, by a canned
//! in-process responder (`aws_smithy_http_client::test_util`), so request
//! serialization, SigV4 signing and response parsing all still run. The
//! source comes from an in-memory secret store through the receiver's real
//! cache (warmed by the first request, as on a warm Lambda).
//!
//! `bench/run` runs it natively for wall time and under
//! `valgrind --tool=callgrind` at two iteration counts: the difference of
//! the two instruction totals divided by the difference of iterations is
//! the cost of one request, without start-up.
//!
//! Prints one JSON object.

use async_trait::async_trait;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;
use clap::{Parser, ValueEnum};
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::SystemClock;
use hookrelay_shared::schemes::{Scheme, SignInput, SignatureConfig};
use hookrelay_shared::secrets::{SecretError, SecretSource};
use hookrelay_test_support::apigw;
use receiver::{Ports, Receiver, Settings};
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    /// One Standard Webhooks event per request.
    Single,
    /// A LeadDone-style array of `--elements` events per request.
    Bulk,
}

#[derive(Parser)]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    /// Request body size in bytes (the whole array in bulk mode).
    #[arg(long)]
    bytes: usize,
    /// Elements of a bulk body (a multiple of 10: full SendMessageBatch calls).
    #[arg(long, default_value_t = 100)]
    elements: usize,
    /// Requests per round.
    #[arg(long)]
    iterations: u32,
    /// Rounds; each reports its own time per request.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
}

const SOURCE: &str = "bench";
const PREFIX: &str = "hookrelay";
const SW_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const LEADDONE_KEY: &str = "bench-leaddone-key-0123456789";

/// The source's configuration, served from memory.
struct OneSecret(String);

#[async_trait]
impl SecretSource for OneSecret {
    async fn fetch(&self, name: &str) -> Result<Option<String>, SecretError> {
        Ok((name == format!("{PREFIX}/sources/{SOURCE}")).then(|| self.0.clone()))
    }
}

/// An SQS client whose HTTP exchanges are answered in process. Bulk bodies
/// are always sent as full batches of 10 (entry ids "0".."9"), so one
/// prepared batch answer fits every SendMessageBatch call.
fn canned_sqs() -> aws_sdk_sqs::Client {
    const ONE: &str = r#"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"fafb00f5732ab283681e124bf8747ed1"}"#;
    let batch = format!(
        r#"{{"Successful":[{}],"Failed":[]}}"#,
        (0..10)
            .map(|i| format!(
                r#"{{"Id":"{i}","MessageId":"5fea7756-0ea4-451a-a703-a558b933e27{i}","MD5OfMessageBody":"fafb00f5732ab283681e124bf8747ed1"}}"#
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let http = infallible_client_fn(move |req: http::Request<SdkBody>| {
        let is_batch = req
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.as_bytes().ends_with(b"SendMessageBatch"));
        let body = if is_batch {
            batch.clone()
        } else {
            ONE.to_string()
        };
        http::Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.0")
            .body(body)
            .expect("static response")
    });
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDBENCH",
            "bench-secret",
            None,
            None,
            "bench",
        ))
        .http_client(http)
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// A JSON string member padded so that the object is `len` bytes long.
fn padded_object(prefix: &str, len: usize) -> String {
    let mut s = format!(r#"{{{prefix}"data":""#);
    while s.len() < len.saturating_sub(2) {
        s.push((b'a' + (s.len() % 26) as u8) as char);
    }
    s.push_str(r#""}"#);
    s
}

/// The source configuration and a signed API Gateway event for the mode.
fn fixture(args: &Args) -> (String, String) {
    let now = OffsetDateTime::now_utc();
    let (source, signer, body) = match args.mode {
        Mode::Single => (
            format!(r#"{{"signature":{{"scheme":"standard-webhooks","keys":["{SW_KEY}"]}}}}"#),
            format!(r#"{{"scheme":"standard-webhooks","keys":["{SW_KEY}"]}}"#),
            padded_object(r#""type":"order.created","#, args.bytes),
        ),
        Mode::Bulk => {
            let each = args.bytes / args.elements;
            let items: Vec<String> = (0..args.elements)
                .map(|i| padded_object(&format!(r#""id":"o-{i}","status":"shipped","#), each))
                .collect();
            (
                format!(
                    r#"{{"signature":{{"scheme":"leaddone","clients":{{"c1":["{LEADDONE_KEY}"]}}}},"bulk":{{"id_pointer":"/id"}},"event_type":{{"json_pointer":"/status"}}}}"#
                ),
                format!(r#"{{"scheme":"leaddone","client_id":"c1","keys":["{LEADDONE_KEY}"]}}"#),
                format!("[{}]", items.join(",")),
            )
        }
    };
    let cfg: SignatureConfig = serde_json::from_str(&signer).expect("signer config");
    let signed = Scheme::compile(&cfg)
        .expect("compiles")
        .sign(&SignInput {
            id: "msg_bench",
            at: now,
            body: body.as_bytes(),
            event_type: None,
        })
        .expect("signs");
    let mut headers = signed.headers.clone();
    headers.push(("content-type".into(), "application/json".into()));
    let event = apigw::post_event(
        &format!("/webhooks/{SOURCE}"),
        &headers,
        body.as_bytes(),
        false,
    );
    (source, event)
}

// One thread: the work per request is the same as under the Lambda
// runtime's multi-threaded scheduler, and callgrind's instruction counts
// stay repeatable (no idle workers waking up).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    assert!(
        matches!(args.mode, Mode::Single) || args.elements % 10 == 0,
        "--elements must be a multiple of 10"
    );
    let (source, event) = fixture(&args);
    let receiver = Receiver::new(
        Ports {
            secrets: Arc::new(OneSecret(source)),
            inbound: Arc::new(SqsQueue::new(
                canned_sqs(),
                "https://sqs.us-east-1.amazonaws.com/123456789012/inbound",
            )),
            events: None,
            clock: Arc::new(SystemClock),
        },
        Settings::new(PREFIX),
    );
    // 202 in both modes: bulk answers 202 only when every element was queued.
    let expected = 202;
    // Warm-up: fills the source cache and the SDK's lazily built state.
    let status = one(&receiver, &event).await;
    assert_eq!(status, expected, "the receiver refused the bench request");

    let mut rounds = Vec::with_capacity(args.rounds as usize);
    for _ in 0..args.rounds {
        let started = Instant::now();
        for _ in 0..args.iterations {
            let status = one(&receiver, &event).await;
            assert_eq!(status, expected);
        }
        rounds.push(started.elapsed().as_nanos() as f64 / f64::from(args.iterations.max(1)));
    }
    let events = match args.mode {
        Mode::Single => 1,
        Mode::Bulk => args.elements,
    };
    println!(
        "{}",
        serde_json::json!({
            "mode": format!("{:?}", args.mode).to_lowercase(),
            "body_bytes": event_body_len(&event),
            "events_per_request": events,
            "iterations": args.iterations,
            "ns_per_request": rounds,
        })
    );
}

async fn one(receiver: &Receiver, event: &str) -> u16 {
    let req = lambda_http::request::from_str(event).expect("valid API Gateway event");
    receiver.handle(req).await.status().as_u16()
}

fn event_body_len(event: &str) -> usize {
    lambda_http::request::from_str(event)
        .map(|r| r.body().len())
        .unwrap_or(0)
}
