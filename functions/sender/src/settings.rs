use hookrelay_shared::env::{Env, EnvError};
use hookrelay_shared::health::Rules;
use hookrelay_shared::outbound::NetworkPolicy;
use hookrelay_shared::secrets::CacheSettings;
use std::time::Duration;

/// Time kept after an attempt, before the invocation's deadline, to settle
/// it (count it, record it for the endpoint's health, move the record's
/// visibility, or dead-letter or park it). An attempt that could not end
/// this long before the deadline is not started.
pub const SETTLE_MARGIN: Duration = Duration::from_secs(5);

/// Deployment settings, from environment variables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOOKRELAY_SECRETS_PREFIX`: endpoints live at `<prefix>/endpoints/<name>`.
    pub secrets_prefix: String,
    /// `HOOKRELAY_CONCURRENCY`: deliveries in flight per invocation.
    pub concurrency: usize,
    /// `HOOKRELAY_ALLOW_NETWORKS`: private networks deliveries may reach (local development only).
    pub network: NetworkPolicy,
    /// Auto-disable rules (`HOOKRELAY_DISABLE_*`).
    pub rules: Rules,
    /// `HOOKRELAY_SECRET_TTL_SECS` and the refresh rules.
    pub cache: CacheSettings,
    /// `HOOKRELAY_OUTBOUND_QUEUE_URL`, recorded on DLQ messages for redrive.
    pub source_queue_url: String,
    /// `HOOKRELAY_DLQ_URL`: where jobs that cannot be delivered go (used by
    /// [`Sender::from_config`](crate::Sender::from_config); tests pass their
    /// own dead-letter queue port).
    pub dlq_url: String,
    /// `HOOKRELAY_STATE_TABLE`: endpoint health, auto-disable and parking.
    pub state_table: Option<String>,
    /// `HOOKRELAY_NOTIFY_TOPIC_ARN`: where disable notices go.
    pub notify_topic_arn: Option<String>,
    /// `HOOKRELAY_BATCHING_WINDOW_SECS`: the event source's batching window
    /// (the template passes it): how long before an invocation its records
    /// may have been received, which SQS's visibility limit counts from.
    pub batching_window: Duration,
    /// `HOOKRELAY_FUNCTION_TIMEOUT_SECS`: the function's timeout (the
    /// template passes it). An endpoint whose `timeout_secs` it cannot hold
    /// with [`SETTLE_MARGIN`] to spare is refused as misconfigured.
    pub function_timeout: Option<Duration>,
    /// `HOOKRELAY_METRICS_NAMESPACE`: where the EMF metrics go.
    pub metrics_namespace: String,
    /// `HOOKRELAY_ATTEMPT_FAILED_EVENTS`: publish an `attempt.failed`
    /// operational event for every failed attempt (opt-in: one SNS publish
    /// per failure).
    pub attempt_failed_events: bool,
}

impl Settings {
    pub fn new(secrets_prefix: impl Into<String>, source_queue_url: impl Into<String>) -> Self {
        Self {
            secrets_prefix: secrets_prefix.into(),
            concurrency: 10,
            network: NetworkPolicy::public_only(),
            rules: Rules::default(),
            cache: CacheSettings::default(),
            source_queue_url: source_queue_url.into(),
            dlq_url: String::new(),
            state_table: None,
            notify_topic_arn: None,
            batching_window: Duration::ZERO,
            function_timeout: None,
            metrics_namespace: hookrelay_shared::metrics::DEFAULT_NAMESPACE.into(),
            attempt_failed_events: false,
        }
    }

