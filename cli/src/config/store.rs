//! The Secrets Manager entries that configure hookrelay, one per source and
//! per endpoint, named by `hookrelay_shared`'s `secret_name` functions (the
//! functions read the same names).

use crate::context::Context;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Which kind of configuration an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Source,
    Endpoint,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Endpoint => "endpoint",
        }
    }

    /// `<prefix>/sources/` or `<prefix>/endpoints/`.
    fn secret_prefix(self, prefix: &str) -> String {
        match self {
            Kind::Source => hookrelay_shared::source::secret_prefix(prefix),
            Kind::Endpoint => hookrelay_shared::endpoint::secret_prefix(prefix),
        }
    }

    fn secret_name(self, prefix: &str, name: &str) -> String {
        match self {
            Kind::Source => hookrelay_shared::source::secret_name(prefix, name),
            Kind::Endpoint => hookrelay_shared::endpoint::secret_name(prefix, name),
        }
    }
}

/// Reads and writes configuration secrets under one prefix.
pub struct ConfigStore {
    sm: aws_sdk_secretsmanager::Client,
    prefix: String,
}

fn sdk_err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_secretsmanager::error::SdkError<E, R>,
) -> String {
    DisplayErrorContext(&e).to_string()
}

fn to_json<T: Serialize>(cfg: &T) -> Result<String, String> {
    serde_json::to_string(cfg).map_err(|e| e.to_string())
}

impl ConfigStore {
    pub fn new(sm: aws_sdk_secretsmanager::Client, prefix: impl Into<String>) -> Self {
        Self {
            sm,
            prefix: prefix.into(),
        }
    }

    pub async fn from_context(ctx: &Context, sdk: &aws_config::SdkConfig) -> Self {
        Self::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            ctx.secrets_prefix(),
        )
    }

    pub fn secret(&self, kind: Kind, name: &str) -> String {
        kind.secret_name(&self.prefix, name)
    }

    /// Where `list` looks: `<prefix>/sources/` or `<prefix>/endpoints/`.
    pub fn under(&self, kind: Kind) -> String {
        kind.secret_prefix(&self.prefix)
    }

    /// The entry's text; `None` when there is none.
    pub async fn read(&self, kind: Kind, name: &str) -> Result<Option<String>, String> {
        match self
            .sm
            .get_secret_value()
            .secret_id(self.secret(kind, name))
            .version_stage("AWSCURRENT")
            .send()
            .await
        {
            Ok(out) => Ok(out.secret_string),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(sdk_err(e)),
        }
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
            .create_secret()
            .name(&id)
            .secret_string(to_json(cfg)?)
            .description("hookrelay configuration")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.code() == Some("ResourceExistsException") {
                    format!("{id} already exists; use update")
                } else {
                    sdk_err(e)
                }
            })
    }

    /// Writes a new version of an existing entry.
    pub async fn save<T: Serialize>(&self, kind: Kind, name: &str, cfg: &T) -> Result<(), String> {
        self.sm
            .put_secret_value()
            .secret_id(self.secret(kind, name))
            .secret_string(to_json(cfg)?)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_err)
    }

    /// Names of the entries of a kind, sorted; deleted ones are left out.
    pub async fn names(&self, kind: Kind) -> Result<Vec<String>, String> {
        use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
        let prefix = self.under(kind);
        let filter = Filter::builder()
            .key(FilterNameStringType::Name)
            .values(&prefix)
            .build();
        let mut out = Vec::new();
        let mut pages = self
            .sm
            .list_secrets()
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_err)?;
            for s in page.secret_list() {
                if let Some(rest) = s.name().and_then(|n| n.strip_prefix(&prefix))
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
        let mut req = self.sm.delete_secret().secret_id(&id);
        req = if force {
            req.force_delete_without_recovery(true)
        } else {
            req.recovery_window_in_days(7)
        };
        req.send().await.map_err(sdk_err)?;
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
