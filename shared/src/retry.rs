//! Retry schedules, as data.
//!
//! A schedule is the list of waits between attempts: attempt 1 happens at
//! once, attempt n+1 after `delays[n-1]`, and there are `delays.len() + 1`
//! attempts in all. The wait is applied by moving the SQS message's
//! visibility timeout, so a retry costs nothing while it waits.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// SQS refuses a visibility timeout that reaches more than 12 hours past
/// the receive that returned the receipt handle.
pub const SQS_VISIBILITY_LIMIT: Duration = Duration::from_secs(12 * 3600);

/// Room left below [`SQS_VISIBILITY_LIMIT`] for the change request's own
/// latency and the clocks of SQS and the function.
pub const VISIBILITY_HEADROOM: Duration = Duration::from_secs(60);

/// The longest delay a schedule may have and a `Retry-After` is bounded
/// to. What a record can actually be given is less, by the time since its
/// receive: [`visibility_cap`].
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600 - 60);

/// The longest visibility timeout SQS accepts now for a record received at
/// `received_at`: 12 hours from the receive, less the time gone since
/// (batching window, earlier records, the attempt) and the headroom.
pub fn visibility_cap(received_at: time::OffsetDateTime, now: time::OffsetDateTime) -> Duration {
    // Whole seconds, as SQS counts timeouts; the headroom covers the rest.
    let gone = Duration::from_secs(u64::try_from((now - received_at).whole_seconds()).unwrap_or(0));
    SQS_VISIBILITY_LIMIT.saturating_sub(gone + VISIBILITY_HEADROOM)
}

/// Bounds for a `Retry-After` an endpoint asks for.
pub const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Most attempts a schedule may have (delays + 1). The outbound queue's
/// `maxReceiveCount` (template default 50, at least 25) stays above it with
/// room for receives that are not attempts (infrastructure retries,
/// throttled or crashed invocations).
pub const MAX_ATTEMPTS: u32 = 20;

/// Longest a schedule may take in all, counting its jitter at the top of
/// its range: 3 days, well inside the outbound queue's 14-day retention,
/// leaving room for infrastructure retries and, on FIFO queues, time spent
/// waiting behind an earlier job of the same endpoint.
pub const MAX_SPAN: Duration = Duration::from_secs(3 * 24 * 3600);

/// Waits after failures that are not the endpoint's (Secrets Manager or the
/// state table unavailable): they double with every receive of the message
/// from this base up to [`INFRA_RETRY_MAX`], so an outage spends few of
/// the message's receives (`maxReceiveCount`).
pub const INFRA_RETRY_BASE: Duration = Duration::from_secs(30);
pub const INFRA_RETRY_MAX: Duration = Duration::from_secs(3600);

/// The wait after an infrastructure failure on receive number `receives`
/// (1-based): 30 s, 1 min, 2 min, ... up to an hour, spread by `jitter`
/// (relative) with `unit` in [-1, 1] so instances do not come back together.
pub fn infra_retry_delay(receives: u32, jitter: f64, unit: f64) -> Duration {
    let doublings = receives.saturating_sub(1).min(16);
    let base = INFRA_RETRY_BASE
        .saturating_mul(1 << doublings)
        .min(INFRA_RETRY_MAX);
    let factor = 1.0 + jitter.clamp(0.0, 1.0) * unit.clamp(-1.0, 1.0);
    base.mul_f64(factor.max(0.0)).max(MIN_RETRY_AFTER)
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    pub delays: Vec<Duration>,
    /// Relative spread: 0.2 means each wait is drawn from ±20% around its value.
    pub jitter: f64,
}

impl Default for RetrySchedule {
    /// Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts
    /// over about 27.5 hours), ±20%.
    fn default() -> Self {
        let h = 3600;
        Self {
            delays: [5, 5 * 60, 30 * 60, 2 * h, 5 * h, 10 * h, 10 * h]
                .map(Duration::from_secs)
                .to_vec(),
            jitter: 0.2,
        }
    }
}

