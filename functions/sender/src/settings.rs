use hookrelay_shared::health::Rules;
use hookrelay_shared::outbound::NetworkPolicy;
use hookrelay_shared::secrets::CacheSettings;

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
    pub cache: CacheSettings,
    /// `HOOKRELAY_OUTBOUND_QUEUE_URL`, recorded on DLQ messages for redrive.
    pub source_queue_url: String,
    /// `HOOKRELAY_STATE_TABLE`: endpoint health, auto-disable and parking.
    pub state_table: Option<String>,
    /// `HOOKRELAY_NOTIFY_TOPIC_ARN`: where disable notices go.
    pub notify_topic_arn: Option<String>,
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
            state_table: None,
            notify_topic_arn: None,
        }
    }

    pub fn from_env() -> Result<Self, String> {
        let prefix =
            std::env::var("HOOKRELAY_SECRETS_PREFIX").unwrap_or_else(|_| "hookrelay".into());
        let queue = hookrelay_shared::aws::env_required("HOOKRELAY_OUTBOUND_QUEUE_URL")?;
        let mut s = Self::new(prefix, queue);
        if let Ok(v) = std::env::var("HOOKRELAY_CONCURRENCY") {
            s.concurrency = v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("HOOKRELAY_CONCURRENCY={v:?}"))?;
        }
        s.network = NetworkPolicy::from_env()?;
        s.rules = Rules::from_env()?;
        s.cache = CacheSettings::from_env();
        s.state_table = std::env::var("HOOKRELAY_STATE_TABLE")
            .ok()
            .filter(|v| !v.is_empty());
        s.notify_topic_arn = std::env::var("HOOKRELAY_NOTIFY_TOPIC_ARN")
            .ok()
            .filter(|v| !v.is_empty());
        Ok(s)
    }
}
