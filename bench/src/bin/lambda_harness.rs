//! A local Lambda Runtime API (the HTTP interface Lambda offers a custom
//! runtime) that runs a function's real `bootstrap` and measures it:
//!
//! - cold start: from spawning the process to its first `GET .../next`
//!   (init) and to its first answered invocation;
//! - warm invocations: time per invocation, from handing out the event to
//!   receiving the response;
//! - memory: the process's peak resident set (`VmHWM`) after them;
//! - for the sender: deliveries per second against a local endpoint with a
//!   set latency, and how many TCP connections the endpoint saw (pooled
//!   connections are reused across invocations).
//!
//! The receiver and sender talk to a real moto server (Secrets Manager,
//! SQS) through their normal SDK clients, pointed at it with
//! `AWS_ENDPOINT_URL`, as on `make dev`. Prints one JSON object.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hookrelay_shared::job::DeliveryJob;
use hookrelay_shared::schemes::{Scheme, SignInput, SignatureConfig};
use hookrelay_test_support::endpoint::{Reply, TestEndpoint};
use hookrelay_test_support::{apigw, moto, unique};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Function {
    Receiver,
    Sender,
    Router,
    /// The reference: the smallest `lambda_runtime` function.
    Hello,
}

#[derive(Parser)]
struct Args {
    /// The function's executable (a `cargo lambda build` bootstrap).
    #[arg(long)]
    bin: PathBuf,
    #[arg(long, value_enum)]
    function: Function,
    /// Cold starts to measure, each in a new process.
    #[arg(long, default_value_t = 1)]
    starts: u32,
    /// Warm invocations after the last cold start.
    #[arg(long, default_value_t = 0)]
    invocations: u32,
    /// Receiver: webhook body size in bytes.
    #[arg(long, default_value_t = 1024)]
    bytes: usize,
    /// Sender: records per SQS batch.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// Sender: how long the endpoint takes to answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Sender: HOOKRELAY_CONCURRENCY (the function's default when unset).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Where the function's own output (its JSON logs) goes.
    #[arg(long, default_value = "/dev/null")]
    log: PathBuf,
}

const SW_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the runtime API hands out and gets back.
struct Invocation {
    id: String,
    event: Bytes,
}

#[derive(Debug)]
enum Outcome {
    Response(Bytes),
    Error(String),
}

struct Api {
    events: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    outcomes: mpsc::Sender<Outcome>,
    first_next: Mutex<Option<Instant>>,
}

