use hookrelay_shared::env::{Env, EnvError};
use hookrelay_shared::secrets::CacheSettings;
use std::time::Duration;

/// Deployment settings, from environment variables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOOKRELAY_SECRETS_PREFIX`: endpoints live at `<prefix>/endpoints/<name>`.
    pub secrets_prefix: String,
    /// `HOOKRELAY_OUTBOUND_QUEUE_URL`: where the jobs go.
    pub outbound_queue_url: String,
    /// `HOOKRELAY_EVENTS_DLQ_URL`: where events that cannot be routed go.
    pub dlq_url: String,
    /// `HOOKRELAY_STATE_TABLE`: fan-out markers (no duplicate jobs on retries).
    pub state_table: Option<String>,
    /// `HOOKRELAY_CONCURRENCY`: events routed at a time.
    pub concurrency: usize,
    /// `HOOKRELAY_SECRET_TTL_SECS` and the refresh rules.
    pub cache: CacheSettings,
    /// `HOOKRELAY_ENDPOINT_LIST_TTL_SECS`: how long the list of endpoint
    /// names is reused.
    pub directory_ttl: Duration,
    /// `HOOKRELAY_METRICS_NAMESPACE`: where the EMF metrics go.
    pub metrics_namespace: String,
    /// `HOOKRELAY_NOTIFY_TOPIC_ARN`: where operational events go
    /// (`message.dead_lettered`).
    pub notify_topic_arn: Option<String>,
}

impl Settings {
    /// Settings from `env` ([`Env::process`] in production); a variable
    /// that is set but wrong is an error.
    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        hookrelay_shared::aws::check_roots_setting(env)?;
        Ok(Self {
            secrets_prefix: env.or("HOOKRELAY_SECRETS_PREFIX", "hookrelay"),
            outbound_queue_url: env.required("HOOKRELAY_OUTBOUND_QUEUE_URL")?,
            dlq_url: env.required("HOOKRELAY_EVENTS_DLQ_URL")?,
            state_table: env.get("HOOKRELAY_STATE_TABLE"),
            concurrency: env
                .parse("HOOKRELAY_CONCURRENCY", "a whole number above 0", |n| {
                    *n > 0
                })?
                .unwrap_or(10),
            cache: CacheSettings::from_env(env)?,
            directory_ttl: Duration::from_secs(
                env.parse(
                    "HOOKRELAY_ENDPOINT_LIST_TTL_SECS",
                    "a whole number of seconds",
                    |_: &u64| true,
                )?
                .unwrap_or(60),
            ),
            metrics_namespace: hookrelay_shared::metrics::namespace_from_env(env)?,
            notify_topic_arn: env.get("HOOKRELAY_NOTIFY_TOPIC_ARN"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUES: [(&str, &str); 2] = [
        ("HOOKRELAY_OUTBOUND_QUEUE_URL", "https://q/outbound"),
        ("HOOKRELAY_EVENTS_DLQ_URL", "https://q/events-dlq"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Settings, EnvError> {
        Settings::from_env(&Env::from_pairs(QUEUES.iter().chain(extra).copied()))
    }

    #[test]
    fn defaults_apply_only_to_unset_variables() {
        let s = with(&[]).unwrap();
        assert_eq!(s.concurrency, 10);
        assert_eq!(s.directory_ttl, Duration::from_secs(60));
        assert_eq!(s.secrets_prefix, "hookrelay");
        assert_eq!(s.state_table, None);
        assert_eq!(
            with(&[("HOOKRELAY_CONCURRENCY", "4")]).unwrap().concurrency,
            4
        );
    }

    #[test]
    fn wrong_values_are_refused_not_replaced_by_the_default() {
        for (name, value) in [
            ("HOOKRELAY_CONCURRENCY", "ten"),
            ("HOOKRELAY_CONCURRENCY", "0"),
            ("HOOKRELAY_CONCURRENCY", "-3"),
            ("HOOKRELAY_ENDPOINT_LIST_TTL_SECS", "1m"),
            ("HOOKRELAY_SECRET_TTL_SECS", "five"),
            ("HOOKRELAY_AWS_ROOTS", "all"),
        ] {
            let e = with(&[(name, value)]).unwrap_err();
            assert!(
                matches!(&e, EnvError::Invalid { name: n, .. } if *n == name),
                "{name}={value}: {e}"
            );
        }
        assert_eq!(
            Settings::from_env(&Env::from_pairs([QUEUES[0]])).unwrap_err(),
            EnvError::Missing("HOOKRELAY_EVENTS_DLQ_URL")
        );
    }
}
