//! `hookrelay endpoints add|list|show|update|disable|enable|rotate-key|delete`.

use super::display::{describe_state, print_config};
use super::keys::{generate_key, rotate};
use super::sig_flags::{Applied, SigFlags};
use super::store::{ConfigStore, Kind};
use super::{DeleteArgs, RotateArgs, base, check_name, config_path, state_table};
use crate::context::Context;
use clap::{Args, Subcommand};
use hookrelay_shared::aws::dynamodb::health::disable_and_notify;
use hookrelay_shared::aws::secrets_manager::SecretsManagerSwitch;
use hookrelay_shared::aws::sns::SnsNotifier;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::enable::{EnableSettings, Enabled, Parked, Step};
use hookrelay_shared::endpoint::{BatchConfig, Endpoint, EndpointConfig, Filter};
use hookrelay_shared::health::{HealthState, LogNotifier, Notifier};
use hookrelay_shared::queue::Queue;
use hookrelay_shared::retry::{RetryConfig, RetrySchedule};
use hookrelay_shared::schemes::SchemeName;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Args, Debug, Clone, Default, PartialEq)]
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
    /// Retry delays, comma-separated: 10s,100s (3 attempts in all). Keeps the configured jitter.
    #[arg(long)]
    pub retry: Option<String>,
    /// Retry jitter: 0.2 spreads each delay by ±20%, 0 sends at the exact delays (default 0.2).
    #[arg(long)]
    pub jitter: Option<f64>,
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
    /// Change an endpoint: the flags given replace those fields, the rest stays.
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
        /// Wait this long for senders' cached state (5 s) to expire before
        /// replaying (at least 31 s when the endpoint was switched off in its
        /// configuration). Shorter lets new jobs overtake the backlog; none
        /// is lost either way.
        #[arg(long, default_value_t = 6)]
        settle_secs: u64,
    },
    /// Add a new key; previous keys stay valid for the grace period.
    RotateKey(RotateArgs),
    /// Delete an endpoint's configuration (every delivery to it stops).
    Delete(DeleteArgs),
}