/// Serves the Runtime API on a free loopback port; returns `host:port`.
async fn serve_runtime_api(api: Arc<Api>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let api = Arc::clone(&api);
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let api = Arc::clone(&api);
                    async move { Ok::<_, hyper::Error>(runtime_api(api, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn runtime_api(api: Arc<Api>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if req.method() == hyper::Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        api.first_next
            .lock()
            .expect("lock")
            .get_or_insert_with(Instant::now);
        let Some(inv) = api.events.lock().await.recv().await else {
            return status(410);
        };
        let deadline = (OffsetDateTime::now_utc().unix_timestamp() + 60) * 1000;
        return Response::builder()
            .status(200)
            .header("lambda-runtime-aws-request-id", &inv.id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            )
            .body(Full::new(inv.event))
            .expect("response");
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let outcome = if path.ends_with("/response") {
        Outcome::Response(body)
    } else {
        Outcome::Error(format!("{path}: {}", String::from_utf8_lossy(&body)))
    };
    let _ = api.outcomes.send(outcome).await;
    status(202)
}

fn status(code: u16) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::new()))
        .expect("response")
}

/// What a function needs around it, and the event it gets.
struct Setup {
    env: Vec<(String, String)>,
    /// The event of invocation `n` (the router needs new event ids each
    /// time, or its fan-out markers would make it skip the work).
    event: Box<dyn Fn(u32) -> Bytes>,
    /// Checks a response: Err says why it is not a success.
    check: fn(&Value) -> Result<(), String>,
    endpoint: Option<TestEndpoint>,
    deliveries_per_invocation: usize,
}

async fn setup(args: &Args) -> Setup {
    let moto_url = moto::endpoint().to_string();
    let mut env = vec![("AWS_ENDPOINT_URL".to_string(), moto_url)];
    let prefix = unique("bench");
    let sqs = moto::sqs().await;
    let sm = moto::secretsmanager().await;
    env.push(("HOOKRELAY_SECRETS_PREFIX".into(), prefix.clone()));
    match args.function {
        Function::Router => {
            let outbound = moto::create_queue(&sqs, "bench-outbound", false, &[]).await;
            let dlq = moto::create_queue(&sqs, "bench-events-dlq", false, &[]).await;
            let table = moto::create_state_table(&moto::dynamodb().await).await;
            // Never contacted: the router only writes jobs for it.
            moto::put_secret(
                &sm,
                &format!("{prefix}/endpoints/bench"),
                &endpoint_config("https://subscriber.example.com/hooks"),
            )
            .await;
            env.push(("HOOKRELAY_OUTBOUND_QUEUE_URL".into(), outbound));
            env.push(("HOOKRELAY_EVENTS_DLQ_URL".into(), dlq));
            env.push(("HOOKRELAY_STATE_TABLE".into(), table));
            Setup {
                env,
                event: Box::new(|n| Bytes::from(sqs_event(n, 10, event_body))),
                check: |v| match v["batchItemFailures"].as_array() {
                    Some(f) if f.is_empty() => Ok(()),
                    _ => Err(format!("router answered {v}")),
                },
                endpoint: None,
                deliveries_per_invocation: 0,
            }
        }
        Function::Hello => Setup {
            env,
            event: Box::new(|_| Bytes::from_static(br#"{"hello":"world"}"#)),
            check: |_| Ok(()),
            endpoint: None,
            deliveries_per_invocation: 0,
        },
        Function::Receiver => {
            let queue = moto::create_queue(&sqs, "bench-inbound", false, &[]).await;
            moto::put_secret(
                &sm,
                &format!("{prefix}/sources/bench"),
                &format!(r#"{{"signature":{{"scheme":"standard-webhooks","keys":["{SW_KEY}"]}}}}"#),
            )
            .await;
            env.push(("HOOKRELAY_INBOUND_QUEUE_URL".into(), queue));
            Setup {
                env,
                event: {
                    let webhook = Bytes::from(signed_webhook(args.bytes));
                    Box::new(move |_| webhook.clone())
                },
                check: |v| match v["statusCode"].as_u64() {
                    Some(202) => Ok(()),
                    _ => Err(format!("receiver answered {v}")),
                },
                endpoint: None,
                deliveries_per_invocation: 0,
            }
        }
        Function::Sender => {
            let outbound = moto::create_queue(&sqs, "bench-outbound", false, &[]).await;
            let dlq = moto::create_queue(&sqs, "bench-outbound-dlq", false, &[]).await;
            let endpoint = TestEndpoint::start().await;
            endpoint.set_default(Reply::ok().delay(Duration::from_millis(args.latency_ms)));
            moto::put_secret(
                &sm,
                &format!("{prefix}/endpoints/bench"),
                &endpoint_config(&endpoint.url()),
            )
            .await;
            env.push(("HOOKRELAY_OUTBOUND_QUEUE_URL".into(), outbound));
            env.push(("HOOKRELAY_DLQ_URL".into(), dlq));
            env.push(("HOOKRELAY_ALLOW_NETWORKS".into(), "127.0.0.0/8".into()));
            if let Some(n) = args.concurrency {
                env.push(("HOOKRELAY_CONCURRENCY".into(), n.to_string()));
            }
            Setup {
                env,
                event: {
                    let batch = Bytes::from(sqs_event(0, args.batch, job_body));
                    Box::new(move |_| batch.clone())
                },
                check: |v| match v["batchItemFailures"].as_array() {
                    Some(f) if f.is_empty() => Ok(()),
                    _ => Err(format!("sender answered {v}")),
                },
                endpoint: Some(endpoint),
                deliveries_per_invocation: args.batch,
            }
        }
    }
}

/// An endpoint subscribed to every event, signing with Standard Webhooks.
fn endpoint_config(url: &str) -> String {
    json!({
        "url": url,
        "allow_http": true,
        "events": ["*"],
        "signature": {"scheme": "standard-webhooks", "keys": [SW_KEY]},
    })
    .to_string()
}

/// An API Gateway event carrying a Standard Webhooks-signed JSON body.
fn signed_webhook(len: usize) -> String {
    let mut body = String::from(r#"{"type":"order.created","data":""#);
    while body.len() < len.saturating_sub(2) {
        body.push('x');
    }
    body.push_str(r#""}"#);
    let cfg: SignatureConfig =
        serde_json::from_value(json!({"scheme": "standard-webhooks", "keys": [SW_KEY]}))
            .expect("config");
    let signed = Scheme::compile(&cfg)
        .expect("compiles")
        .sign(&SignInput {
            id: "msg_bench",
            at: OffsetDateTime::now_utc(),
            body: body.as_bytes(),
            event_type: None,
        })
        .expect("signs");
    let mut headers = signed.headers;
    headers.push(("content-type".into(), "application/json".into()));
    apigw::post_event("/webhooks/bench", &headers, body.as_bytes(), false)
}

/// A delivery job for the `bench` endpoint with a ~1 KiB payload.
fn job_body(_: String) -> String {
    let payload = serde_json::value::RawValue::from_string(format!(
        r#"{{"order":7,"note":"{}"}}"#,
        "x".repeat(900)
    ))
    .expect("payload");
    let job = DeliveryJob::new("bench", "order.created", payload, OffsetDateTime::now_utc());
    serde_json::to_string(&job).expect("job")
}

/// An event for fan-out with a ~1 KiB payload.
fn event_body(id: String) -> String {
    json!({"version": 1, "id": id, "type": "order.created", "payload": {"order": 7, "note": "x".repeat(900)}})
        .to_string()
}

/// An SQS event of `n` records, shaped as Lambda's event source mapping
/// sends it; `body` makes each record's body from a unique id.
fn sqs_event(invocation: u32, n: usize, body: fn(String) -> String) -> String {
    let records = (0..n)
        .map(|i| {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m-{invocation}-{i}"));
            m.receipt_handle = Some(format!("rh-{invocation}-{i}"));
            m.body = Some(body(format!("evt-{invocation}-{i}")));
            m.attributes = [
                ("ApproximateReceiveCount", "1"),
                ("SentTimestamp", "1795000000000"),
                ("ApproximateFirstReceiveTimestamp", "1795000000001"),
                ("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            m.event_source = Some("aws:sqs".into());
            m.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:bench".into());
            m.aws_region = Some("us-east-1".into());
            m
        })
        .collect();
    let mut event = SqsEvent::default();
    event.records = records;
    serde_json::to_string(&event).expect("event")
}

/// One process: its cold start, then `invocations` warm ones.
struct Run {
    init_ms: f64,
    first_ms: f64,
    warm_ms: Vec<f64>,
    warm_total: Duration,
    peak_rss_kb: u64,
}

/// `base` numbers this process's invocations apart from other processes'.
async fn run_once(args: &Args, setup: &Setup, base: u32, invocations: u32) -> Run {
    let (event_tx, event_rx) = mpsc::channel(1);
    let (outcome_tx, mut outcome_rx) = mpsc::channel(1);
    let api = Arc::new(Api {
        events: tokio::sync::Mutex::new(event_rx),
        outcomes: outcome_tx,
        first_next: Mutex::new(None),
    });
    let runtime_api = serve_runtime_api(Arc::clone(&api)).await;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.log)
        .expect("log file");
    let mut cmd = tokio::process::Command::new(&args.bin);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
        .envs(setup.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .kill_on_drop(true);

    let started = Instant::now();
    let mut child = cmd.spawn().expect("start the function");
    let pid = child.id().expect("pid");
    let mut invoke = async |k: u32| {
        let n = base + k;
        event_tx
            .send(Invocation {
                id: format!("req-{n}"),
                event: (setup.event)(n),
            })
            .await
            .expect("runtime API alive");
        let outcome = tokio::time::timeout(Duration::from_secs(60), outcome_rx.recv())
            .await
            .expect("the function answered within 60 s")
            .expect("runtime API alive");
        match outcome {
            Outcome::Response(b) => {
                let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                if let Err(e) = (setup.check)(&v) {
                    panic!("invocation {n} did not succeed: {e}");
                }
            }
            Outcome::Error(e) => panic!("invocation {n} failed: {e}"),
        }
    };
    invoke(0).await;
    let first_ms = ms(started.elapsed());
    let init_ms = api
        .first_next
        .lock()
        .expect("lock")
        .map(|t| ms(t - started))
        .unwrap_or(first_ms);

    let mut warm_ms = Vec::with_capacity(invocations as usize);
    let warm_started = Instant::now();
    for n in 1..=invocations {
        let t = Instant::now();
        invoke(n).await;
        warm_ms.push(ms(t.elapsed()));
    }
    let warm_total = warm_started.elapsed();
    let peak_rss_kb = peak_rss_kb(pid);
    let _ = child.kill().await;
    Run {
        init_ms,
        first_ms,
        warm_ms,
        warm_total,
        peak_rss_kb,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `VmHWM` (peak resident set) of a live process, in KiB.
fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let setup = setup(&args).await;
    let mut runs = Vec::new();
    for i in 0..args.starts.max(1) {
        let last = i + 1 == args.starts.max(1);
        runs.push(
            run_once(
                &args,
                &setup,
                i * 1_000_000,
                if last { args.invocations } else { 0 },
            )
            .await,
        );
    }
    let mut init: Vec<f64> = runs.iter().map(|r| r.init_ms).collect();
    let mut first: Vec<f64> = runs.iter().map(|r| r.first_ms).collect();
    let last = runs.last().expect("one run");
    let mut warm = last.warm_ms.clone();
    let warm_median = median(&mut warm);
    let mut out = json!({
        "function": format!("{:?}", args.function).to_lowercase(),
        "starts": runs.len(),
        "init_ms": init.clone(),
        "first_ms": first.clone(),
        "init_ms_median": median(&mut init),
        "first_ms_median": median(&mut first),
        "invocations": args.invocations,
        "warm_ms_median": warm_median,
        "warm_ms_p90": percentile(&warm, 0.9),
        "warm_ms_min": warm.first().copied().unwrap_or(0.0),
        "warm_ms_max": warm.last().copied().unwrap_or(0.0),
        "peak_rss_kb": last.peak_rss_kb,
    });
    if let Some(ep) = &setup.endpoint {
        let deliveries = setup.deliveries_per_invocation as f64 * f64::from(args.invocations);
        out["batch"] = json!(args.batch);
        out["latency_ms"] = json!(args.latency_ms);
        out["concurrency"] = json!(args.concurrency);
        out["deliveries_per_s"] = json!(deliveries / last.warm_total.as_secs_f64().max(1e-9));
        out["endpoint_requests"] = json!(ep.requests().len());
        out["endpoint_connections"] = json!(ep.connections());
        out["endpoint_max_in_flight"] = json!(ep.max_in_flight());
    }
    println!("{out}");
}
