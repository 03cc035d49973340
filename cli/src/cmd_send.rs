//! `hookrelay send`: sign a webhook the way a platform would and POST it,
//! so an integrator can test a receiver (hookrelay's or their own) before
//! going live.

use crate::cmd_sign::parse_header;
use crate::input::read_body;
use crate::sig_args::SigArgs;
use clap::Args;
use hookrelay_shared::schemes::SignInput;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub sig: SigArgs,
    /// Where to POST, e.g. $RECEIVER_URL/webhooks/github.
    #[arg(long)]
    pub url: String,
    /// An extra request header, `Name: value` (repeat), e.g. `X-GitHub-Event: push`.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Delivery id to sign and send (standard-webhooks); default a new msg_ id.
    #[arg(long)]
    pub id: Option<String>,
    /// Event name (leanbe puts it in the body).
    #[arg(long)]
    pub event: Option<String>,
    /// Content-Type of the body.
    #[arg(long, default_value = "application/json")]
    pub content_type: String,
    /// The body; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
}

pub async fn send(args: SendArgs) -> Result<ExitCode, String> {
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let scheme = args.sig.compile_for_request(&headers)?;
    let body = read_body(args.file.as_ref())?;
    let id = args
        .id
        .unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
    let input = SignInput {
        id: &id,
        at: time::OffsetDateTime::now_utc(),
        body: &body,
        event_type: args.event.as_deref(),
    };
    let signed = scheme.sign(&input).map_err(|e| e.to_string())?;
    hookrelay_shared::aws::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = client
        .post(&args.url)
        .header("content-type", &args.content_type);
    for (k, v) in &headers {
        req = req.header(k, v.trim());
    }
    for (k, v) in &signed.headers {
        req = req.header(k, v);
    }
    let resp = req
        .body(signed.body_or(&body).to_vec())
        .send()
        .await
        .map_err(|e| format!("POST {} failed: {e}", args.url))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    println!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if !text.is_empty() {
        println!("{text}");
    }
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
