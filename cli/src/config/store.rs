//! The Secrets Manager entries that configure hookrelay, one per source and
//! per endpoint, through `hookrelay_shared`'s Secrets Manager adapter (which
//! names them as the functions do).

use crate::context::Context;
use hookrelay_shared::aws::secrets_manager::{SecretNames, SecretsManager, WriteError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Which kind of configuration an entry holds.
pub use hookrelay_shared::aws::secrets_manager::ConfigKind as Kind;

/// Reads and writes configuration secrets under one prefix.
pub struct ConfigStore {
    sm: SecretsManager,
    names: SecretNames,
}

fn to_json<T: Serialize>(cfg: &T) -> Result<String, String> {
    serde_json::to_string(cfg).map_err(|e| e.to_string())
}

impl ConfigStore {
    pub fn new(sm: aws_sdk_secretsmanager::Client, prefix: &str) -> Self {
        Self {
            sm: SecretsManager::new(sm),
            names: SecretNames::new(prefix),
        }
    }

    pub async fn from_context(ctx: &Context, sdk: &aws_config::SdkConfig) -> Self {
        Self::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            &ctx.secrets_prefix(),
        )
    }

    pub fn secret(&self, kind: Kind, name: &str) -> String {
        self.names.of(kind, name)
    }

    /// Where `list` looks: `<prefix>/sources/` or `<prefix>/endpoints/`.
    pub fn under(&self, kind: Kind) -> String {
        self.names.under(kind)
    }

    /// The entry's text; `None` when there is none.
    pub async fn read(&self, kind: Kind, name: &str) -> Result<Option<String>, String> {
        self.sm
            .read(&self.secret(kind, name))
            .await
            .map_err(|e| e.to_string())
    }

    /// The entry as a configuration; an error names what is missing.
    pub async fn load<T: DeserializeOwned>(&self, kind: Kind, name: &str) -> Result<T, String> {
        let text = self
            .read(kind, name)
            .await?
            .ok_or_else(|| format!("no {} {name}", kind.noun()))?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// Creates the entry; refused when it exists.
    pub async fn create<T: Serialize>(
        &self,
        kind: Kind,
        name: &str,
        cfg: &T,
    ) -> Result<(), String> {
        let id = self.secret(kind, name);
        self.sm
            .create(&id, &to_json(cfg)?)
            .await
            .map_err(|e| match e {
                WriteError::Exists(_) => format!("{id} already exists; use update"),
                e => e.to_string(),
            })
    }

    /// Writes a new version of an existing entry.
    pub async fn save<T: Serialize>(&self, kind: Kind, name: &str, cfg: &T) -> Result<(), String> {
        self.sm
            .put(&self.secret(kind, name), &to_json(cfg)?)
            .await
            .map_err(|e| e.to_string())
    }

    /// Names of the entries of a kind, sorted; deleted ones are left out.
    pub async fn names(&self, kind: Kind) -> Result<Vec<String>, String> {
        self.sm
            .names(&self.under(kind))
            .await
            .map_err(|e| e.to_string())
    }

    /// Deletes an entry (`yes` is the user's confirmation), at once with
    /// `force`, else after Secrets Manager's 7-day recovery window.
    pub async fn delete(
        &self,
        kind: Kind,
        name: &str,
        yes: bool,
        force: bool,
    ) -> Result<(), String> {
        let id = self.secret(kind, name);
        if !yes {
            return Err(format!(
                "deleting {id} stops everything that uses it; add --yes"
            ));
        }
        self.sm
            .delete(&id, force)
            .await
            .map_err(|e| e.to_string())?;
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
}
