//! `hookrelay dev up`: the whole pipeline on one machine, no AWS account.
//!
//! moto server stands in for SQS and Secrets Manager; the real `receiver`
//! and `sender` binaries run under `cargo lambda watch`; a poller does what
//! Lambda's SQS event source mapping does; a demo endpoint verifies and
//! prints what it receives. Everything it starts stops on Ctrl-C.

mod api_gateway;
mod demo_endpoint;
mod metrics_summary;
mod processes;
mod provision;

use clap::{Args, Subcommand};
use hookrelay_cli::local_esm::{HttpInvoker, Invoke, Poller};
use processes::{Managed, path_with_venv, port_or_free, tool, wait_for_port, without_package_env};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

#[derive(Subcommand)]
pub enum DevCommand {
    /// Start moto, the functions, the poller and the demo endpoint; Ctrl-C stops them.
    Up(UpArgs),
}

#[derive(Args)]
pub struct UpArgs {
    /// moto server port (0: any free port).
    #[arg(long, default_value_t = 5055)]
    pub moto_port: u16,
    /// `cargo lambda watch` port: function URLs and the Invoke API (0: any free port).
    #[arg(long, default_value_t = 9000)]
    pub lambda_port: u16,
    /// Local API Gateway port: `POST /webhooks/<source>` as deployed (0: any free port).
    #[arg(long, default_value_t = 9001)]
    pub api_port: u16,
    /// Demo endpoint port (0: any free port).
    #[arg(long, default_value_t = 9100)]
    pub endpoint_port: u16,
    /// Where local.env and the logs go.
    #[arg(long, default_value = ".hookrelay")]
    pub state_dir: PathBuf,
    /// Example sources and endpoints to create.
    #[arg(long, default_value = "examples")]
    pub examples: PathBuf,
    /// Secrets Manager prefix for the example configuration.
    #[arg(long, default_value = "hookrelay")]
    pub prefix: String,
    /// Do not rebuild and reload the functions when the code changes.
    #[arg(long)]
    pub no_reload: bool,
    /// Stop when standard input closes (for tests that start the pipeline).
    #[arg(long)]
    pub exit_on_stdin_close: bool,
    /// Do not print each delivery the demo endpoint receives.
    #[arg(long)]
    pub quiet: bool,
}

const REGION: &str = "us-east-1";
const FUNCTIONS: &[&str] = &["receiver", "sender", "router"];
const STATE_TABLE: &str = "hookrelay-state";

pub async fn run(cmd: DevCommand) -> Result<ExitCode, String> {
    match cmd {
        DevCommand::Up(args) => up(args).await,
    }
}

