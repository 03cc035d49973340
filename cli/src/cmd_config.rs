//! `hookrelay endpoints ...` and `hookrelay sources ...`: the Secrets
//! Manager entries that configure hookrelay, and endpoint state.
//!
//! Every write is validated by compiling the configuration exactly as the
//! functions will, so a typo is refused here rather than discovered by a
//! failed delivery. `show` and `list` never print a key or a custom header
//! value unless asked with `--reveal`.

use crate::context::Context;
use crate::sig_args::parse_key_encoding;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use clap::{Args, Subcommand};
use hookrelay_shared::endpoint::{Endpoint, EndpointConfig, Filter};
use hookrelay_shared::health::{HealthState, LogNotifier, Notifier, Parking};
use hookrelay_shared::health_store::{
    SnsNotifier, begin_replay, disable_and_notify, finish_replay,
};
use hookrelay_shared::queue::SqsQueue;
use hookrelay_shared::retry::RetryConfig;
use hookrelay_shared::schemes::keys::{KeyConfig, KeyEncoding};
use hookrelay_shared::schemes::mac::Encoding;
use hookrelay_shared::schemes::{SchemeName, SignatureConfig};
use hookrelay_shared::source::{BulkConfig, Extract, Source, SourceConfig};
use hookrelay_shared::state_table::StateTable;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use time::OffsetDateTime;

