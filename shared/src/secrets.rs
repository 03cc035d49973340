//! Configuration secrets: the port the functions read them through
//! ([`SecretSource`]; the adapter is `aws::secrets_manager::SecretsManager`)
//! and a typed cache in front of it.
//!
//! Why not `aws_secretsmanager_caching`: it caches the raw `GetSecretValue`
//! output, so every hit would clone the secret string and parse and compile
//! it again (keys into HMAC states) on the hot path; it checks freshness
//! with an extra `DescribeSecret` call (another IAM grant); and its errors
//! are `Box<dyn Error>` (not `Send`), which cannot cross an `.await` in a
//! Lambda handler. [`ConfigCache`] caches the compiled value, refreshes a
//! single secret on demand at most once per interval (the receiver's rotated
//! key rule, also counting failed fetches), caches "not found" briefly so a
//! repeated unknown name cannot hammer Secrets Manager (and keeps at most
//! [`CacheSettings::max_negative_entries`] such names, so distinct ones
//! cannot grow memory), serves the last good value while Secrets Manager is
//! down, and always asks for `VersionStage=AWSCURRENT`. It is tested with a
//! controllable clock below and against moto in the functions' tests.

use crate::clock::Clock;
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secrets store unavailable: {0}")]
    Unavailable(String),
}

/// Read access to configuration secrets.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The current value of the secret named `name`; `None` if there is none.
    async fn fetch(&self, name: &str) -> Result<Option<String>, SecretError>;
}

/// A value that is parsed and validated from a secret's text once per fetch.
pub trait FromSecret: Sized + Send + Sync + 'static {
    fn from_secret(text: &str) -> Result<Self, String>;
}

#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    /// How long a fetched value is served without asking again.
    pub ttl: Duration,
    /// A forced refresh (after a failed verification) happens at most this often per secret.
    pub min_refresh_interval: Duration,
    /// How long "no such secret" and "invalid configuration" are remembered.
    pub negative_ttl: Duration,
    /// After a failed fetch, how long the last good value is served before trying again.
    pub retry_after_failure: Duration,
    /// At most this many names without a value ("not found", "invalid", or
    /// never fetched successfully) are kept; the oldest are forgotten first,
    /// so a flood of distinct unknown names cannot grow the cache.
    pub max_negative_entries: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(30),
            negative_ttl: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(5),
            max_negative_entries: 1024,
        }
    }
}