impl RetrySchedule {
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// How long to wait after failed attempt number `attempt` (1-based), or
    /// `None` when that was the last one. `unit` is a random number in
    /// [-1, 1] that picks the jitter (tests pass fixed values).
    pub fn delay_after(&self, attempt: u32, unit: f64) -> Option<Duration> {
        let base = *self
            .delays
            .get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
        let factor = 1.0 + self.jitter * unit.clamp(-1.0, 1.0);
        Some(base.mul_f64(factor.max(0.0)).min(MAX_VISIBILITY))
    }

    /// The longest the schedule can take: every delay at the top of its jitter.
    pub fn max_span(&self) -> Duration {
        let total: Duration = self.delays.iter().sum();
        total.mul_f64(1.0 + self.jitter)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("retry.jitter must be between 0 and 1".into());
        }
        if self.delays.len() >= MAX_ATTEMPTS as usize {
            return Err(format!(
                "retry.delays has {} entries: at most {} attempts ({} delays) are allowed",
                self.delays.len(),
                MAX_ATTEMPTS,
                MAX_ATTEMPTS - 1
            ));
        }
        if let Some(d) = self.delays.iter().find(|d| **d > MAX_VISIBILITY) {
            return Err(format!(
                "retry delay {d:?} is above SQS's 12-hour visibility limit"
            ));
        }
        if self.max_span() > MAX_SPAN {
            return Err(format!(
                "retry.delays add up to {} with jitter: at most {} in all",
                humantime::format_duration(Duration::from_secs(self.max_span().as_secs())),
                humantime::format_duration(MAX_SPAN)
            ));
        }
        Ok(())
    }
}

/// A wait an endpoint asked for with `Retry-After` (on 429 and 503),
/// bounded to what a visibility timeout can express.
pub fn bounded_retry_after(asked: Duration) -> Duration {
    asked.clamp(MIN_RETRY_AFTER, MAX_VISIBILITY)
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Configuration form: `{"delays": ["10s", "100s"], "jitter": 0}`. Delays
/// are humantime strings ("5s", "5m", "2h") or numbers of seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(serialize_with = "ser_delays", deserialize_with = "de_delays")]
    pub delays: Vec<Duration>,
    #[serde(default = "default_jitter")]
    pub jitter: f64,
}

fn default_jitter() -> f64 {
    0.2
}

impl From<&RetryConfig> for RetrySchedule {
    fn from(c: &RetryConfig) -> Self {
        Self {
            delays: c.delays.clone(),
            jitter: c.jitter,
        }
    }
}

fn ser_delays<S: Serializer>(delays: &[Duration], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(
        delays
            .iter()
            .map(|d| humantime::format_duration(*d).to_string()),
    )
}