fn write_env(path: &Path, values: &BTreeMap<&str, String>) -> Result<(), String> {
    let mut text = String::from("# Written by `hookrelay dev up`; removed when it stops.\n");
    for (k, v) in values {
        text.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

async fn up(args: UpArgs) -> Result<ExitCode, String> {
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    if !root.join("Cargo.toml").exists() || !args.examples.exists() {
        return Err("run `hookrelay dev up` (or `make dev`) from the repository root".into());
    }
    let logs = args.state_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let moto_port = port_or_free(args.moto_port)?;
    let lambda_port = port_or_free(args.lambda_port)?;
    let endpoint_port = port_or_free(args.endpoint_port)?;
    let api_port = port_or_free(args.api_port)?;

    // 1. moto server: SQS, Secrets Manager (and DynamoDB, SNS) on loopback.
    let mut moto_cmd = Command::new(tool(&root, "moto_server"));
    moto_cmd.args(["-H", "127.0.0.1", "-p", &moto_port.to_string()]);
    let mut moto = Managed::spawn("moto_server", moto_cmd, &logs.join("moto.log"))?;
    wait_for_port(moto_port, Duration::from_secs(30), &mut moto)?;
    let aws = format!("http://127.0.0.1:{moto_port}");
    let ctx_values: BTreeMap<String, String> = [
        ("AWS_ENDPOINT_URL", aws.clone()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let env_text: String = ctx_values
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    let ctx = crate::context::Context::from_text(&env_text);
    let sdk = ctx.sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);

    // 2. Queues, the state table, the notice topic, the example sources and endpoints.
    let queues = provision::queues(&sqs, "hookrelay").await?;
    provision::state_table(&aws_sdk_dynamodb::Client::new(&sdk), STATE_TABLE).await?;
    let (topic, notices) =
        provision::notices(&aws_sdk_sns::Client::new(&sdk), &sqs, "hookrelay").await?;
    let demo_url = format!("http://127.0.0.1:{endpoint_port}");
    let vars = BTreeMap::from([("DEMO_ENDPOINT_URL", demo_url.clone())]);
    let secrets = provision::secrets(&sm, &args.examples, &args.prefix, &vars).await?;

    // 3. The demo endpoint.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", endpoint_port))
        .await
        .map_err(|e| format!("demo endpoint port {endpoint_port}: {e}"))?;
    let demo = demo_endpoint::DemoEndpoint::new(sm.clone(), args.prefix.clone(), args.quiet);
    let demo_task = tokio::spawn(demo.serve(listener));

    // 4. The real functions under cargo lambda watch.
    let mut fenv: BTreeMap<&str, String> = BTreeMap::new();
    for (k, v) in &ctx_values {
        fenv.insert(k.as_str(), v.clone());
    }
    fenv.insert("HOOKRELAY_SECRETS_PREFIX", args.prefix.clone());
    fenv.insert(
        "HOOKRELAY_INBOUND_QUEUE_URL",
        queues["INBOUND_QUEUE_URL"].clone(),
    );
    fenv.insert(
        "HOOKRELAY_EVENTS_QUEUE_URL",
        queues["EVENTS_QUEUE_URL"].clone(),
    );
    fenv.insert(
        "HOOKRELAY_OUTBOUND_QUEUE_URL",
        queues["OUTBOUND_QUEUE_URL"].clone(),
    );
    fenv.insert("HOOKRELAY_DLQ_URL", queues["OUTBOUND_DLQ_URL"].clone());
    fenv.insert("HOOKRELAY_EVENTS_DLQ_URL", queues["EVENTS_DLQ_URL"].clone());
    fenv.insert("HOOKRELAY_STATE_TABLE", STATE_TABLE.into());
    fenv.insert("HOOKRELAY_NOTIFY_TOPIC_ARN", topic.clone());
    // Local only: the demo endpoint is on loopback, which AWS deployments refuse.
    fenv.insert("HOOKRELAY_ALLOW_NETWORKS", "127.0.0.0/8,::1/128".into());
    // Configuration edits (`hookrelay endpoints update`) apply within seconds.
    fenv.insert("HOOKRELAY_SECRET_TTL_SECS", "5".into());
    fenv.insert("HOOKRELAY_ENDPOINT_LIST_TTL_SECS", "5".into());
    // Metrics (EMF lines in the functions' log, summed up below) and
    // operational events, as deployed.
    fenv.insert("HOOKRELAY_METRICS_NAMESPACE", "hookrelay/local".into());
    fenv.insert("HOOKRELAY_ATTEMPT_FAILED_EVENTS", "false".into());
    let functions_env = args.state_dir.join("functions.env");
    write_env(&functions_env, &fenv)?;

    let bins: Vec<String> = FUNCTIONS
        .iter()
        .flat_map(|f| ["--bin".to_string(), f.to_string()])
        .collect();
    println!("building the functions (cargo build {})...", bins.join(" "));
    let status = Command::new("cargo")
        .arg("build")
        .args(&bins)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err("cargo build failed".into());
    }
    let mut watch_cmd = Command::new("cargo");
    without_package_env(&mut watch_cmd)
        .env("PATH", path_with_venv(&root))
        .args([
            "lambda",
            "watch",
            "-A",
            "127.0.0.1",
            "-P",
            &lambda_port.to_string(),
        ])
        .arg("--env-file")
        .arg(&functions_env);
    if args.no_reload {
        watch_cmd.arg("--ignore-changes");
    }
    let mut watch = Managed::spawn("cargo lambda watch", watch_cmd, &logs.join("functions.log"))?;
    wait_for_port(lambda_port, Duration::from_secs(120), &mut watch)?;
    let runtime_api = format!("http://127.0.0.1:{lambda_port}");
    // The receiver behind a stand-in for API Gateway, so it gets the event
    // the deployed stack gives it (api_gateway.rs says how that differs
    // from cargo lambda's function URLs).
    let api_listener = tokio::net::TcpListener::bind(("127.0.0.1", api_port))
        .await
        .map_err(|e| format!("API Gateway port {api_port}: {e}"))?;
    let api_task =
        tokio::spawn(api_gateway::ApiGateway::new(&runtime_api, "receiver")?.serve(api_listener));
    warm_up(&runtime_api, &format!("{runtime_api}/lambda-url/receiver")).await?;
    let receiver_url = format!("http://127.0.0.1:{api_port}");
    api_gateway::check(&receiver_url).await?;

    // 5. The event source mapping stand-in.
    let sender: Arc<dyn Invoke> = Arc::new(HttpInvoker::new(&runtime_api, "sender"));
    let outbound = Poller::new(sqs.clone(), queues["OUTBOUND_QUEUE_URL"].clone()).await?;
    let router: Arc<dyn Invoke> = Arc::new(HttpInvoker::new(&runtime_api, "router"));
    let events = Poller::new(sqs.clone(), queues["EVENTS_QUEUE_URL"].clone()).await?;
    let pollers = vec![
        tokio::spawn(poll_forever("outbound -> sender", outbound, sender)),
        tokio::spawn(poll_forever("events -> router", events, router)),
        tokio::spawn(print_notices(sqs.clone(), notices)),
        tokio::spawn(metrics_summary::print_forever(
            logs.join("functions.log"),
            Duration::from_secs(5),
        )),
    ];

    // 6. local.env for the CLI and scripts.
    let mut local = BTreeMap::new();
    for (k, v) in &ctx_values {
        local.insert(k.as_str(), v.clone());
    }
    for (k, v) in &queues {
        local.insert(*k, v.clone());
    }
    local.insert("RECEIVER_URL", receiver_url.clone());
    local.insert("DEMO_ENDPOINT_URL", demo_url.clone());
    local.insert("LAMBDA_RUNTIME_API", runtime_api.clone());
    local.insert("HOOKRELAY_SECRETS_PREFIX", args.prefix.clone());
    local.insert("HOOKRELAY_STATE_TABLE", STATE_TABLE.into());
    local.insert("NOTIFY_TOPIC_ARN", topic);
    let local_env = args.state_dir.join("local.env");
    write_env(&local_env, &local)?;
    banner(
        &args,
        &aws,
        &receiver_url,
        &demo_url,
        &local_env,
        secrets.len(),
    );

    // 7. Run until Ctrl-C, SIGTERM, stdin closing, or a child dying.
    let outcome = wait_for_stop(args.exit_on_stdin_close, &mut [&mut moto, &mut watch]).await;
    println!("\nstopping...");
    for task in &pollers {
        task.abort();
    }
    demo_task.abort();
    api_task.abort();
    watch.stop();
    moto.stop();
    let _ = std::fs::remove_file(&local_env);
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Starts both functions once, so the first real request is not a cold build.
async fn warm_up(runtime_api: &str, receiver_url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())?;
    client
        .post(format!(
            "{runtime_api}/2015-03-31/functions/sender/invocations"
        ))
        .body(r#"{"Records":[]}"#)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("the sender did not start: {e} (see the functions log)"))?;
    client
        .post(format!(
            "{runtime_api}/2015-03-31/functions/router/invocations"
        ))
        .body(r#"{"Records":[]}"#)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("the router did not start: {e} (see the functions log)"))?;
    let resp = client
        .post(format!("{receiver_url}/webhooks/_warmup"))
        .send()
        .await
        .map_err(|e| format!("the receiver did not start: {e}"))?;
    if resp.status() != 404 {
        return Err(format!(
            "the receiver answered {} to a warm-up request",
            resp.status()
        ));
    }
    Ok(())
}

async fn poll_forever(label: &'static str, poller: Poller, function: Arc<dyn Invoke>) {
    loop {
        match poller.poll_once(&*function).await {
            Ok(r) if r.received > 0 => {
                let err = r
                    .invoke_error
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                println!(
                    "[poller {label}] {} received, {} delivered or parked, {} left for retry{err}",
                    r.received,
                    r.deleted,
                    r.failed.len()
                );
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("[poller {label}] {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Prints the operational events the functions publish (SNS -> a local queue).
async fn print_notices(sqs: aws_sdk_sqs::Client, queue: String) {
    loop {
        let Ok(out) = sqs
            .receive_message()
            .queue_url(&queue)
            .wait_time_seconds(1)
            .max_number_of_messages(10)
            .send()
            .await
        else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        for m in out.messages.unwrap_or_default() {
            use hookrelay_shared::ops_event::{Detail, OpsEvent};
            match serde_json::from_str::<OpsEvent>(m.body().unwrap_or("{}")) {
                Ok(e) => {
                    let more = match &e.detail {
                        Detail::EndpointDisabled(d) => format!(": {}. {}", d.reason, d.to_enable),
                        Detail::MessageDeadLettered(d) => format!(": {}", d.error),
                        Detail::SourceRefusalsHigh(d) => {
                            format!(": {} of {} refused. {}", d.refused, d.requests, d.hint)
                        }
                        _ => String::new(),
                    };
                    println!("[event {}] {}{more}", e.event_type(), e.subject());
                }
                Err(_) => println!("[notice] {}", m.body().unwrap_or("")),
            }
            let _ = sqs
                .delete_message()
                .queue_url(&queue)
                .receipt_handle(m.receipt_handle().unwrap_or(""))
                .send()
                .await;
        }
    }
}

async fn wait_for_stop(stdin: bool, children: &mut [&mut Managed]) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let stdin_closed = async {
        if stdin {
            let mut buf = [0u8; 64];
            let mut input = tokio::io::stdin();
            while matches!(input.read(&mut buf).await, Ok(n) if n > 0) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(stdin_closed);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
            _ = &mut stdin_closed => return Ok(()),
            _ = tick.tick() => {
                for c in children.iter_mut() {
                    if let Some(status) = c.exited() {
                        return Err(format!("{} exited unexpectedly ({status}); see .hookrelay/logs", c.name));
                    }
                }
            }
        }
    }
}

fn example_key(examples: &Path, source: &str) -> String {
    std::fs::read_to_string(examples.join("sources").join(format!("{source}.json")))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["signature"]["keys"][0].as_str().map(String::from))
        .unwrap_or_else(|| "<key>".into())
}

/// How to run this very `hookrelay` from the repository root: wherever
/// cargo put it (CARGO_TARGET_DIR may be outside the repository).
fn cli_path(root: &Path) -> String {
    match std::env::current_exe() {
        Ok(exe) => exe
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or(exe)
            .display()
            .to_string(),
        Err(_) => "hookrelay".into(),
    }
}

fn banner(args: &UpArgs, aws: &str, receiver: &str, demo: &str, local_env: &Path, secrets: usize) {
    let gh = example_key(&args.examples, "github");
    let cli = std::env::current_dir()
        .map(|root| cli_path(&root))
        .unwrap_or_else(|_| "hookrelay".into());
    println!(
        r#"
hookrelay is running locally ({secrets} example sources and endpoints created).
  receiver        {receiver}/webhooks/<source>
  AWS (moto)      {aws}
  demo endpoint   {demo}/<endpoint>
  settings        {env}   (the hookrelay CLI reads it)
  logs            {logs}

Try, in another terminal:
  # 1. a webhook signed the way GitHub signs it: 202, an envelope on the inbound queue, and
  #    (the github source relays) a re-signed delivery to the demo endpoint: watch it below
  echo '{{"zen":"Keep it logically awesome."}}' | {cli} send --scheme github \
      --key {gh} --url {receiver}/webhooks/github -H 'X-GitHub-Event: ping'
  {cli} queue peek --queue inbound

  # 2. the same with a wrong key: 401, nothing queued
  echo '{{"zen":"x"}}' | {cli} send --scheme github --key wrong --url {receiver}/webhooks/github

  # 3. an endpoint that fails twice: retried after 2 s and 4 s, delivered on the third attempt
  echo '{{"order":7}}' | {cli} publish --endpoint flaky --event order.created

  # 4. an endpoint that always fails ends in the dead-letter queue; bring it back
  curl -X POST '{demo}/_control/broken/fail?times=always'
  echo '{{"n":1}}' | {cli} publish --endpoint broken --event test
  {cli} dlq list        # after ~6 s
  curl -X POST {demo}/_control/broken/recover && {cli} dlq redrive

  # 5. fan-out, disable, park, enable and replay
  {cli} endpoints list
  {cli} endpoints disable demo --reason maintenance
  echo '{{"n":2}}' | {cli} publish --event invoice.paid     # parked, not lost
  {cli} endpoints enable demo                              # replayed in order

Ctrl-C stops everything."#,
        env = local_env.display(),
        logs = args.state_dir.join("logs").display(),
    );
}