impl CacheSettings {
    /// Default settings with the TTL from `HOOKRELAY_SECRET_TTL_SECS` when set.
    pub fn from_env(env: &crate::env::Env) -> Result<Self, crate::env::EnvError> {
        let mut s = Self::default();
        if let Some(ttl) = env.parse(
            "HOOKRELAY_SECRET_TTL_SECS",
            "a whole number of seconds",
            |_: &u64| true,
        )? {
            s.ttl = Duration::from_secs(ttl);
        }
        Ok(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Unavailable(#[from] SecretError),
    /// The secret exists but is not a valid configuration. The reason never
    /// contains key material (parsers only report field names and shapes).
    #[error("invalid configuration in secret {name}: {reason}")]
    Invalid { name: String, reason: String },
}

#[derive(Debug)]
enum Value<T> {
    Found(Arc<T>),
    NotFound,
    Invalid(String),
}

impl<T> Clone for Value<T> {
    fn clone(&self) -> Self {
        match self {
            Value::Found(v) => Value::Found(Arc::clone(v)),
            Value::NotFound => Value::NotFound,
            Value::Invalid(r) => Value::Invalid(r.clone()),
        }
    }
}

struct Entry<T> {
    value: Value<T>,
    fresh_until: OffsetDateTime,
}

struct SlotState<T> {
    entry: Option<Entry<T>>,
    /// When the secret was last asked for, whatever the answer (a failed
    /// fetch counts too): forced refreshes are limited from here, so an
    /// outage does not turn every bad signature into a call.
    attempted_at: Option<OffsetDateTime>,
    /// Set while this slot has no value: its place in the negative queue
    /// (an entry with another number is stale and skipped).
    negative_seq: Option<u64>,
}

struct Slot<T> {
    state: Mutex<SlotState<T>>,
    /// Single flight: concurrent misses for one secret wait for one fetch.
    fetching: tokio::sync::Mutex<()>,
}

struct Slots<T> {
    map: HashMap<String, Arc<Slot<T>>>,
    /// Names without a value, in the order they lost it (or never had
    /// one), each with the sequence number its slot holds.
    negatives: VecDeque<(String, u64)>,
    next_seq: u64,
}

/// Typed TTL cache of configuration secrets.
pub struct ConfigCache<T> {
    source: Arc<dyn SecretSource>,
    clock: Arc<dyn Clock>,
    settings: CacheSettings,
    slots: Mutex<Slots<T>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written entry
    // (entries are replaced whole), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: FromSecret> ConfigCache<T> {
    pub fn new(
        source: Arc<dyn SecretSource>,
        clock: Arc<dyn Clock>,
        settings: CacheSettings,
    ) -> Self {
        Self {
            source,
            clock,
            settings,
            slots: Mutex::new(Slots {
                map: HashMap::new(),
                negatives: VecDeque::new(),
                next_seq: 0,
            }),
        }
    }

    fn slot(&self, name: &str) -> Arc<Slot<T>> {
        let mut slots = lock(&self.slots);
        Arc::clone(slots.map.entry(name.to_string()).or_insert_with(|| {
            Arc::new(Slot {
                state: Mutex::new(SlotState {
                    entry: None,
                    attempted_at: None,
                    negative_seq: None,
                }),
                fetching: tokio::sync::Mutex::new(()),
            })
        }))
    }

    /// Number of names the cache holds (tests: the negative bound).
    pub fn len(&self) -> usize {
        lock(&self.slots).map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records that `name` has no value now and forgets the oldest names
    /// without a value beyond `max_negative_entries`. Lock order: the slot
    /// map, then a slot's state (never the other way round).
    fn note_negative(&self, name: &str, slot: &Slot<T>) {
        let mut slots = lock(&self.slots);
        {
            let mut state = lock(&slot.state);
            if state.negative_seq.is_some() {
                // Already queued since it last had a value: keeps its place.
                return;
            }
            state.negative_seq = Some(slots.next_seq);
        }
        let seq = slots.next_seq;
        slots.next_seq += 1;
        slots.negatives.push_back((name.to_string(), seq));
        while slots.negatives.len() > self.settings.max_negative_entries {
            let Some((old, old_seq)) = slots.negatives.pop_front() else {
                break;
            };
            // Only if that entry is still the name's: a name that found a
            // value since (and maybe lost it again) is not evicted by it.
            let current = slots
                .map
                .get(&old)
                .is_some_and(|s| lock(&s.state).negative_seq == Some(old_seq));
            if current {
                // A caller holding this slot finishes with its own Arc; the
                // next lookup of the name starts afresh.
                slots.map.remove(&old);
            }
        }
    }

    fn note_positive(slot: &Slot<T>) {
        lock(&slot.state).negative_seq = None;
    }

    fn answer(name: &str, value: Value<T>) -> Result<Option<Arc<T>>, CacheError> {
        match value {
            Value::Found(v) => Ok(Some(v)),
            Value::NotFound => Ok(None),
            Value::Invalid(reason) => Err(CacheError::Invalid {
                name: name.to_string(),
                reason,
            }),
        }
    }

    fn fresh(slot: &Slot<T>, now: OffsetDateTime) -> Option<Value<T>> {
        lock(&slot.state)
            .entry
            .as_ref()
            .filter(|e| now < e.fresh_until)
            .map(|e| e.value.clone())
    }

    /// The value of secret `name`: from the cache while fresh, else fetched.
    /// `Ok(None)` when the secret does not exist.
    pub async fn get(&self, name: &str) -> Result<Option<Arc<T>>, CacheError> {
        let slot = self.slot(name);
        if let Some(v) = Self::fresh(&slot, self.clock.now()) {
            return Self::answer(name, v);
        }
        let _flight = slot.fetching.lock().await;
        if let Some(v) = Self::fresh(&slot, self.clock.now()) {
            return Self::answer(name, v);
        }
        self.fetch_into(name, &slot).await
    }

    /// Fetches `name` again, bypassing the TTL, unless it was fetched less
    /// than `min_refresh_interval` ago. `Ok(None)` means "not refreshed".
    pub async fn refresh(&self, name: &str) -> Result<Option<Option<Arc<T>>>, CacheError> {
        let slot = self.slot(name);
        let _flight = slot.fetching.lock().await;
        let now = self.clock.now();
        let recent = lock(&slot.state)
            .attempted_at
            .is_some_and(|at| now - at < self.settings.min_refresh_interval);
        if recent {
            return Ok(None);
        }
        self.fetch_into(name, &slot).await.map(Some)
    }

    /// Drops every cached value (tests, CLI after writing a secret).
    pub fn clear(&self) {
        let mut slots = lock(&self.slots);
        slots.map.clear();
        slots.negatives.clear();
    }

    async fn fetch_into(&self, name: &str, slot: &Slot<T>) -> Result<Option<Arc<T>>, CacheError> {
        let fetched = self.source.fetch(name).await;
        let now = self.clock.now();
        lock(&slot.state).attempted_at = Some(now);
        let value = match fetched {
            Ok(Some(text)) => match T::from_secret(&text) {
                Ok(v) => Value::Found(Arc::new(v)),
                Err(reason) => Value::Invalid(reason),
            },
            Ok(None) => Value::NotFound,
            Err(e) => {
                let stale = {
                    let mut state = lock(&slot.state);
                    match state.entry.as_mut() {
                        Some(stale) => match &stale.value {
                            Value::Found(v) => {
                                stale.fresh_until = now + self.settings.retry_after_failure;
                                Some(Arc::clone(v))
                            }
                            _ => None,
                        },
                        None => None,
                    }
                };
                if let Some(v) = stale {
                    // Keep serving the last good value; try again shortly.
                    tracing::warn!(secret = name, error = %e, "secrets store unavailable; serving the cached value");
                    return Ok(Some(v));
                }
                // Nothing to serve: the slot counts as one without a value.
                self.note_negative(name, slot);
                return Err(e.into());
            }
        };
        let ttl = match value {
            Value::Found(_) => self.settings.ttl,
            _ => self.settings.negative_ttl,
        };
        let found = matches!(value, Value::Found(_));
        lock(&slot.state).entry = Some(Entry {
            value: value.clone(),
            fresh_until: now + ttl,
        });
        if found {
            Self::note_positive(slot);
        } else {
            self.note_negative(name, slot);
        }
        Self::answer(name, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// In-memory secret source: pure-logic tests only; the adapter itself is
    /// tested against moto in the receiver's tests.
    #[derive(Default)]
    struct FakeSource {
        values: Mutex<HashMap<String, String>>,
        down: std::sync::atomic::AtomicBool,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl SecretSource for FakeSource {
        async fn fetch(&self, name: &str) -> Result<Option<String>, SecretError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(SecretError::Unavailable("down".into()));
            }
            Ok(lock(&self.values).get(name).cloned())
        }
    }

    #[derive(Debug, PartialEq)]
    struct Num(u32);
    impl FromSecret for Num {
        fn from_secret(text: &str) -> Result<Self, String> {
            text.parse()
                .map(Num)
                .map_err(|_| "not a number".to_string())
        }
    }

    fn setup() -> (Arc<FakeSource>, Arc<ManualClock>, ConfigCache<Num>) {
        let src = Arc::new(FakeSource::default());
        let clock = Arc::new(ManualClock::at_unix(1_000_000));
        let cache = ConfigCache::new(src.clone(), clock.clone(), CacheSettings::default());
        (src, clock, cache)
    }

    fn set(src: &FakeSource, name: &str, v: &str) {
        lock(&src.values).insert(name.into(), v.into());
    }

    #[tokio::test]
    async fn serves_from_cache_until_the_ttl_expires() {
        let (src, clock, cache) = setup();
        set(&src, "a", "1");
        assert_eq!(*cache.get("a").await.unwrap().unwrap(), Num(1));
        set(&src, "a", "2");
        clock.advance(Duration::from_secs(299));
        assert_eq!(*cache.get("a").await.unwrap().unwrap(), Num(1));
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(*cache.get("a").await.unwrap().unwrap(), Num(2));
        assert_eq!(src.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn refresh_is_limited_to_once_per_interval() {
        let (src, clock, cache) = setup();
        set(&src, "a", "1");
        cache.get("a").await.unwrap();
        set(&src, "a", "2");
        clock.advance(Duration::from_secs(29));
        assert!(cache.refresh("a").await.unwrap().is_none(), "too soon");
        clock.advance(Duration::from_secs(1));
        let refreshed = cache.refresh("a").await.unwrap().unwrap().unwrap();
        assert_eq!(*refreshed, Num(2));
        assert!(
            cache.refresh("a").await.unwrap().is_none(),
            "just refreshed"
        );
        assert_eq!(src.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unknown_names_are_remembered_briefly() {
        let (src, clock, cache) = setup();
        assert!(cache.get("nope").await.unwrap().is_none());
        assert!(cache.get("nope").await.unwrap().is_none());
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
        set(&src, "nope", "3");
        clock.advance(Duration::from_secs(30));
        assert_eq!(*cache.get("nope").await.unwrap().unwrap(), Num(3));
    }

    #[tokio::test]
    async fn invalid_values_are_errors_that_name_the_secret() {
        let (src, _clock, cache) = setup();
        set(&src, "bad", "x");
        let err = cache.get("bad").await.unwrap_err();
        assert_eq!(
            err,
            CacheError::Invalid {
                name: "bad".into(),
                reason: "not a number".into()
            }
        );
    }

    #[tokio::test]
    async fn an_outage_is_an_error_when_cold_and_served_stale_when_warm() {
        let (src, clock, cache) = setup();
        src.down.store(true, Ordering::SeqCst);
        assert!(matches!(
            cache.get("a").await,
            Err(CacheError::Unavailable(_))
        ));
        src.down.store(false, Ordering::SeqCst);
        set(&src, "a", "1");
        cache.get("a").await.unwrap();
        src.down.store(true, Ordering::SeqCst);
        clock.advance(Duration::from_secs(301));
        assert_eq!(*cache.get("a").await.unwrap().unwrap(), Num(1));
        let calls = src.calls.load(Ordering::SeqCst);
        clock.advance(Duration::from_secs(4));
        cache.get("a").await.unwrap();
        assert_eq!(
            src.calls.load(Ordering::SeqCst),
            calls,
            "backs off before retrying"
        );
    }

    #[tokio::test]
    async fn forced_refreshes_are_limited_while_the_store_is_down() {
        let (src, clock, cache) = setup();
        set(&src, "a", "1");
        cache.get("a").await.unwrap();
        src.down.store(true, Ordering::SeqCst);
        clock.advance(Duration::from_secs(30));
        // The first forced refresh tries, fails, and serves the cached value.
        let r = cache.refresh("a").await.unwrap().unwrap().unwrap();
        assert_eq!(*r, Num(1));
        let calls = src.calls.load(Ordering::SeqCst);
        // Every failed verification asks again: only once per interval.
        for _ in 0..5 {
            clock.advance(Duration::from_secs(5));
            assert!(cache.refresh("a").await.unwrap().is_none(), "too soon");
        }
        assert_eq!(src.calls.load(Ordering::SeqCst), calls);
        clock.advance(Duration::from_secs(5));
        assert!(cache.refresh("a").await.unwrap().is_some());
        assert_eq!(src.calls.load(Ordering::SeqCst), calls + 1);
        // A cold name whose fetch failed is limited as well.
        assert!(cache.get("cold").await.is_err());
        let calls = src.calls.load(Ordering::SeqCst);
        assert!(cache.refresh("cold").await.unwrap().is_none());
        assert_eq!(src.calls.load(Ordering::SeqCst), calls);
    }

    #[tokio::test]
    async fn distinct_unknown_names_are_bounded_oldest_first() {
        let src = Arc::new(FakeSource::default());
        let clock = Arc::new(ManualClock::at_unix(1_000_000));
        let settings = CacheSettings {
            max_negative_entries: 3,
            ..CacheSettings::default()
        };
        let cache: ConfigCache<Num> = ConfigCache::new(src.clone(), clock.clone(), settings);
        set(&src, "known", "7");
        cache.get("known").await.unwrap();
        for i in 0..100 {
            assert!(cache.get(&format!("nope-{i}")).await.unwrap().is_none());
        }
        // The three newest unknown names and the known one.
        assert_eq!(cache.len(), 4);
        let calls = src.calls.load(Ordering::SeqCst);
        assert!(cache.get("nope-99").await.unwrap().is_none());
        assert_eq!(*cache.get("known").await.unwrap().unwrap(), Num(7));
        assert_eq!(src.calls.load(Ordering::SeqCst), calls, "both still cached");
        assert!(cache.get("nope-0").await.unwrap().is_none());
        assert_eq!(
            src.calls.load(Ordering::SeqCst),
            calls + 1,
            "the oldest was forgotten"
        );
        // A name asked again counts once, at its newest place.
        for _ in 0..10 {
            clock.advance(Duration::from_secs(30));
            cache.get("nope-0").await.unwrap();
        }
        assert_eq!(cache.len(), 4);
        // Failed fetches of unknown names are bounded too.
        src.down.store(true, Ordering::SeqCst);
        for i in 0..100 {
            assert!(cache.get(&format!("down-{i}")).await.is_err());
        }
        assert_eq!(cache.len(), 4);
        src.down.store(false, Ordering::SeqCst);
        clock.advance(Duration::from_secs(301));
        assert_eq!(*cache.get("known").await.unwrap().unwrap(), Num(7));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_fetch_once() {
        let (src, _clock, cache) = setup();
        set(&src, "a", "1");
        let cache = Arc::new(cache);
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let c = Arc::clone(&cache);
                tokio::spawn(async move { c.get("a").await.unwrap().unwrap() })
            })
            .collect();
        for t in tasks {
            assert_eq!(*t.await.unwrap(), Num(1));
        }
        assert_eq!(src.calls.load(Ordering::SeqCst), 1);
    }
}