pub async fn run(ctx: &Context, cmd: EndpointsCommand) -> Result<ExitCode, String> {
    let sdk = ctx.sdk().await;
    let store = ConfigStore::from_context(ctx, &sdk).await;
    match cmd {
        EndpointsCommand::Add { name, flags } => add(&store, &name, &flags).await?,
        EndpointsCommand::Update { name, flags } => update(&store, &name, &flags).await?,
        EndpointsCommand::List => list(ctx, &sdk, &store).await?,
        EndpointsCommand::Show { name, reveal } => show(ctx, &sdk, &store, &name, reveal).await?,
        EndpointsCommand::Disable { name, reason } => disable(ctx, &sdk, &name, &reason).await?,
        EndpointsCommand::Enable { name, settle_secs } => {
            enable(ctx, &sdk, &name, Duration::from_secs(settle_secs)).await?
        }
        EndpointsCommand::RotateKey(a) => rotate_key(&store, &a).await?,
        EndpointsCommand::Delete(a) => {
            store
                .delete(Kind::Endpoint, &a.name, a.yes, a.force)
                .await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An endpoint's configuration after the flags, validated as the sender
/// will, and the key generated for it (printed once).
#[derive(Debug)]
pub struct Configured {
    pub config: EndpointConfig,
    pub generated: Option<String>,
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

/// `--retry` and `--jitter` over the configured schedule: each replaces
/// only its own half (a configured jitter of 0 survives `--retry`), and
/// what is not configured either comes from the default schedule.
fn retry(
    current: Option<RetryConfig>,
    delays: Option<&str>,
    jitter: Option<f64>,
) -> Result<Option<RetryConfig>, String> {
    if delays.is_none() && jitter.is_none() {
        return Ok(current);
    }
    let default = RetrySchedule::default();
    let delays = match delays {
        Some(text) => {
            let list: Vec<&str> = text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            serde_json::from_value::<RetryConfig>(serde_json::json!({ "delays": list }))
                .map_err(|e| format!("--retry: {e}"))?
                .delays
        }
        None => current
            .as_ref()
            .map_or(default.delays, |c| c.delays.clone()),
    };
    let jitter = jitter
        .or(current.map(|c| c.jitter))
        .unwrap_or(default.jitter);
    Ok(Some(RetryConfig { delays, jitter }))
}

/// Applies the flags to an endpoint's configuration (`None`: a new one);
/// fields whose flag is not given keep their value.
pub fn configure(
    flags: &EndpointFlags,
    existing: Option<EndpointConfig>,
) -> Result<Configured, String> {
    let mut cfg = match base(config_path(&flags.config), existing)? {
        Some(c) => c,
        None => {
            let url = flags.url.clone().ok_or("--url is required")?;
            serde_json::from_value(serde_json::json!({ "url": url })).map_err(|e| e.to_string())?
        }
    };
    if let Some(u) = &flags.url {
        cfg.url = u.clone();
    }
    // A new signature is standard-webhooks unless --scheme says otherwise.
    let default =
        (cfg.signature.is_none() && flags.sig.has_key()).then_some(SchemeName::StandardWebhooks);
    let mut generated = None;
    if let Some(Applied {
        config,
        generated: g,
    }) = flags.sig.apply(cfg.signature.take(), default)?
    {
        cfg.signature = Some(config);
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
    cfg.retry = retry(cfg.retry.take(), flags.retry.as_deref(), flags.jitter)?;
    if let Some(t) = flags.timeout_secs {
        cfg.timeout_secs = t;
    }
    if flags.allow_http {
        cfg.allow_http = true;
    }
    if let Some(n) = flags.batch {
        cfg.batch = Some(BatchConfig { max_items: n });
    }
    if let Some(d) = &flags.description {
        cfg.description = Some(d.clone());
    }
    Endpoint::compile(cfg.clone()).map_err(|e| format!("invalid endpoint: {e}"))?;
    Ok(Configured {
        config: cfg,
        generated,
    })
}

async fn add(store: &ConfigStore, name: &str, flags: &EndpointFlags) -> Result<(), String> {
    check_name(Kind::Endpoint, name)?;
    let done = configure(flags, None)?;
    store.create(Kind::Endpoint, name, &done.config).await?;
    println!("endpoint {name} created");
    if let Some(k) = done.generated {
        println!("generated key (shown once; give it to the endpoint's owner): {k}");
    }
    Ok(())
}

async fn update(store: &ConfigStore, name: &str, flags: &EndpointFlags) -> Result<(), String> {
    let existing: EndpointConfig = store.load(Kind::Endpoint, name).await?;
    let done = configure(flags, Some(existing))?;
    store.save(Kind::Endpoint, name, &done.config).await?;
    println!("endpoint {name} updated");
    if let Some(k) = done.generated {
        println!("generated key (shown once): {k}");
    }
    Ok(())
}

async fn list(
    ctx: &Context,
    sdk: &aws_config::SdkConfig,
    store: &ConfigStore,
) -> Result<(), String> {
    let now = OffsetDateTime::now_utc();
    let table = state_table(ctx, sdk);
    let states: std::collections::HashMap<String, HealthState> = match &table {
        Some(t) => t.all_health().await?.into_iter().collect(),
        None => Default::default(),
    };
    let names = store.names(Kind::Endpoint).await?;
    if names.is_empty() {
        println!("no endpoints under {}", store.under(Kind::Endpoint));
    }
    for name in names {
        let cfg = store
            .read(Kind::Endpoint, &name)
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
    Ok(())
}

async fn show(
    ctx: &Context,
    sdk: &aws_config::SdkConfig,
    store: &ConfigStore,
    name: &str,
    reveal: bool,
) -> Result<(), String> {
    let cfg: EndpointConfig = store.load(Kind::Endpoint, name).await?;
    print_config(&cfg, reveal)?;
    if let Some(t) = state_table(ctx, sdk) {
        let (state, _) = t.load(name).await?;
        println!(
            "state: {}",
            describe_state(&state, OffsetDateTime::now_utc())
        );
        if let Some(last) = state.last_status {
            println!("last status: {last}");
        }
        println!("parked jobs: {}", t.parked_count(name).await?);
    }
    Ok(())
}

/// The notice topic (`NOTIFY_TOPIC_ARN`, the stack's `NoticeTopicArn`
/// output) the functions publish operational events on.
fn notifier(ctx: &Context, sdk: &aws_config::SdkConfig) -> Box<dyn Notifier> {
    match ctx
        .get("HOOKRELAY_NOTIFY_TOPIC_ARN")
        .or_else(|| ctx.get("NOTIFY_TOPIC_ARN"))
    {
        Some(arn) => Box::new(SnsNotifier::new(aws_sdk_sns::Client::new(sdk), arn)),
        None => {
            eprintln!(
                "note: NOTIFY_TOPIC_ARN is not set (the stack's NoticeTopicArn output): no notice is sent"
            );
            Box::new(LogNotifier)
        }
    }
}

async fn disable(
    ctx: &Context,
    sdk: &aws_config::SdkConfig,
    name: &str,
    reason: &str,
) -> Result<(), String> {
    let t = state_table(ctx, sdk)
        .ok_or("HOOKRELAY_STATE_TABLE is not set: disabling needs the state table")?;
    // The same notice an automatic disable sends, to the same topic.
    let notifier = notifier(ctx, sdk);
    let now = OffsetDateTime::now_utc();
    if disable_and_notify(&t, notifier.as_ref(), name, reason, now).await? {
        println!(
            "endpoint {name} disabled: new deliveries are parked until `hookrelay endpoints enable {name}`"
        );
    } else {
        println!("endpoint {name} was already disabled");
    }
    Ok(())
}

async fn enable(
    ctx: &Context,
    sdk: &aws_config::SdkConfig,
    name: &str,
    settle: Duration,
) -> Result<(), String> {
    let switch = SecretsManagerSwitch::new(
        aws_sdk_secretsmanager::Client::new(sdk),
        ctx.secrets_prefix(),
    );
    let table = state_table(ctx, sdk);
    let outbound = match &table {
        Some(_) => Some(SqsQueue::new(
            aws_sdk_sqs::Client::new(sdk),
            ctx.queue_url("outbound")?,
        )),
        None => None,
    };
    let parked = table
        .as_ref()
        .zip(outbound.as_ref())
        .map(|(table, q)| Parked {
            table,
            outbound: q as &dyn Queue,
        });
    let settings = EnableSettings {
        settle,
        ..EnableSettings::default()
    };
    let report = |step: Step| match step {
        Step::SwitchedOn => println!("endpoint {name} switched on in its configuration"),
        Step::Waiting(d) => println!(
            "waiting {} s for senders to see the change, then replaying parked jobs...",
            d.as_secs()
        ),
    };
    let done = hookrelay_shared::enable::enable(&switch, parked, name, &settings, &report).await?;
    if let Err(e) = hookrelay_shared::enable::announce(
        notifier(ctx, sdk).as_ref(),
        name,
        &done,
        OffsetDateTime::now_utc(),
    )
    .await
    {
        eprintln!("endpoint {name} is enabled, but the endpoint.enabled event failed: {e}");
    }
    match done {
        Enabled::NothingToDo => {
            println!("endpoint {name} was not disabled and has no parked jobs")
        }
        Enabled::ConfigurationOnly { switched_on } => {
            if !switched_on {
                println!(
                    "endpoint {name} is on in its configuration (HOOKRELAY_STATE_TABLE is not set: no state to clear, nothing parked)"
                );
            }
        }
        Enabled::Replayed {
            was_disabled,
            switched_on,
            replayed,
            disabled_again,
        } => {
            println!(
                "endpoint {name} {}; {replayed} parked job(s) replayed in the order they were created",
                if was_disabled || switched_on {
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
    }
    Ok(())
}

async fn rotate_key(store: &ConfigStore, a: &RotateArgs) -> Result<(), String> {
    let mut cfg: EndpointConfig = store.load(Kind::Endpoint, &a.name).await?;
    let sig = cfg
        .signature
        .as_mut()
        .ok_or("this endpoint has no signature to rotate")?;
    let new = match a.key.clone() {
        Some(k) => k,
        None => generate_key(sig.scheme)?,
    };
    rotate(
        &mut sig.keys,
        new.clone(),
        a.grace.0,
        OffsetDateTime::now_utc(),
    );
    Endpoint::compile(cfg.clone()).map_err(|e| format!("invalid after rotation: {e}"))?;
    store.save(Kind::Endpoint, &a.name, &cfg).await?;
    println!("new key for {} (shown once): {new}", a.name);
    println!(
        "previous keys stay valid for {}",
        humantime::format_duration(a.grace.0)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};
    use serde_json::{Value, json};

    /// An endpoint with every field set, none to its default: a flag that
    /// touches a field it was not given shows up as a difference.
    fn full() -> Value {
        json!({
            "url": "https://a.example/hooks",
            "signature": {"scheme": "hmac", "keys": ["abcd1234"], "header": "X-Sig",
                "encoding": "hex", "prefix": "sha256=", "timestamp_header": "X-Ts",
                "id_header": "X-Id", "template": "{id}.{timestamp}.{body}",
                "key_encoding": "utf8", "tolerance_secs": 300},
            "headers": {"X-A": "1"},
            "timeout_secs": 20,
            "retry": {"delays": ["10s", "1m 40s"], "jitter": 0.0},
            "batch": {"max_items": 5},
            "idempotency_header": "X-Idem",
            "events": ["order.*"],
            "filters": [{"pointer": "/status", "equals": "paid"}],
            "health": {"consecutive_days": 2.0},
            "description": "before"
        })
    }

    fn flags(args: &[&str]) -> EndpointFlags {
        let all = ["hookrelay", "endpoints", "update", "ep"]
            .into_iter()
            .chain(args.iter().copied());
        match crate::Cli::try_parse_from(all).unwrap().command {
            crate::Command::Endpoints(EndpointsCommand::Update { flags, .. }) => flags,
            _ => unreachable!(),
        }
    }

    /// `endpoints update` with `args` on `before` changes exactly the JSON
    /// members at `changed` (pointers), and nothing else.
    fn changes_only(before: Value, args: &[&str], changed: &[&str]) -> Value {
        let existing: EndpointConfig = serde_json::from_value(before).unwrap();
        // With the defaults serde fills in, as they are written back.
        let before = serde_json::to_value(&existing).unwrap();
        let after = configure(&flags(args), Some(existing)).unwrap().config;
        let after = serde_json::to_value(after).unwrap();
        let mut rest = after.clone();
        for p in changed {
            assert_ne!(
                before.pointer(p),
                after.pointer(p),
                "{args:?} did not change {p}"
            );
            let (parent, member) = p.rsplit_once('/').unwrap();
            let slot = rest.pointer_mut(parent).unwrap().as_object_mut().unwrap();
            match before.pointer(p) {
                Some(v) => slot.insert(member.to_string(), v.clone()),
                None => slot.remove(member),
            };
        }
        assert_eq!(rest, before, "{args:?} changed more than {changed:?}");
        after
    }

    macro_rules! update_changes_only {
        ($($test:ident: [$($arg:expr),*] => [$($p:expr),*];)*) => {$(
            #[test]
            fn $test() {
                changes_only(full(), &[$($arg),*], &[$($p),*]);
            }
        )*};
    }

    update_changes_only! {
        url: ["--url", "https://b.example/hooks"] => ["/url"];
        key: ["--key", "ef567890"] => ["/signature/keys"];
        generate_key: ["--generate-key"] => ["/signature/keys"];
        header_name: ["--header-name", "X-Other"] => ["/signature/header"];
        encoding: ["--encoding", "base64"] => ["/signature/encoding"];
        prefix: ["--prefix", "v1="] => ["/signature/prefix"];
        timestamp_header: ["--timestamp-header", "X-T2"] => ["/signature/timestamp_header"];
        id_header: ["--id-header", "X-I2"] => ["/signature/id_header"];
        template: ["--template", "{timestamp}.{id}.{body}"] => ["/signature/template"];
        key_encoding: ["--key-encoding", "hex"] => ["/signature/key_encoding"];
        tolerance_secs: ["--tolerance-secs", "60"] => ["/signature/tolerance_secs"];
        events: ["--events", "invoice.*,idea.created"] => ["/events"];
        filter: ["--filter", "/n one_of [1,2]"] => ["/filters"];
        header: ["-H", "X-B: 2"] => ["/headers/X-B"];
        retry_keeps_a_jitter_of_zero: ["--retry", "5s,50s,500s"] => ["/retry/delays"];
        jitter_keeps_the_delays: ["--jitter", "0.1"] => ["/retry/jitter"];
        timeout_secs: ["--timeout-secs", "30"] => ["/timeout_secs"];
        allow_http: ["--allow-http"] => ["/allow_http"];
        batch: ["--batch", "3"] => ["/batch/max_items"];
        description: ["--description", "after"] => ["/description"];
    }

    #[test]
    fn scheme() {
        let before =
            json!({"url": "https://a.example/h", "signature": {"scheme": "stripe", "keys": ["k"]}});
        changes_only(before, &["--scheme", "github"], &["/signature/scheme"]);
    }

    #[test]
    fn client_id() {
        let before = json!({"url": "https://a.example/h",
            "signature": {"scheme": "leaddone", "client_id": "c1", "keys": ["k"]}});
        changes_only(before, &["--client-id", "c2"], &["/signature/client_id"]);
    }

    #[test]
    fn config_replaces_the_configuration_and_flags_amend_it() {
        let path = std::env::temp_dir().join(format!("hookrelay-cfg-{}.json", std::process::id()));
        std::fs::write(
            &path,
            r#"{"url":"https://c.example/h","retry":{"delays":["10s","100s"],"jitter":0}}"#,
        )
        .unwrap();
        let existing: EndpointConfig = serde_json::from_value(full()).unwrap();
        let cfg = configure(
            &flags(&["--config", path.to_str().unwrap(), "--timeout-secs", "9"]),
            Some(existing),
        )
        .unwrap()
        .config;
        std::fs::remove_file(&path).ok();
        assert_eq!(
            serde_json::to_value(cfg).unwrap(),
            json!({"url": "https://c.example/h", "timeout_secs": 9, "idempotency_header": "webhook-id",
                   "retry": {"delays": ["10s", "1m 40s"], "jitter": 0.0}})
        );
    }

    #[test]
    fn jitter_without_a_schedule_applies_to_the_default_one() {
        let before = json!({"url": "https://a.example/h"});
        let after = serde_json::to_value(
            configure(
                &flags(&["--jitter", "0"]),
                Some(serde_json::from_value(before).unwrap()),
            )
            .unwrap()
            .config,
        )
        .unwrap();
        let schedule: RetryConfig = serde_json::from_value(after["retry"].clone()).unwrap();
        assert_eq!(schedule.jitter, 0.0);
        assert_eq!(schedule.delays, RetrySchedule::default().delays);
        assert!(
            configure(&flags(&["--jitter", "1.5"]), None).is_err(),
            "out of range"
        );
    }

    #[test]
    fn the_readme_smarter_launch_schedule_is_set_with_flags() {
        let cfg = configure(
            &flags(&[
                "--url",
                "https://sl.example/h",
                "--retry",
                "10s,100s",
                "--jitter",
                "0",
            ]),
            None,
        )
        .unwrap()
        .config;
        assert_eq!(
            serde_json::to_value(cfg.retry).unwrap(),
            json!({"delays": ["10s", "1m 40s"], "jitter": 0.0})
        );
    }

    /// Every flag of `endpoints update` has its test above.
    #[test]
    fn every_update_flag_is_covered() {
        let tested = [
            "url",
            "keys",
            "generate_key",
            "header_name",
            "encoding",
            "prefix",
            "timestamp_header",
            "id_header",
            "template",
            "key_encoding",
            "tolerance_secs",
            "events",
            "filters",
            "headers",
            "retry",
            "jitter",
            "timeout_secs",
            "allow_http",
            "batch",
            "description",
            "scheme",
            "client_id",
            "config",
        ];
        let cmd = crate::Cli::command();
        let update = cmd
            .find_subcommand("endpoints")
            .and_then(|e| e.find_subcommand("update"))
            .unwrap();
        for arg in update.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "name" | "help") {
                continue;
            }
            assert!(tested.contains(&id), "--{id} has no test of `update`");
        }
    }

    #[test]
    fn filters_parse_from_the_command_line() {
        let f = parse_filter(r#"/status not_one_of ["Approving"]"#).unwrap();
        assert_eq!(f.not_one_of, Some(vec![serde_json::json!("Approving")]));
        assert!(parse_filter("/x between [1]").is_err());
        assert!(parse_filter("/x one_of 1").is_err());
    }
}
