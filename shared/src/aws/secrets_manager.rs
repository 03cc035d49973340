//! The Secrets Manager adapter: the one place hookrelay talks to Secrets
//! Manager, and the one place its secret names are written.
//!
//! Configuration lives under a prefix (`HOOKRELAY_SECRETS_PREFIX`, default
//! `hookrelay`): `<prefix>/sources/<name>` and `<prefix>/endpoints/<name>`
//! ([`SecretNames`]). The functions read them through the
//! [`SecretSource`] port (cached by `secrets::ConfigCache`); the CLI also
//! lists, creates, writes and deletes them with the methods here.
//!
//! Reads always ask for `VersionStage=AWSCURRENT`: after a rotation moves
//! that stage, some implementations (moto) otherwise still return the old
//! version.

use crate::enable::EndpointSwitch;
use crate::endpoint::EndpointConfig;
use crate::secrets::{SecretError, SecretSource};
use async_trait::async_trait;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What a configuration secret configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    Source,
    Endpoint,
}

impl ConfigKind {
    /// `source` or `endpoint`, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            ConfigKind::Source => "source",
            ConfigKind::Endpoint => "endpoint",
        }
    }

    fn segment(self) -> &'static str {
        match self {
            ConfigKind::Source => "sources",
            ConfigKind::Endpoint => "endpoints",
        }
    }
}

/// The names of hookrelay's configuration secrets under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNames {
    prefix: String,
}

impl SecretNames {
    /// Names under `prefix` (a trailing `/` is ignored).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_string(),
        }
    }

    /// Where configurations of a kind are: `<prefix>/sources/` or
    /// `<prefix>/endpoints/`.
    pub fn under(&self, kind: ConfigKind) -> String {
        format!("{}/{}/", self.prefix, kind.segment())
    }

    /// The secret holding the configuration `name` of a kind.
    pub fn of(&self, kind: ConfigKind, name: &str) -> String {
        format!("{}{name}", self.under(kind))
    }
}

/// A write Secrets Manager refused or could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error(transparent)]
    Failed(#[from] SecretError),
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> SecretError {
    SecretError::Unavailable(DisplayErrorContext(&e).to_string())
}

/// Secrets Manager, through the SDK.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &aws_sdk_secretsmanager::Client {
        &self.client
    }

    /// The current text of secret `id`; `None` when there is none.
    pub async fn read(&self, id: &str) -> Result<Option<String>, SecretError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(id)
            .version_stage("AWSCURRENT")
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.secret_string.or_else(|| {
                out.secret_binary
                    .and_then(|b| String::from_utf8(b.into_inner()).ok())
            })),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The names of the secrets directly under `under` (`<prefix>/endpoints/`),
    /// without it, sorted; deleted ones are left out.
    pub async fn names(&self, under: &str) -> Result<Vec<String>, SecretError> {
        use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
        let filter = Filter::builder()
            .key(FilterNameStringType::Name)
            .values(under)
            .build();
        let mut names = Vec::new();
        let mut pages = self
            .client
            .list_secrets()
            .filters(filter)
            .max_results(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(unavailable)?;
            for s in page.secret_list() {
                // The name filter is a prefix match on words; keep exact children only.
                if let Some(rest) = s.name().and_then(|n| n.strip_prefix(under))
                    && !rest.is_empty()
                    && !rest.contains('/')
                    && s.deleted_date().is_none()
                {
                    names.push(rest.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Creates secret `id` holding `text`; refused when it exists.
    pub async fn create(&self, id: &str, text: &str) -> Result<(), WriteError> {
        self.client
            .create_secret()
            .name(id)
            .secret_string(text)
            .description("hookrelay configuration")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.code() == Some("ResourceExistsException") {
                    WriteError::Exists(id.to_string())
                } else {
                    WriteError::Failed(unavailable(e))
                }
            })
    }

    /// Writes a new current version of the existing secret `id`.
    pub async fn put(&self, id: &str, text: &str) -> Result<(), WriteError> {
        self.client
            .put_secret_value()
            .secret_id(id)
            .secret_string(text)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.code() == Some("ResourceNotFoundException") {
                    WriteError::NotFound(id.to_string())
                } else {
                    WriteError::Failed(unavailable(e))
                }
            })
    }

    /// Creates secret `id`, or writes a new version when it exists.
    pub async fn create_or_put(&self, id: &str, text: &str) -> Result<(), WriteError> {
        match self.create(id, text).await {
            Err(WriteError::Exists(_)) => self.put(id, text).await,
            other => other,
        }
    }

    /// Deletes secret `id`: at once with `force`, else after Secrets
    /// Manager's 7-day recovery window.
    pub async fn delete(&self, id: &str, force: bool) -> Result<(), WriteError> {
        let req = self.client.delete_secret().secret_id(id);
        let req = if force {
            req.force_delete_without_recovery(true)
        } else {
            req.recovery_window_in_days(7)
        };
        req.send().await.map(|_| ()).map_err(|e| {
            if e.code() == Some("ResourceNotFoundException") {
                WriteError::NotFound(id.to_string())
            } else {
                WriteError::Failed(unavailable(e))
            }
        })
    }
}

#[async_trait]
impl SecretSource for SecretsManager {
    async fn fetch(&self, name: &str) -> Result<Option<String>, SecretError> {
        self.read(name).await
    }
}

/// The switch in the endpoint's secret (`"enabled"` in
/// `<prefix>/endpoints/<name>`).
pub struct SecretsManagerSwitch {
    secrets: SecretsManager,
    names: SecretNames,
}

impl SecretsManagerSwitch {
    pub fn new(client: aws_sdk_secretsmanager::Client, prefix: impl AsRef<str>) -> Self {
        Self {
            secrets: SecretsManager::new(client),
            names: SecretNames::new(prefix.as_ref()),
        }
    }

    async fn load(&self, endpoint: &str) -> Result<Option<EndpointConfig>, String> {
        let name = self.names.of(ConfigKind::Endpoint, endpoint);
        match self.secrets.read(&name).await.map_err(|e| e.to_string())? {
            None => Ok(None),
            // Parsed, not validated: an endpoint whose configuration is
            // invalid can still be switched on (its jobs wait for a fix).
            Some(text) => crate::config_error::parse::<EndpointConfig>(&text)
                .map(Some)
                .map_err(|e| format!("{name}: {e}")),
        }
    }
}

#[async_trait]
impl EndpointSwitch for SecretsManagerSwitch {
    async fn is_on(&self, endpoint: &str) -> Result<Option<bool>, String> {
        Ok(self.load(endpoint).await?.map(|c| c.enabled))
    }

    async fn switch_on(&self, endpoint: &str) -> Result<(), String> {
        let mut cfg = self
            .load(endpoint)
            .await?
            .ok_or_else(|| format!("no endpoint {endpoint}"))?;
        cfg.enabled = true;
        let text = serde_json::to_string(&cfg).map_err(|e| e.to_string())?;
        self.secrets
            .put(&self.names.of(ConfigKind::Endpoint, endpoint), &text)
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_under_the_prefix_by_kind() {
        for prefix in ["hookrelay", "hookrelay/"] {
            let names = SecretNames::new(prefix);
            assert_eq!(names.under(ConfigKind::Source), "hookrelay/sources/");
            assert_eq!(
                names.of(ConfigKind::Source, "github"),
                "hookrelay/sources/github"
            );
            assert_eq!(
                names.of(ConfigKind::Endpoint, "billing"),
                "hookrelay/endpoints/billing"
            );
        }
    }
}