/// Signature flags for configuration commands.
#[derive(Args, Debug, Clone, Default)]
pub struct SigFlags {
    /// Signature scheme (see `hookrelay schemes`); endpoints default to standard-webhooks.
    #[arg(long)]
    pub scheme: Option<SchemeName>,
    /// A key (repeat for several; the first signs).
    #[arg(long = "key")]
    pub keys: Vec<String>,
    /// Generate a strong key (printed once).
    #[arg(long)]
    pub generate_key: bool,
    /// Header that carries the signature (leaftrade, smarterlaunch, hmac, token).
    #[arg(long = "header-name")]
    pub header_name: Option<String>,
    /// hex or base64 (leaftrade, hmac).
    #[arg(long)]
    pub encoding: Option<Encoding>,
    /// Text before the encoded signature, e.g. sha256= (hmac).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Header carrying a unix timestamp that is signed (hmac).
    #[arg(long = "timestamp-header")]
    pub timestamp_header: Option<String>,
    /// Header carrying the delivery id that is signed (hmac).
    #[arg(long = "id-header")]
    pub id_header: Option<String>,
    /// Signed content, with {id} {timestamp} {body} (hmac).
    #[arg(long)]
    pub template: Option<String>,
    /// How the key string becomes bytes: utf8, base64, hex, whsec (hmac).
    #[arg(long = "key-encoding", value_parser = parse_key_encoding)]
    pub key_encoding: Option<KeyEncoding>,
    /// Accepted clock skew for timestamped schemes, in seconds (default 300).
    #[arg(long = "tolerance-secs")]
    pub tolerance_secs: Option<u64>,
    /// LeadDone client id.
    #[arg(long = "client-id")]
    pub client_id: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct EndpointFlags {
    #[command(flatten)]
    pub sig: SigFlags,
    /// Where deliveries go (https://, or http:// with --allow-http); required for add.
    #[arg(long)]
    pub url: Option<String>,
    /// Event types to subscribe to (comma-separated patterns: order.*,idea.created,*).
    #[arg(long, value_delimiter = ',')]
    pub events: Vec<String>,
    /// Payload filter `POINTER equals|one_of|not_one_of JSON`, e.g. `/status not_one_of ["Approving"]` (repeat).
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// Custom header on every request, `Name: value` (repeat).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Retry delays, comma-separated: 10s,100s (3 attempts in all).
    #[arg(long)]
    pub retry: Option<String>,
    /// Per-attempt timeout in seconds, 1 to 300 (default 15).
    #[arg(long = "timeout-secs")]
    pub timeout_secs: Option<u64>,
    /// Allow http:// (local development).
    #[arg(long)]
    pub allow_http: bool,
    /// Deliver up to N jobs of a batch as one JSON array (LeadDone bulk).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Free text shown by `hookrelay endpoints list`.
    #[arg(long)]
    pub description: Option<String>,
    /// The whole configuration as JSON (the flags above then amend it).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct SourceFlags {
    #[command(flatten)]
    pub sig: SigFlags,
    /// Event type from this request header (e.g. X-GitHub-Event).
    #[arg(long)]
    pub event_header: Option<String>,
    /// Event type from this JSON pointer into the body (e.g. /event).
    #[arg(long)]
    pub event_pointer: Option<String>,
    /// The platform's delivery id from this header.
    #[arg(long)]
    pub id_header_source: Option<String>,
    /// The body is an array of events (LeadDone).
    #[arg(long)]
    pub bulk: bool,
    /// Also hand verified events to the router for fan-out.
    #[arg(long)]
    pub relay: bool,
    /// Copy this request header into envelopes (repeat).
    #[arg(long = "forward-header")]
    pub forward_headers: Vec<String>,
    /// The whole configuration as JSON (the flags above then amend it).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum EndpointsCommand {
    /// Create an endpoint.
    Add {
        /// Endpoint name: letters, digits, - _ ., up to 64.
        name: String,
        #[command(flatten)]
        flags: EndpointFlags,
    },
    /// Endpoints with their state and recent failures.
    List,
    /// One endpoint's configuration (keys hidden unless --reveal) and state.
    Show {
        /// Endpoint name.
        name: String,
        /// Print keys and custom header values too.
        #[arg(long)]
        reveal: bool,
    },
    /// Change an endpoint: flags given replace those fields.
    Update {
        /// Endpoint name.
        name: String,
        #[command(flatten)]
        flags: EndpointFlags,
    },
    /// Stop deliveries; new jobs are parked until `enable`. Sends the disable notice.
    Disable {
        /// Endpoint name.
        name: String,
        /// Why (shown by `list` and in the notice).
        #[arg(long)]
        reason: String,
    },
    /// Resume deliveries: replays parked jobs in the order they were created;
    /// new jobs are parked behind them until the replay is done.
    Enable {
        /// Endpoint name.
        name: String,
        /// Wait this long for senders' cached state to expire before replaying
        /// (at least 31 s when the endpoint was switched off in its configuration).
        #[arg(long, default_value_t = 6)]
        settle_secs: u64,
    },
    /// Add a new key; previous keys stay valid for the grace period.
    RotateKey(RotateArgs),
    /// Delete an endpoint's configuration.
    Delete {
        /// Endpoint name.
        name: String,
        /// Required: deleting stops every delivery to it.
        #[arg(long)]
        yes: bool,
        /// Delete at once instead of after Secrets Manager's 7-day recovery window.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
pub enum SourcesCommand {
    /// Create a source (a platform sending to /webhooks/NAME).
    Add {
        /// Source name, the last part of the webhook URL: letters, digits, - _ ., up to 64.
        name: String,
        #[command(flatten)]
        flags: SourceFlags,
    },
    /// Sources with their scheme, bulk and relay settings.
    List,
    /// One source's configuration (keys hidden unless --reveal).
    Show {
        /// Source name.
        name: String,
        /// Print keys too.
        #[arg(long)]
        reveal: bool,
    },
    /// Change a source: flags given replace those fields.
    Update {
        /// Source name.
        name: String,
        #[command(flatten)]
        flags: SourceFlags,
    },
    /// Add a new key; previous keys keep verifying for the grace period.
    RotateKey(RotateArgs),
    /// Delete a source's configuration (its webhooks are then answered 404).
    Delete {
        /// Source name.
        name: String,
        /// Required: the platform's webhooks are refused from then on.
        #[arg(long)]
        yes: bool,
        /// Delete at once instead of after Secrets Manager's 7-day recovery window.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RotateArgs {
    /// Source or endpoint name.
    pub name: String,
    /// The new key; generated when omitted (and printed once).
    #[arg(long)]
    pub key: Option<String>,
    /// How long the previous keys stay valid, e.g. 24h, 30m.
    #[arg(long, default_value = "24h")]
    pub grace: humantime_duration::Dur,
    /// LeadDone sources: the client whose keys rotate (required for them).
    #[arg(long)]
    pub client: Option<String>,
}

/// A `humantime` duration as a clap value.
pub mod humantime_duration {
    #[derive(Debug, Clone, Copy)]
    pub struct Dur(pub std::time::Duration);
    impl std::str::FromStr for Dur {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            humantime::parse_duration(s)
                .map(Dur)
                .map_err(|e| format!("{s:?}: {e}"))
        }
    }
}

fn secret(ctx: &Context, kind: &str, name: &str) -> String {
    format!(
        "{}/{kind}/{name}",
        ctx.secrets_prefix().trim_end_matches('/')
    )
}

async fn sm(ctx: &Context) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&ctx.sdk().await)
}

async fn read(sm: &aws_sdk_secretsmanager::Client, id: &str) -> Result<Option<String>, String> {
    match sm
        .get_secret_value()
        .secret_id(id)
        .version_stage("AWSCURRENT")
        .send()
        .await
    {
        Ok(out) => Ok(out.secret_string),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(DisplayErrorContext(&e).to_string()),
    }
}

async fn write(
    sm: &aws_sdk_secretsmanager::Client,
    id: &str,
    text: &str,
    create: bool,
) -> Result<(), String> {
    if create {
        sm.create_secret()
            .name(id)
            .secret_string(text)
            .description("hookrelay configuration")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.code() == Some("ResourceExistsException") {
                    format!("{id} already exists; use update")
                } else {
                    DisplayErrorContext(&e).to_string()
                }
            })
    } else {
        sm.put_secret_value()
            .secret_id(id)
            .secret_string(text)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| DisplayErrorContext(&e).to_string())
    }
}

