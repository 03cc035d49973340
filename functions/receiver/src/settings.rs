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
}

impl Settings {
    pub fn new(secrets_prefix: impl Into<String>) -> Self {
        Self {
            secrets_prefix: secrets_prefix.into(),
            only_sources: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            cache: CacheSettings::default(),
        }
    }

    pub fn from_env() -> Result<Self, String> {
        let mut s = Self::new(
            std::env::var("HOOKRELAY_SECRETS_PREFIX").unwrap_or_else(|_| "hookrelay".into()),
        );
        s.only_sources = std::env::var("HOOKRELAY_SOURCES")
            .ok()
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter(|v| !v.is_empty());
        if let Ok(v) = std::env::var("HOOKRELAY_MAX_MESSAGE_BYTES") {
            s.max_message_bytes = v
                .parse()
                .map_err(|_| format!("HOOKRELAY_MAX_MESSAGE_BYTES={v:?} is not a number"))?;
        }
        s.cache = CacheSettings::from_env();
        Ok(s)
    }

    pub fn serves(&self, source: &str) -> bool {
        self.only_sources
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == source))
    }
}
