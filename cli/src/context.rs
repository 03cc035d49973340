//! Where the CLI finds a running pipeline: `.hookrelay/local.env` (written
//! by `hookrelay dev up`) when it exists, else the usual environment
//! (`AWS_*` for the SDK, `HOOKRELAY_*` / the same names as local.env for
//! queue URLs and the secrets prefix).

use aws_config::{Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_ENV_FILE: &str = ".hookrelay/local.env";

/// Settings read from local.env and the environment (local.env first).
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: BTreeMap<String, String>,
}

/// Parses `KEY=value` lines; `#` comments and blank lines are skipped.
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

impl Context {
    pub fn load(env_file: Option<&Path>) -> Result<Self, String> {
        let path = env_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ENV_FILE));
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Self {
                values: parse_env_file(&text),
            }),
            Err(_) if env_file.is_none() => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// A context from local.env-style text (no file involved).
    pub fn from_text(text: &str) -> Self {
        Self {
            values: parse_env_file(text),
        }
    }

    /// A setting: local.env first, then the environment.
    pub fn get(&self, key: &str) -> Option<String> {
        self.values
            .get(key)
            .cloned()
            .or_else(|| std::env::var(key).ok())
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, key: &str, hint: &str) -> Result<String, String> {
        self.get(key).ok_or_else(|| {
            format!("{key} is not set ({hint}); start `make dev` or set it in the environment")
        })
    }

    pub fn secrets_prefix(&self) -> String {
        self.get("HOOKRELAY_SECRETS_PREFIX")
            .unwrap_or_else(|| "hookrelay".into())
    }

    /// SDK configuration: the local pipeline's moto endpoint and dummy
    /// credentials when local.env says so, else the standard chain.
    pub async fn sdk(&self) -> SdkConfig {
        let mut loader = hookrelay_shared::aws::loader();
        if let Some(url) = self.values.get("AWS_ENDPOINT_URL") {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = self.values.get("AWS_REGION") {
            loader = loader.region(Region::new(region.clone()));
        }
        if let (Some(id), Some(secret)) = (
            self.values.get("AWS_ACCESS_KEY_ID"),
            self.values.get("AWS_SECRET_ACCESS_KEY"),
        ) {
            loader = loader.credentials_provider(Credentials::new(
                id,
                secret,
                None,
                None,
                "hookrelay-local-env",
            ));
        }
        loader.load().await
    }

    /// A queue URL by role (`inbound`, `outbound`, `events`, each optionally
    /// with `-dlq`) or as a literal URL.
    pub fn queue_url(&self, queue: &str) -> Result<String, String> {
        if queue.starts_with("http://") || queue.starts_with("https://") {
            return Ok(queue.to_string());
        }
        let key = match queue {
            "inbound" => "INBOUND_QUEUE_URL",
            "inbound-dlq" => "INBOUND_DLQ_URL",
            "outbound" => "OUTBOUND_QUEUE_URL",
            "outbound-dlq" => "OUTBOUND_DLQ_URL",
            "events" => "EVENTS_QUEUE_URL",
            "events-dlq" => "EVENTS_DLQ_URL",
            other => {
                return Err(format!(
                    "unknown queue {other:?}: inbound, outbound, events (with -dlq), or a URL"
                ));
            }
        };
        self.require(key, &format!("URL of the {queue} queue"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_are_key_value_lines() {
        let v = parse_env_file("# comment\nA=1\n\n B = two \nC=\"q\"\nnot a pair\n");
        assert_eq!(v.get("A").map(String::as_str), Some("1"));
        assert_eq!(v.get("B").map(String::as_str), Some("two"));
        assert_eq!(v.get("C").map(String::as_str), Some("q"));
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn queues_by_role_or_url() {
        let c = Context {
            values: parse_env_file("OUTBOUND_DLQ_URL=http://q/dlq"),
        };
        assert_eq!(c.queue_url("outbound-dlq").unwrap(), "http://q/dlq");
        assert_eq!(c.queue_url("https://sqs/x").unwrap(), "https://sqs/x");
        assert!(c.queue_url("sideways").is_err());
    }
}