async fn names(sm: &aws_sdk_secretsmanager::Client, prefix: &str) -> Result<Vec<String>, String> {
    use aws_sdk_secretsmanager::types::{Filter as SmFilter, FilterNameStringType};
    let filter = SmFilter::builder()
        .key(FilterNameStringType::Name)
        .values(prefix)
        .build();
    let mut out = Vec::new();
    let mut pages = sm.list_secrets().filters(filter).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| DisplayErrorContext(&e).to_string())?;
        for s in page.secret_list() {
            if let Some(rest) = s.name().and_then(|n| n.strip_prefix(prefix))
                && !rest.is_empty()
                && !rest.contains('/')
                && s.deleted_date().is_none()
            {
                out.push(rest.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// 32 random bytes from the OS: whsec_<base64> for Standard Webhooks, hex otherwise.
pub fn generate_key(scheme: SchemeName) -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(match scheme {
        SchemeName::StandardWebhooks => format!(
            "whsec_{}",
            hookrelay_shared::schemes::mac::base64_encode(&bytes)
        ),
        _ => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// Applies signature flags to a configuration (new or existing).
fn apply_sig(
    sig: &SigFlags,
    existing: Option<SignatureConfig>,
    default_scheme: Option<SchemeName>,
) -> Result<Option<(SignatureConfig, Option<String>)>, String> {
    let mut cfg = match (existing, sig.scheme.or(default_scheme)) {
        (Some(mut c), Some(s)) if c.scheme != s => {
            c.scheme = s;
            c
        }
        (Some(c), _) => c,
        (None, Some(s)) => SignatureConfig::new(s, vec![]),
        (None, None) => return Ok(None),
    };
    let mut generated = None;
    if sig.generate_key {
        let k = generate_key(cfg.scheme)?;
        generated = Some(k.clone());
        cfg.keys = vec![KeyConfig::Plain(k)];
    } else if !sig.keys.is_empty() {
        cfg.keys = sig.keys.iter().cloned().map(KeyConfig::Plain).collect();
    }
    macro_rules! set {
        ($field:ident) => {
            if sig.$field.is_some() {
                cfg.$field = sig.$field.clone();
            }
        };
    }
    if sig.header_name.is_some() {
        cfg.header = sig.header_name.clone();
    }
    set!(encoding);
    set!(prefix);
    set!(timestamp_header);
    set!(id_header);
    set!(template);
    set!(key_encoding);
    set!(tolerance_secs);
    set!(client_id);
    Ok(Some((cfg, generated)))
}

fn parse_filter(text: &str) -> Result<Filter, String> {
    let mut parts = text.splitn(3, ' ');
    let (pointer, op, value) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let json: serde_json::Value = serde_json::from_str(value)
        .map_err(|e| format!("filter {text:?}: value is not JSON: {e}"))?;
    let list = || {
        json.as_array()
            .cloned()
            .ok_or_else(|| format!("filter {text:?}: {op} needs a JSON array"))
    };
    let mut f = Filter {
        pointer: pointer.to_string(),
        equals: None,
        one_of: None,
        not_one_of: None,
    };
    match op {
        "equals" => f.equals = Some(json.clone()),
        "one_of" => f.one_of = Some(list()?),
        "not_one_of" => f.not_one_of = Some(list()?),
        other => {
            return Err(format!(
                "filter {text:?}: unknown operator {other:?} (equals, one_of, not_one_of)"
            ));
        }
    }
    Ok(f)
}

fn endpoint_config(
    flags: &EndpointFlags,
    existing: Option<EndpointConfig>,
) -> Result<(EndpointConfig, Option<String>), String> {
    let base = match &flags.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(
                serde_json::from_str::<EndpointConfig>(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            )
        }
        None => existing,
    };
    let mut cfg = match base {
        Some(c) => c,
        None => {
            let url = flags.url.clone().ok_or("--url is required")?;
            serde_json::from_value(serde_json::json!({ "url": url })).map_err(|e| e.to_string())?
        }
    };
    if let Some(u) = &flags.url {
        cfg.url = u.clone();
    }
    let is_new = cfg.signature.is_none();
    let default = if is_new && (!flags.sig.keys.is_empty() || flags.sig.generate_key) {
        Some(SchemeName::StandardWebhooks)
    } else {
        None
    };
    let mut generated = None;
    if let Some((sig, g)) = apply_sig(&flags.sig, cfg.signature.take(), default)? {
        cfg.signature = Some(sig);
        generated = g;
    }
    if !flags.events.is_empty() {
        cfg.events = flags.events.clone();
    }
    if !flags.filters.is_empty() {
        cfg.filters = flags
            .filters
            .iter()
            .map(|f| parse_filter(f))
            .collect::<Result<_, _>>()?;
    }
    for h in &flags.headers {
        let (k, v) = crate::cmd_sign::parse_header(h)?;
        cfg.headers.insert(k, v.trim().to_string());
    }
    if let Some(r) = &flags.retry {
        let delays: Vec<String> = r
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        cfg.retry = Some(
            serde_json::from_value::<RetryConfig>(serde_json::json!({ "delays": delays }))
                .map_err(|e| e.to_string())?,
        );
    }
    if let Some(t) = flags.timeout_secs {
        cfg.timeout_secs = t;
    }
    if flags.allow_http {
        cfg.allow_http = true;
    }
    if let Some(n) = flags.batch {
        cfg.batch = Some(hookrelay_shared::endpoint::BatchConfig { max_items: n });
    }
    if let Some(d) = &flags.description {
        cfg.description = Some(d.clone());
    }
    Endpoint::compile(cfg.clone()).map_err(|e| format!("invalid endpoint: {e}"))?;
    Ok((cfg, generated))
}

fn source_config(
    flags: &SourceFlags,
    existing: Option<SourceConfig>,
) -> Result<(SourceConfig, Option<String>), String> {
    let base = match &flags.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(
                serde_json::from_str::<SourceConfig>(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            )
        }
        None => existing,
    };
    let (sig, generated) =
        match apply_sig(&flags.sig, base.as_ref().map(|b| b.signature.clone()), None)? {
            Some(x) => x,
            None => return Err("--scheme is required".into()),
        };
    let mut cfg = base.unwrap_or(SourceConfig {
        signature: sig.clone(),
        event_type: None,
        delivery_id: None,
        bulk: None,
        forward_headers: vec![],
        relay: false,
        relay_unsigned_event_type: false,
    });
    cfg.signature = sig;
    // LeadDone verifies with `clients`: a --client-id/--key pair becomes one.
    if cfg.signature.scheme == SchemeName::Leaddone
        && let Some(c) = cfg.signature.client_id.take()
    {
        let keys = std::mem::take(&mut cfg.signature.keys);
        cfg.signature.clients.insert(c, keys);
    }
    if let Some(h) = &flags.event_header {
        cfg.event_type = Some(Extract::Header(h.clone()));
    }
    if let Some(p) = &flags.event_pointer {
        cfg.event_type = Some(Extract::JsonPointer(p.clone()));
    }
    if let Some(h) = &flags.id_header_source {
        cfg.delivery_id = Some(Extract::Header(h.clone()));
    }
    if flags.bulk {
        cfg.bulk = Some(serde_json::from_str::<BulkConfig>("{}").map_err(|e| e.to_string())?);
    }
    if flags.relay {
        cfg.relay = true;
    }
    cfg.forward_headers
        .extend(flags.forward_headers.iter().cloned());
    Source::compile(cfg.clone()).map_err(|e| format!("invalid source: {e}"))?;
    Ok((cfg, generated))
}

/// Replaces key material and custom header values with placeholders.
fn redacted(mut v: serde_json::Value) -> serde_json::Value {
    fn keys(list: &mut serde_json::Value) {
        if let Some(arr) = list.as_array_mut() {
            for k in arr {
                match k {
                    serde_json::Value::String(s) => *s = "<hidden>".into(),
                    serde_json::Value::Object(o) => {
                        o.insert("secret".into(), "<hidden>".into());
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some(sig) = v.get_mut("signature") {
        if let Some(k) = sig.get_mut("keys") {
            keys(k);
        }
        if let Some(clients) = sig.get_mut("clients").and_then(|c| c.as_object_mut()) {
            for list in clients.values_mut() {
                keys(list);
            }
        }
    }
    if let Some(h) = v.get_mut("headers").and_then(|h| h.as_object_mut()) {
        for val in h.values_mut() {
            *val = "<hidden>".into();
        }
    }
    v
}

fn print_config<T: serde::Serialize>(cfg: &T, reveal: bool) -> Result<(), String> {
    let v = serde_json::to_value(cfg).map_err(|e| e.to_string())?;
    let v = if reveal { v } else { redacted(v) };
    println!(
        "{}",
        serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn state_table(ctx: &Context, sdk: &aws_config::SdkConfig) -> Option<StateTable> {
    ctx.get("HOOKRELAY_STATE_TABLE")
        .map(|t| StateTable::new(aws_sdk_dynamodb::Client::new(sdk), t))
}

fn describe_state(state: &HealthState, now: OffsetDateTime) -> String {
    let (attempts, failures) = state.window(now, 24);
    let recent = if attempts > 0 {
        format!("{failures}/{attempts} failed in 24 h")
    } else {
        "no recent failures".into()
    };
    match (&state.disabled, state.replaying_since) {
        (Some(d), _) => format!(
            "DISABLED ({:?}: {}) since {}; {recent}",
            d.trigger,
            d.reason,
            hookrelay_shared::clock::iso_millis(d.at)
        ),
        (None, Some(since)) => format!(
            "REPLAYING parked jobs since {} (new jobs are parked behind them; \
             `endpoints enable` again resumes an interrupted replay); {recent}",
            hookrelay_shared::clock::iso_millis(since)
        ),
        (None, None) => format!("enabled; {recent}"),
    }
}

/// Rotates a source's key: LeadDone sources verify with per-client keys
/// (`signature.clients`), so they need the client; `signature.keys` is not
/// used for them and rotating it would change nothing.
fn rotate_source_key(
    cfg: &mut SourceConfig,
    client: Option<&str>,
    new: String,
    grace: Duration,
    now: OffsetDateTime,
) -> Result<(), String> {
    let leaddone = cfg.signature.scheme == SchemeName::Leaddone;
    let keys = match client {
        Some(c) => cfg
            .signature
            .clients
            .get_mut(c)
            .ok_or_else(|| format!("no client {c}"))?,
        None if leaddone => {
            let known: Vec<&str> = cfg.signature.clients.keys().map(String::as_str).collect();
            return Err(format!(
                "leaddone sources have a key per client: add --client NAME (clients: {})",
                known.join(", ")
            ));
        }
        None => &mut cfg.signature.keys,
    };
    rotate(keys, new, grace, now);
    Ok(())
}

/// Rotation: the new key first, previous keys kept until `grace` has passed.
fn rotate(keys: &mut Vec<KeyConfig>, new: String, grace: Duration, now: OffsetDateTime) {
    let until = now + grace;
    let mut kept: Vec<KeyConfig> = keys
        .drain(..)
        .filter(|k| k.is_active(now))
        .map(|k| {
            let not_after = k.not_after().map_or(until, |t| t.min(until));
            KeyConfig::WithExpiry {
                secret: k.secret().to_string(),
                not_after: Some(not_after),
            }
        })
        .collect();
    kept.insert(0, KeyConfig::Plain(new));
    *keys = kept;
}

pub async fn endpoints(ctx: &Context, cmd: EndpointsCommand) -> Result<ExitCode, String> {
    let sdk = ctx.sdk().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let now = OffsetDateTime::now_utc();
    match cmd {
        EndpointsCommand::Add { name, flags } => {
            if !hookrelay_shared::endpoint::valid_endpoint_name(&name) {
                return Err(format!(
                    "invalid endpoint name {name:?}: letters, digits, - _ ., up to 64"
                ));
            }
            let (cfg, generated) = endpoint_config(&flags, None)?;
            write(
                &sm,
                &secret(ctx, "endpoints", &name),
                &serde_json::to_string(&cfg).map_err(|e| e.to_string())?,
                true,
            )
            .await?;
            println!("endpoint {name} created");
            if let Some(k) = generated {
                println!("generated key (shown once; give it to the endpoint's owner): {k}");
            }
        }
        EndpointsCommand::Update { name, flags } => {
            let id = secret(ctx, "endpoints", &name);
            let text = read(&sm, &id)
                .await?
                .ok_or_else(|| format!("no endpoint {name}"))?;
            let existing: EndpointConfig =
                serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let (cfg, generated) = endpoint_config(&flags, Some(existing))?;
            write(
                &sm,
                &id,
                &serde_json::to_string(&cfg).map_err(|e| e.to_string())?,
                false,
            )
            .await?;
            println!("endpoint {name} updated");
            if let Some(k) = generated {
                println!("generated key (shown once): {k}");
            }
        }
        EndpointsCommand::List => {
            let prefix = format!("{}/endpoints/", ctx.secrets_prefix().trim_end_matches('/'));
            let table = state_table(ctx, &sdk);
            let states: std::collections::HashMap<String, HealthState> = match &table {
                Some(t) => t.all_health().await?.into_iter().collect(),
                None => Default::default(),
            };
            let list = names(&sm, &prefix).await?;
            if list.is_empty() {
                println!("no endpoints under {prefix}");
            }
            for name in list {
                let cfg = read(&sm, &format!("{prefix}{name}"))
                    .await?
                    .and_then(|t| serde_json::from_str::<EndpointConfig>(&t).ok());
                let Some(cfg) = cfg else {
                    println!("{name}: unreadable configuration");
                    continue;
                };
                let scheme = cfg
                    .signature
                    .as_ref()
                    .map(|s| s.scheme.to_string())
                    .unwrap_or_else(|| "unsigned".into());
                let state = match (cfg.enabled, states.get(&name)) {
                    (false, _) => "off in its configuration".to_string(),
                    (true, Some(s)) => describe_state(s, now),
                    (true, None) => "enabled".to_string(),
                };
                let parked = match &table {
                    Some(t) => match t.parked_count(&name).await? {
                        0 => String::new(),
                        n => format!("; {n} parked"),
                    },
                    None => String::new(),
                };
                let events = if cfg.events.is_empty() {
                    "direct only".to_string()
                } else {
                    cfg.events.join(",")
                };
                println!(
                    "{name}  {}  [{scheme}]  events: {events}  {state}{parked}",
                    cfg.url
                );
            }
        }
        EndpointsCommand::Show { name, reveal } => {
            let text = read(&sm, &secret(ctx, "endpoints", &name))
                .await?
                .ok_or_else(|| format!("no endpoint {name}"))?;
            let cfg: EndpointConfig = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            print_config(&cfg, reveal)?;
            if let Some(t) = state_table(ctx, &sdk) {
                let (state, _) = t.load(&name).await?;
                println!("state: {}", describe_state(&state, now));
                if let Some(last) = state.last_status {
                    println!("last status: {last}");
                }
                println!("parked jobs: {}", t.parked_count(&name).await?);
            }
        }
        EndpointsCommand::Disable { name, reason } => {
            let t = state_table(ctx, &sdk)
                .ok_or("HOOKRELAY_STATE_TABLE is not set: disabling needs the state table")?;
            // The same notice an automatic disable sends, to the same topic.
            let notifier: Box<dyn Notifier> = match ctx
                .get("HOOKRELAY_NOTIFY_TOPIC_ARN")
                .or_else(|| ctx.get("NOTIFY_TOPIC_ARN"))
            {
                Some(arn) => Box::new(SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), arn)),
                None => {
                    eprintln!(
                        "note: NOTIFY_TOPIC_ARN is not set (the stack's NoticeTopicArn output): no notice is sent"
                    );
                    Box::new(LogNotifier)
                }
            };
            if disable_and_notify(&t, notifier.as_ref(), &name, &reason, now).await? {
                println!(
                    "endpoint {name} disabled: new deliveries are parked until `hookrelay endpoints enable {name}`"
                );
            } else {
                println!("endpoint {name} was already disabled");
            }
        }
        EndpointsCommand::Enable { name, settle_secs } => {
            let id = secret(ctx, "endpoints", &name);
            let text = read(&sm, &id)
                .await?
                .ok_or_else(|| format!("no endpoint {name}"))?;
            let mut cfg: EndpointConfig = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let switched_off = !cfg.enabled;
            let Some(t) = state_table(ctx, &sdk) else {
                if switched_off {
                    switch_on(&sm, &id, &mut cfg, &name).await?;
                } else {
                    println!(
                        "endpoint {name} is on in its configuration (HOOKRELAY_STATE_TABLE is not set: no state to clear, nothing parked)"
                    );
                }
                return Ok(ExitCode::SUCCESS);
            };
            let (state, _) = t.load(&name).await?;
            if !switched_off && state.parking() == Parking::No && t.parked_count(&name).await? == 0
            {
                println!("endpoint {name} was not disabled and has no parked jobs");
                return Ok(ExitCode::SUCCESS);
            }
            // Replaying first, so that from now on senders park new jobs
            // behind the backlog; only then switch the configuration on.
            let was_disabled = begin_replay(&t, &name, now).await?;
            let mut settle = Duration::from_secs(settle_secs);
            if switched_off {
                switch_on(&sm, &id, &mut cfg, &name).await?;
                // Senders look at a switched-off configuration again at most
                // every 30 s: wait that long so none parks after the replay ends.
                settle = settle.max(
                    hookrelay_shared::secrets::CacheSettings::default().min_refresh_interval
                        + Duration::from_secs(1),
                );
            }
            let outbound =
                SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), ctx.queue_url("outbound")?);
            if !settle.is_zero() {
                println!(
                    "waiting {} s for senders to see the change, then replaying parked jobs...",
                    settle.as_secs()
                );
            }
            let (replayed, disabled_again) = finish_replay(&t, &name, &outbound, settle).await?;
            println!(
                "endpoint {name} {}; {replayed} parked job(s) replayed in the order they were created",
                if was_disabled || switched_off {
                    "enabled"
                } else {
                    "was not disabled"
                },
            );
            if let Some(d) = disabled_again {
                println!(
                    "but it was disabled again during the replay ({:?}: {}); the rest stays parked",
                    d.trigger, d.reason
                );
            }
        }
        EndpointsCommand::RotateKey(a) => {
            let id = secret(ctx, "endpoints", &a.name);
            let text = read(&sm, &id)
                .await?
                .ok_or_else(|| format!("no endpoint {}", a.name))?;
            let mut cfg: EndpointConfig = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let sig = cfg
                .signature
                .as_mut()
                .ok_or("this endpoint has no signature to rotate")?;
            let new = match a.key.clone() {
                Some(k) => k,
                None => generate_key(sig.scheme)?,
            };
            rotate(&mut sig.keys, new.clone(), a.grace.0, now);
            Endpoint::compile(cfg.clone()).map_err(|e| format!("invalid after rotation: {e}"))?;
            write(
                &sm,
                &id,
                &serde_json::to_string(&cfg).map_err(|e| e.to_string())?,
                false,
            )
            .await?;
            println!("new key for {} (shown once): {new}", a.name);
            println!(
                "previous keys stay valid for {}",
                humantime::format_duration(a.grace.0)
            );
        }
        EndpointsCommand::Delete { name, yes, force } => {
            delete(&sm, &secret(ctx, "endpoints", &name), yes, force).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Sets `"enabled": true` in an endpoint's configuration.
async fn switch_on(
    sm: &aws_sdk_secretsmanager::Client,
    id: &str,
    cfg: &mut EndpointConfig,
    name: &str,
) -> Result<(), String> {
    cfg.enabled = true;
    write(
        sm,
        id,
        &serde_json::to_string(cfg).map_err(|e| e.to_string())?,
        false,
    )
    .await?;
    println!("endpoint {name} switched on in its configuration");
    Ok(())
}

async fn delete(
    sm: &aws_sdk_secretsmanager::Client,
    id: &str,
    yes: bool,
    force: bool,
) -> Result<(), String> {
    if !yes {
        return Err(format!(
            "deleting {id} stops everything that uses it; add --yes"
        ));
    }
    let mut req = sm.delete_secret().secret_id(id);
    req = if force {
        req.force_delete_without_recovery(true)
    } else {
        req.recovery_window_in_days(7)
    };
    req.send()
        .await
        .map_err(|e| DisplayErrorContext(&e).to_string())?;
    println!(
        "{id} deleted{}",
        if force {
            ""
        } else {
            " (recoverable for 7 days)"
        }
    );
    Ok(())
}

pub async fn sources(ctx: &Context, cmd: SourcesCommand) -> Result<ExitCode, String> {
    let sm = sm(ctx).await;
    let now = OffsetDateTime::now_utc();
    match cmd {
        SourcesCommand::Add { name, flags } => {
            if !hookrelay_shared::source::valid_source_name(&name) {
                return Err(format!(
                    "invalid source name {name:?}: letters, digits, - _ ., up to 64"
                ));
            }
            let (cfg, generated) = source_config(&flags, None)?;
            write(
                &sm,
                &secret(ctx, "sources", &name),
                &serde_json::to_string(&cfg).map_err(|e| e.to_string())?,
                true,
            )
            .await?;
            println!("source {name} created: the platform posts to <receiver>/webhooks/{name}");
            if let Some(k) = generated {
                println!("generated key (shown once; enter it in the platform): {k}");
            }
        }
        SourcesCommand::Update { name, flags } => {
            let id = secret(ctx, "sources", &name);
            let text = read(&sm, &id)
                .await?
                .ok_or_else(|| format!("no source {name}"))?;
            let existing: SourceConfig = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let (cfg, generated) = source_config(&flags, Some(existing))?;
            write(
                &sm,
                &id,
                &serde_json::to_string(&cfg).map_err(|e| e.to_string())?,
                false,
            )
            .await?;
            println!(
                "source {name} updated (receivers pick it up within their cache TTL, or at once on a failed verification)"
            );
            if let Some(k) = generated {
                println!("generated key (shown once): {k}");
            }
        }
        SourcesCommand::List => {
            let prefix = format!("{}/sources/", ctx.secrets_prefix().trim_end_matches('/'));
            for name in names(&sm, &prefix).await? {
                let cfg = read(&sm, &format!("{prefix}{name}"))
                    .await?
                    .and_then(|t| serde_json::from_str::<SourceConfig>(&t).ok());
                match cfg {
                    Some(c) => println!(
                        "{name}  [{}]{}{}",
                        c.signature.scheme,
                        if c.bulk.is_some() { "  bulk" } else { "" },
                        if c.relay { "  relay" } else { "" }
                    ),
                    None => println!("{name}: unreadable configuration"),
                }
            }
        }
        SourcesCommand::Show { name, reveal } => {
            let text = read(&sm, &secret(ctx, "sources", &name))
                .await?
                .ok_or_else(|| format!("no source {name}"))?;
            let cfg: SourceConfig = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            print_config(&cfg, reveal)?;
        }
        SourcesCommand::RotateKey(a) => {
            let id = secret(ctx, "sources", &a.name);
            let text = read(&sm, &id)
                .await?
                .ok_or_else(|| format!("no source {}", a.name))?;
            let mut cfg: SourceConfig = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let new = match a.key.clone() {
                Some(k) => k,
                None => generate_key(cfg.signature.scheme)?,
            };
            rotate_source_key(&mut cfg, a.client.as_deref(), new.clone(), a.grace.0, now)?;
            Source::compile(cfg.clone()).map_err(|e| format!("invalid after rotation: {e}"))?;
            write(
                &sm,
                &id,
                &serde_json::to_string(&cfg).map_err(|e| e.to_string())?,
                false,
            )
            .await?;
            println!("new key for {} (shown once): {new}", a.name);
            println!(
                "previous keys keep verifying for {}",
                humantime::format_duration(a.grace.0)
            );
        }
        SourcesCommand::Delete { name, yes, force } => {
            delete(&sm, &secret(ctx, "sources", &name), yes, force).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_previous_keys_for_the_grace_period_and_drops_expired_ones() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut keys = vec![
            KeyConfig::Plain("current".into()),
            KeyConfig::WithExpiry {
                secret: "older".into(),
                not_after: Some(now + Duration::from_secs(60)),
            },
            KeyConfig::WithExpiry {
                secret: "expired".into(),
                not_after: Some(now - Duration::from_secs(1)),
            },
        ];
        rotate(&mut keys, "new".into(), Duration::from_secs(86_400), now);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0], KeyConfig::Plain("new".into()));
        assert_eq!(keys[1].not_after(), Some(now + Duration::from_secs(86_400)));
        assert_eq!(
            keys[2].not_after(),
            Some(now + Duration::from_secs(60)),
            "an earlier expiry is kept"
        );
    }

    #[test]
    fn leaddone_rotation_needs_the_client() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut cfg: SourceConfig = serde_json::from_str(
            r#"{"signature":{"scheme":"leaddone","clients":{"shop-1":["old-1"],"shop-2":["old-2"]}},"bulk":{}}"#,
        )
        .unwrap();
        let before = cfg.clone();
        let e = rotate_source_key(&mut cfg, None, "new".into(), Duration::from_secs(60), now)
            .unwrap_err();
        assert!(e.contains("--client") && e.contains("shop-1"), "{e}");
        assert_eq!(cfg, before, "nothing rotated");
        rotate_source_key(
            &mut cfg,
            Some("shop-2"),
            "new".into(),
            Duration::from_secs(60),
            now,
        )
        .unwrap();
        assert_eq!(
            cfg.signature.clients["shop-2"][0],
            KeyConfig::Plain("new".into())
        );
        assert_eq!(
            cfg.signature.clients["shop-1"],
            before.signature.clients["shop-1"]
        );
        Source::compile(cfg).unwrap();
    }

    #[test]
    fn other_sources_rotate_their_keys() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut cfg: SourceConfig =
            serde_json::from_str(r#"{"signature":{"scheme":"github","keys":["old"]}}"#).unwrap();
        rotate_source_key(&mut cfg, None, "new".into(), Duration::from_secs(60), now).unwrap();
        assert_eq!(cfg.signature.keys[0], KeyConfig::Plain("new".into()));
        assert_eq!(cfg.signature.keys.len(), 2);
    }

    #[test]
    fn filters_parse_from_the_command_line() {
        let f = parse_filter(r#"/status not_one_of ["Approving"]"#).unwrap();
        assert_eq!(f.not_one_of, Some(vec![serde_json::json!("Approving")]));
        assert!(parse_filter("/x between [1]").is_err());
        assert!(parse_filter("/x one_of 1").is_err());
    }

    #[test]
    fn redaction_hides_keys_and_header_values() {
        let v = serde_json::json!({
            "signature": {"keys": ["k1", {"secret": "k2", "not_after": "2030-01-01T00:00:00Z"}], "clients": {"c": ["k3"]}},
            "headers": {"Authorization": "Bearer t"}
        });
        let text = redacted(v).to_string();
        for s in ["k1", "k2", "k3", "Bearer t"] {
            assert!(!text.contains(&format!("\"{s}\"")), "{s} leaked: {text}");
        }
        assert!(text.contains("not_after"));
    }

    #[test]
    fn generated_keys_are_strong_and_in_the_scheme_format() {
        let sw = generate_key(SchemeName::StandardWebhooks).unwrap();
        assert!(sw.starts_with("whsec_"));
        assert_eq!(KeyEncoding::Whsec.decode(&sw).unwrap().len(), 32);
        let hex = generate_key(SchemeName::Github).unwrap();
        assert_eq!(hex.len(), 64);
        assert_ne!(hex, generate_key(SchemeName::Github).unwrap());
    }
}
