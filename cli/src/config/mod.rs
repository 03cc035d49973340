//! `hookrelay endpoints ...` and `hookrelay sources ...`: the Secrets
//! Manager entries that configure hookrelay, and endpoint state.
//!
//! One module per resource ([`endpoints`], [`sources`]), one function per
//! subcommand; what both share is here and in [`store`] (reading and
//! writing the entries), [`sig_flags`] (signature flags), [`keys`]
//! (generation, rotation) and [`display`] (redaction, state lines).
//!
//! Every write is validated by compiling the configuration exactly as the
//! functions will, so a typo is refused here rather than discovered by a
//! failed delivery. `show` and `list` never print a key or a custom header
//! value unless asked with `--reveal`.

mod display;
pub mod endpoints;
mod keys;
mod sig_flags;
pub mod sources;
mod store;

use crate::context::Context;
use clap::Args;
use hookrelay_shared::aws::dynamodb::state_table::StateTable;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// `rotate-key`'s arguments, for sources and endpoints alike.
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

/// `delete`'s arguments, for sources and endpoints alike.
#[derive(Args, Debug, Clone)]
pub struct DeleteArgs {
    /// Source or endpoint name.
    pub name: String,
    /// Required: deleting stops everything that uses the configuration.
    #[arg(long)]
    pub yes: bool,
    /// Delete at once instead of after Secrets Manager's 7-day recovery window.
    #[arg(long)]
    pub force: bool,
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

/// What `add` and `update` start from: the `--config` file when given
/// (the other flags then amend it), else the existing configuration.
fn base<T: DeserializeOwned>(
    config: Option<&Path>,
    existing: Option<T>,
) -> Result<Option<T>, String> {
    match config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        None => Ok(existing),
    }
}

/// `--config` as clap gives it.
fn config_path(p: &Option<PathBuf>) -> Option<&Path> {
    p.as_deref()
}

/// The state table, when `HOOKRELAY_STATE_TABLE` names one.
fn state_table(ctx: &Context, sdk: &aws_config::SdkConfig) -> Option<StateTable> {
    ctx.get("HOOKRELAY_STATE_TABLE")
        .map(|t| StateTable::new(aws_sdk_dynamodb::Client::new(sdk), t))
}

/// Refuses a name the functions would not accept.
fn check_name(kind: store::Kind, name: &str) -> Result<(), String> {
    let valid = match kind {
        store::Kind::Source => hookrelay_shared::source::valid_source_name(name),
        store::Kind::Endpoint => hookrelay_shared::endpoint::valid_endpoint_name(name),
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid {} name {name:?}: letters, digits, - _ ., up to 64",
            kind.noun()
        ))
    }
}
