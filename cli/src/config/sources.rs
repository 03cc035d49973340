//! `hookrelay sources add|list|show|update|rotate-key|delete`.

use super::display::print_config;
use super::keys::{generate_key, rotate};
use super::sig_flags::{Applied, SigFlags};
use super::store::{ConfigStore, Kind};
use super::{DeleteArgs, RotateArgs, base, check_name, config_path};
use crate::context::Context;
use clap::{Args, Subcommand};
use hookrelay_shared::schemes::SchemeName;
use hookrelay_shared::source::{BulkConfig, Extract, Source, SourceConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Args, Debug, Clone, Default, PartialEq)]
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
    /// Change a source: the flags given replace those fields, the rest stays.
    Update {
        /// Source name.
        name: String,
        #[command(flatten)]
        flags: SourceFlags,
    },
    /// Add a new key; previous keys keep verifying for the grace period.
    RotateKey(RotateArgs),
    /// Delete a source's configuration (its webhooks are then answered 404).
    Delete(DeleteArgs),
}

pub async fn run(ctx: &Context, cmd: SourcesCommand) -> Result<ExitCode, String> {
    let sdk = ctx.sdk().await;
    let store = ConfigStore::from_context(ctx, &sdk).await;
    match cmd {
        SourcesCommand::Add { name, flags } => add(&store, &name, &flags).await?,
        SourcesCommand::Update { name, flags } => update(&store, &name, &flags).await?,
        SourcesCommand::List => list(&store).await?,
        SourcesCommand::Show { name, reveal } => {
            let cfg: SourceConfig = store.load(Kind::Source, &name).await?;
            print_config(&cfg, reveal)?;
        }
        SourcesCommand::RotateKey(a) => rotate_key(&store, &a).await?,
        SourcesCommand::Delete(a) => store.delete(Kind::Source, &a.name, a.yes, a.force).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A source's configuration after the flags, validated as the receiver
/// will, and the key generated for it (printed once).
#[derive(Debug)]
pub struct Configured {
    pub config: SourceConfig,
    pub generated: Option<String>,
}

/// Applies the flags to a source's configuration (`None`: a new one);
/// fields whose flag is not given keep their value.
pub fn configure(
    flags: &SourceFlags,
    existing: Option<SourceConfig>,
) -> Result<Configured, String> {
    let base = base(config_path(&flags.config), existing)?;
    let Some(Applied {
        config: sig,
        generated,
    }) = flags
        .sig
        .apply(base.as_ref().map(|b| b.signature.clone()), None)?
    else {
        return Err("--scheme is required".into());
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
    Ok(Configured {
        config: cfg,
        generated,
    })
}

async fn add(store: &ConfigStore, name: &str, flags: &SourceFlags) -> Result<(), String> {
    check_name(Kind::Source, name)?;
    let done = configure(flags, None)?;
    store.create(Kind::Source, name, &done.config).await?;
    println!("source {name} created: the platform posts to <receiver>/webhooks/{name}");
    if let Some(k) = done.generated {
        println!("generated key (shown once; enter it in the platform): {k}");
    }
    Ok(())
}

async fn update(store: &ConfigStore, name: &str, flags: &SourceFlags) -> Result<(), String> {
    let existing: SourceConfig = store.load(Kind::Source, name).await?;
    let done = configure(flags, Some(existing))?;
    store.save(Kind::Source, name, &done.config).await?;
    println!(
        "source {name} updated (receivers pick it up within their cache TTL, or at once on a failed verification)"
    );
    if let Some(k) = done.generated {
        println!("generated key (shown once): {k}");
    }
    Ok(())
}

async fn list(store: &ConfigStore) -> Result<(), String> {
    for name in store.names(Kind::Source).await? {
        let cfg = store
            .read(Kind::Source, &name)
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
    Ok(())
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

async fn rotate_key(store: &ConfigStore, a: &RotateArgs) -> Result<(), String> {
    let mut cfg: SourceConfig = store.load(Kind::Source, &a.name).await?;
    let new = match a.key.clone() {
        Some(k) => k,
        None => generate_key(cfg.signature.scheme)?,
    };
    rotate_source_key(
        &mut cfg,
        a.client.as_deref(),
        new.clone(),
        a.grace.0,
        OffsetDateTime::now_utc(),
    )?;
    Source::compile(cfg.clone()).map_err(|e| format!("invalid after rotation: {e}"))?;
    store.save(Kind::Source, &a.name, &cfg).await?;
    println!("new key for {} (shown once): {new}", a.name);
    println!(
        "previous keys keep verifying for {}",
        humantime::format_duration(a.grace.0)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookrelay_shared::schemes::keys::KeyConfig;

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
}