    /// Settings from `env` ([`Env::process`] in production); a variable
    /// that is set but wrong is an error.
    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        hookrelay_shared::aws::check_roots_setting(env)?;
        let mut s = Self::new(
            env.or("HOOKRELAY_SECRETS_PREFIX", "hookrelay"),
            env.required("HOOKRELAY_OUTBOUND_QUEUE_URL")?,
        );
        s.dlq_url = env.required("HOOKRELAY_DLQ_URL")?;
        if let Some(n) = env.parse("HOOKRELAY_CONCURRENCY", "a whole number above 0", |n| {
            *n > 0
        })? {
            s.concurrency = n;
        }
        s.network = NetworkPolicy::from_env(env)?;
        s.rules = Rules::from_env(env)?;
        s.cache = CacheSettings::from_env(env)?;
        s.state_table = env.get("HOOKRELAY_STATE_TABLE");
        s.notify_topic_arn = env.get("HOOKRELAY_NOTIFY_TOPIC_ARN");
        if let Some(secs) = env.parse(
            "HOOKRELAY_BATCHING_WINDOW_SECS",
            "a whole number of seconds up to 300 (Lambda's limit)",
            |n: &u64| *n <= 300,
        )? {
            s.batching_window = Duration::from_secs(secs);
        }
        let least = SETTLE_MARGIN.as_secs() + 1;
        if let Some(secs) = env.parse(
            "HOOKRELAY_FUNCTION_TIMEOUT_SECS",
            &format!("a whole number of seconds, {least} to 900 (Lambda's limit)"),
            |n: &u64| (least..=900).contains(n),
        )? {
            s.function_timeout = Some(Duration::from_secs(secs));
        }
        s.metrics_namespace = hookrelay_shared::metrics::namespace_from_env(env)?;
        if let Some(on) = env.parse(
            "HOOKRELAY_ATTEMPT_FAILED_EVENTS",
            "true or false",
            |_: &bool| true,
        )? {
            s.attempt_failed_events = on;
        }
        Ok(s)
    }

    /// The longest endpoint timeout the function can hold, when known.
    pub fn longest_attempt(&self) -> Option<Duration> {
        self.function_timeout
            .map(|t| t.saturating_sub(SETTLE_MARGIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUES: [(&str, &str); 2] = [
        ("HOOKRELAY_OUTBOUND_QUEUE_URL", "https://q/outbound"),
        ("HOOKRELAY_DLQ_URL", "https://q/outbound-dlq"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Settings, EnvError> {
        Settings::from_env(&Env::from_pairs(QUEUES.iter().chain(extra).copied()))
    }

    #[test]
    fn defaults_apply_only_to_unset_variables() {
        let s = with(&[]).unwrap();
        assert_eq!(s.concurrency, 10);
        assert_eq!(s.dlq_url, "https://q/outbound-dlq");
        assert_eq!(s.rules, Rules::default());
        let s = with(&[
            ("HOOKRELAY_CONCURRENCY", "3"),
            ("HOOKRELAY_STATE_TABLE", "t"),
        ])
        .unwrap();
        assert_eq!((s.concurrency, s.state_table.as_deref()), (3, Some("t")));
    }

    #[test]
    fn wrong_values_are_refused_not_replaced_by_the_default() {
        for (name, value) in [
            ("HOOKRELAY_CONCURRENCY", "ten"),
            ("HOOKRELAY_CONCURRENCY", "0"),
            ("HOOKRELAY_SECRET_TTL_SECS", "5m"),
            ("HOOKRELAY_ALLOW_NETWORKS", "localhost"),
            ("HOOKRELAY_DISABLE_RATE", "95%"),
            ("HOOKRELAY_AWS_ROOTS", "Mozilla"),
            ("HOOKRELAY_BATCHING_WINDOW_SECS", "301"),
            ("HOOKRELAY_FUNCTION_TIMEOUT_SECS", "5"),
            ("HOOKRELAY_FUNCTION_TIMEOUT_SECS", "30s"),
        ] {
            let e = with(&[(name, value)]).unwrap_err();
            assert!(
                matches!(&e, EnvError::Invalid { name: n, .. } if *n == name),
                "{name}={value}: {e}"
            );
        }
        assert!(matches!(
            with(&[("HOOKRELAY_DISABLE_RATE", "2")]).unwrap_err(),
            EnvError::Rules(_)
        ));
        assert_eq!(
            Settings::from_env(&Env::from_pairs([QUEUES[0]])).unwrap_err(),
            EnvError::Missing("HOOKRELAY_DLQ_URL")
        );
    }
}
