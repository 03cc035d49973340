//! `hookrelay sign`, `hookrelay verify`, `hookrelay schemes`: integrators
//! check their own signing code against hookrelay's, offline.

use crate::input::read_body;
use crate::sig_args::SigArgs;
use clap::Args;
use hookrelay_shared::schemes::{SCHEMES, SignInput};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use time::OffsetDateTime;

#[derive(Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub sig: SigArgs,
    /// Delivery id to sign (standard-webhooks, hmac with {id}); default a new msg_ id.
    #[arg(long)]
    pub id: Option<String>,
    /// Unix timestamp to sign; default now.
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// Event name (leanbe puts it in the body).
    #[arg(long)]
    pub event: Option<String>,
    /// Body to sign (leanbe: the payload); `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub sig: SigArgs,
    /// A request header, `Name: value` (repeat).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Verify as of this unix time instead of now (for recorded requests).
    #[arg(long)]
    pub now: Option<i64>,
    /// The request body; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
}

fn at(ts: Option<i64>) -> Result<OffsetDateTime, String> {
    match ts {
        Some(t) => OffsetDateTime::from_unix_timestamp(t)
            .map_err(|_| format!("timestamp {t} is out of range")),
        None => Ok(OffsetDateTime::now_utc()),
    }
}

pub fn sign(args: SignArgs) -> Result<ExitCode, String> {
    let scheme = args.sig.compile()?;
    let body = read_body(args.file.as_ref())?;
    let id = args
        .id
        .unwrap_or_else(|| format!("msg_{}", uuid::Uuid::new_v4().simple()));
    let input = SignInput {
        id: &id,
        at: at(args.timestamp)?,
        body: &body,
        event_type: args.event.as_deref(),
    };
    let signed = scheme.sign(&input).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for (name, value) in &signed.headers {
        writeln!(out, "{name}: {value}").map_err(|e| e.to_string())?;
    }
    if let Some(body) = &signed.body {
        out.write_all(body).map_err(|e| e.to_string())?;
        writeln!(out).map_err(|e| e.to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn parse_header(h: &str) -> Result<(String, String), String> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| format!("header {h:?} is not `Name: value`"))?;
    Ok((name.trim().to_string(), value.to_string()))
}

pub fn verify(args: VerifyArgs) -> Result<ExitCode, String> {
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let scheme = args.sig.compile_for_request(&headers)?;
    let body = read_body(args.file.as_ref())?;
    match scheme.verify(&headers, &body, at(args.now)?) {
        Ok(v) => {
            match v.client_id {
                Some(c) => println!("valid (key #{}, client {c})", v.key_index + 1),
                None => println!("valid (key #{})", v.key_index + 1),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("invalid: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn schemes() {
    for row in SCHEMES {
        println!("{}", row.name);
        println!("    {}", row.summary);
        println!("    {}", row.provenance);
        if !row.params.is_empty() {
            let params: Vec<_> = row.params.iter().map(|p| p.field()).collect();
            println!("    parameters: {}", params.join(", "));
        }
    }
}
