use crate::refusals::RefusalRule;
use hookrelay_shared::env::{Env, EnvError};
use hookrelay_shared::secrets::CacheSettings;

/// SQS's classic message size limit. Queues configured for the larger
/// (1 MiB) limit can raise it with `HOOKRELAY_MAX_MESSAGE_BYTES`.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 262_144;

/// Deployment settings, from environment variables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOOKRELAY_SECRETS_PREFIX`: sources live at `<prefix>/sources/<name>`.
    pub secrets_prefix: String,
    /// `HOOKRELAY_SOURCES`: comma-separated sources this function serves
    /// (a dedicated function per noisy platform); all when unset.
    pub only_sources: Option<Vec<String>>,
    /// `HOOKRELAY_MAX_MESSAGE_BYTES`: largest SQS message (envelope plus
    /// attributes); larger webhooks get 413.
    pub max_message_bytes: usize,
    /// `HOOKRELAY_SECRET_TTL_SECS` and the refresh rules.
    pub cache: CacheSettings,
    /// `HOOKRELAY_INBOUND_QUEUE_URL`: where verified webhooks go (used by
    /// [`Receiver::from_config`](crate::Receiver::from_config); tests pass
    /// their own queue port).
    pub inbound_queue_url: String,
    /// `HOOKRELAY_EVENTS_QUEUE_URL`: where relaying sources put events for
    /// fan-out, when deployed.
    pub events_queue_url: Option<String>,
    /// `HOOKRELAY_METRICS_NAMESPACE`: where the EMF metrics go.
    pub metrics_namespace: String,
    /// `HOOKRELAY_REFUSALS_THRESHOLD`, `HOOKRELAY_REFUSALS_MIN_REQUESTS`,
    /// `HOOKRELAY_REFUSALS_WINDOW_SECS`: when a source's refusals are high
    /// (`source.refusals_high`).
    pub refusals: RefusalRule,
    /// `HOOKRELAY_STATE_TABLE`: where instances agree who announces an alert.
    pub state_table: Option<String>,
    /// `HOOKRELAY_NOTIFY_TOPIC_ARN`: where operational events go.
    pub notify_topic_arn: Option<String>,
}

impl Settings {
    pub fn new(secrets_prefix: impl Into<String>) -> Self {
        Self {
            secrets_prefix: secrets_prefix.into(),
            only_sources: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            cache: CacheSettings::default(),
            inbound_queue_url: String::new(),
            events_queue_url: None,
            metrics_namespace: hookrelay_shared::metrics::DEFAULT_NAMESPACE.into(),
            refusals: RefusalRule::default(),
            state_table: None,
            notify_topic_arn: None,
        }
    }

    /// Settings from `env` ([`Env::process`] in production); a variable
    /// that is set but wrong is an error.
    pub fn from_env(env: &Env) -> Result<Self, EnvError> {
        hookrelay_shared::aws::check_roots_setting(env)?;
        let mut s = Self::new(env.or("HOOKRELAY_SECRETS_PREFIX", "hookrelay"));
        s.only_sources = env
            .get("HOOKRELAY_SOURCES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter(|v| !v.is_empty());
        if let Some(n) = env.parse(
            "HOOKRELAY_MAX_MESSAGE_BYTES",
            "a number of bytes between 1024 and 1048576 (SQS's limits)",
            |n: &usize| (1024..=1_048_576).contains(n),
        )? {
            s.max_message_bytes = n;
        }
        s.cache = CacheSettings::from_env(env)?;
        s.inbound_queue_url = env.required("HOOKRELAY_INBOUND_QUEUE_URL")?;
        s.events_queue_url = env.get("HOOKRELAY_EVENTS_QUEUE_URL");
        s.metrics_namespace = hookrelay_shared::metrics::namespace_from_env(env)?;
        if let Some(t) = env.parse(
            "HOOKRELAY_REFUSALS_THRESHOLD",
            "a share between 0 and 1 (0.9: more than 90% refused)",
            |t: &f64| (0.0..1.0).contains(t),
        )? {
            s.refusals.threshold = t;
        }
        if let Some(n) = env.parse(
            "HOOKRELAY_REFUSALS_MIN_REQUESTS",
            "a whole number above 0",
            |n: &u64| *n > 0,
        )? {
            s.refusals.min_requests = n;
        }
        if let Some(secs) = env.parse(
            "HOOKRELAY_REFUSALS_WINDOW_SECS",
            "a whole number of seconds, 60 to 86400",
            |n: &u64| (60..=86_400).contains(n),
        )? {
            s.refusals.window = std::time::Duration::from_secs(secs);
        }
        s.state_table = env.get("HOOKRELAY_STATE_TABLE");
        s.notify_topic_arn = env.get("HOOKRELAY_NOTIFY_TOPIC_ARN");
        Ok(s)
    }

    pub fn serves(&self, source: &str) -> bool {
        self.only_sources
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: (&str, &str) = ("HOOKRELAY_INBOUND_QUEUE_URL", "https://q/inbound");

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Settings, EnvError> {
        Settings::from_env(&Env::from_pairs([QUEUE].iter().chain(extra).copied()))
    }

    #[test]
    fn defaults_apply_only_to_unset_variables() {
        let s = with(&[]).unwrap();
        assert_eq!(s.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(s.only_sources, None);
        assert_eq!(s.events_queue_url, None);
        let s = with(&[
            ("HOOKRELAY_MAX_MESSAGE_BYTES", "1048576"),
            ("HOOKRELAY_SOURCES", "github, shopify"),
        ])
        .unwrap();
        assert_eq!(s.max_message_bytes, 1_048_576);
        assert!(s.serves("shopify") && !s.serves("stripe"));
    }

    #[test]
    fn wrong_values_are_refused_not_replaced_by_the_default() {
        for (name, value) in [
            ("HOOKRELAY_MAX_MESSAGE_BYTES", "1MiB"),
            ("HOOKRELAY_MAX_MESSAGE_BYTES", "0"),
            ("HOOKRELAY_MAX_MESSAGE_BYTES", "2097152"),
            ("HOOKRELAY_SECRET_TTL_SECS", "-1"),
            ("HOOKRELAY_AWS_ROOTS", "native"),
            ("HOOKRELAY_REFUSALS_THRESHOLD", "90%"),
            ("HOOKRELAY_REFUSALS_THRESHOLD", "1"),
            ("HOOKRELAY_REFUSALS_MIN_REQUESTS", "0"),
            ("HOOKRELAY_REFUSALS_WINDOW_SECS", "10"),
            ("HOOKRELAY_METRICS_NAMESPACE", "AWS/Lambda"),
        ] {
            let e = with(&[(name, value)]).unwrap_err();
            assert!(
                matches!(&e, EnvError::Invalid { name: n, .. } if *n == name),
                "{name}={value}: {e}"
            );
        }
        assert_eq!(
            Settings::from_env(&Env::from_pairs([])).unwrap_err(),
            EnvError::Missing("HOOKRELAY_INBOUND_QUEUE_URL")
        );
    }
}