fn de_delays<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum One {
        Secs(u64),
        Text(String),
    }
    Vec::<One>::deserialize(d)?
        .into_iter()
        .map(|o| match o {
            One::Secs(s) => Ok(Duration::from_secs(s)),
            One::Text(t) => humantime::parse_duration(&t)
                .map_err(|e| serde::de::Error::custom(format!("delay {t:?}: {e}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_is_eight_attempts() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 8);
        assert_eq!(s.delay_after(1, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(s.delay_after(2, 0.0), Some(Duration::from_secs(300)));
        assert_eq!(s.delay_after(7, 0.0), Some(Duration::from_secs(36_000)));
        assert_eq!(s.delay_after(8, 0.0), None);
        assert_eq!(s.delay_after(0, 0.0), None);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_under_the_sqs_cap() {
        let s = RetrySchedule::default();
        assert_eq!(s.delay_after(1, 1.0), Some(Duration::from_secs(6)));
        assert_eq!(s.delay_after(1, -1.0), Some(Duration::from_secs(4)));
        // 10 h + 20% would be 12 h: capped below SQS's limit.
        assert_eq!(s.delay_after(7, 1.0), Some(MAX_VISIBILITY));
    }

    #[test]
    fn smarter_launch_schedule_is_expressible() {
        let c: RetryConfig =
            serde_json::from_str(r#"{"delays": ["10s", 100], "jitter": 0}"#).unwrap();
        let s = RetrySchedule::from(&c);
        assert_eq!(s.max_attempts(), 3);
        assert_eq!(s.delay_after(1, 1.0), Some(Duration::from_secs(10)));
        assert_eq!(s.delay_after(2, -1.0), Some(Duration::from_secs(100)));
        assert_eq!(s.delay_after(3, 0.0), None);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"delays":["10s","1m 40s"],"jitter":0.0}"#
        );
    }

    #[test]
    fn invalid_schedules_are_refused() {
        assert!(
            RetrySchedule {
                delays: vec![Duration::from_secs(50_000)],
                jitter: 0.0
            }
            .validate()
            .is_err()
        );
        assert!(
            RetrySchedule {
                delays: vec![],
                jitter: 1.5
            }
            .validate()
            .is_err()
        );
        assert!(serde_json::from_str::<RetryConfig>(r#"{"delays": ["soon"]}"#).is_err());
    }

    #[test]
    fn schedules_fit_the_documented_limits() {
        let hours = |n: u64| Duration::from_secs(n * 3600);
        let ok = |delays: Vec<Duration>, jitter: f64| RetrySchedule { delays, jitter }.validate();
        assert!(RetrySchedule::default().validate().is_ok());
        assert!(RetrySchedule::default().max_span() < MAX_SPAN);
        // 20 attempts is the most; 21 is refused.
        assert!(ok(vec![Duration::from_secs(60); 19], 0.2).is_ok());
        let e = ok(vec![Duration::from_secs(60); 20], 0.2).unwrap_err();
        assert!(e.contains("at most 20 attempts"), "{e}");
        // Six 12-hour waits fit in 3 days without jitter, not with it.
        assert!(ok(vec![hours(11); 6], 0.0).is_ok());
        let e = ok(vec![hours(11); 6], 0.2).unwrap_err();
        assert!(e.contains("at most 3days"), "{e}");
        // The old limits allowed 100 waits of almost 12 h (about 50 days).
        assert!(ok(vec![hours(11); 100], 0.0).is_err());
    }

    #[test]
    fn the_visibility_cap_counts_from_the_receive() {
        let t = time::OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(visibility_cap(t, t), MAX_VISIBILITY);
        assert_eq!(
            visibility_cap(t, t + Duration::from_millis(999)),
            MAX_VISIBILITY
        );
        assert_eq!(
            visibility_cap(t, t + Duration::from_secs(300)),
            Duration::from_secs(43_200 - 300 - 60)
        );
        assert_eq!(
            visibility_cap(t, t + Duration::from_secs(50_000)),
            Duration::ZERO
        );
        // A receive time after now (clock skew) leaves the full cap.
        assert_eq!(
            visibility_cap(t + Duration::from_secs(5), t),
            MAX_VISIBILITY
        );
    }

    #[test]
    fn infrastructure_retries_back_off_with_the_receive_count() {
        let d = |n| infra_retry_delay(n, 0.0, 0.0).as_secs();
        assert_eq!(
            (1..=9).map(d).collect::<Vec<_>>(),
            vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
        );
        assert_eq!(d(u32::MAX), 3600);
        assert_eq!(d(0), 30);
        assert_eq!(infra_retry_delay(1, 0.2, 1.0).as_secs(), 36);
        assert_eq!(infra_retry_delay(1, 0.2, -1.0).as_secs(), 24);
        // 20 receives at 30 s each would be 10 minutes of an outage; backed
        // off, 20 receives cover more than 14 hours.
        let total: u64 = (1..=20).map(d).sum();
        assert!(total > 14 * 3600, "{total}");
    }

    #[test]
    fn retry_after_takes_seconds_or_dates_and_is_bounded() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(0))
        );
        let later = "Sun, 06 Nov 1994 08:51:37 GMT";
        assert_eq!(
            parse_retry_after(
                later,
                std::time::UNIX_EPOCH + Duration::from_secs(784_111_777)
            ),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(bounded_retry_after(Duration::ZERO), MIN_RETRY_AFTER);
        assert_eq!(
            bounded_retry_after(Duration::from_secs(86_400)),
            MAX_VISIBILITY
        );
    }
}
