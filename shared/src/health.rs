//! Endpoint health and the auto-disable rules, as pure logic over a clock
//! the caller passes in. The DynamoDB adapter (`aws::dynamodb::health`) persists a
//! [`HealthState`] per endpoint with conditional writes; this module decides.
//!
//! Rules (per deployment, overridable per endpoint):
//! - **consecutive**: every attempt failed for `consecutive_days` (LeafLink:
//!   5 days of 100% failures). A success resets this window.
//! - **rate**: at least `rate_threshold` of at least `rate_min_attempts`
//!   attempts failed within the last `rate_window_hours` (default 95% of 50
//!   in 24 h). Counted in hourly buckets; every success counts as an attempt.
//! - **gone**: a `410 Gone` disables at once.
//!
//! Writes are avoided when nothing changes: a success on an endpoint with no
//! failure since its last success changes no state (except to refresh
//! `last_success_at` once an hour). Successes are still counted for the rate
//! rule, in [`HealthState::successes`]: the store adds them up in batches
//! with atomic counters (see `aws::dynamodb::health`), not with a write per success.
//!
//! After `enable` an endpoint is **replaying**: new jobs are still parked
//! until the parked backlog has been put back on the queue, so they cannot
//! overtake it; then delivery is normal again.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Disable after every attempt failed for this many days (0 turns the rule off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_days: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_threshold: Option<f64>,
    /// 0 turns the rate rule off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_min_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_window_hours: Option<u32>,
}

impl RulesConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self
            .consecutive_days
            .is_some_and(|d| !(0.0..=365.0).contains(&d))
        {
            return Err("health.consecutive_days must be between 0 and 365".into());
        }
        if self
            .rate_threshold
            .is_some_and(|t| !(0.0..=1.0).contains(&t) || t == 0.0)
        {
            return Err("health.rate_threshold must be in (0, 1]".into());
        }
        if self
            .rate_window_hours
            .is_some_and(|h| !(1..=168).contains(&h))
        {
            return Err("health.rate_window_hours must be between 1 and 168".into());
        }
        Ok(())
    }

    /// These settings over `base` (the deployment's).
    pub fn over(&self, base: &Rules) -> Rules {
        let consecutive = match self.consecutive_days {
            Some(d) if d <= 0.0 => None,
            Some(d) => Some(Duration::from_secs_f64(d * 86_400.0)),
            None => base.consecutive,
        };
        let rate = match (self.rate_min_attempts, base.rate) {
            (Some(0), _) => None,
            (min, Some(b)) => Some(RateRule {
                min_attempts: min.unwrap_or(b.min_attempts),
                threshold: self.rate_threshold.unwrap_or(b.threshold),
                window_hours: self.rate_window_hours.unwrap_or(b.window_hours),
            }),
            (Some(min), None) => Some(RateRule {
                min_attempts: min,
                threshold: self.rate_threshold.unwrap_or(0.95),
                window_hours: self.rate_window_hours.unwrap_or(24),
            }),
            (None, None) => None,
        };
        Rules { consecutive, rate }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRule {
    pub min_attempts: u32,
    pub threshold: f64,
    pub window_hours: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub consecutive: Option<Duration>,
    pub rate: Option<RateRule>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            consecutive: Some(Duration::from_secs(5 * 86_400)),
            rate: Some(RateRule {
                min_attempts: 50,
                threshold: 0.95,
                window_hours: 24,
            }),
        }
    }
}

impl Rules {
    /// Deployment rules from `HOOKRELAY_DISABLE_AFTER_DAYS`,
    /// `HOOKRELAY_DISABLE_RATE`, `HOOKRELAY_DISABLE_MIN_ATTEMPTS`,
    /// `HOOKRELAY_DISABLE_WINDOW_HOURS` (unset: the defaults).
    pub fn from_env(env: &crate::env::Env) -> Result<Self, crate::env::EnvError> {
        let any = |_: &_| true;
        let cfg = RulesConfig {
            consecutive_days: env.parse("HOOKRELAY_DISABLE_AFTER_DAYS", "a number of days", any)?,
            rate_threshold: env.parse("HOOKRELAY_DISABLE_RATE", "a fraction", any)?,
            rate_min_attempts: env.parse(
                "HOOKRELAY_DISABLE_MIN_ATTEMPTS",
                "a whole number",
                |_: &u32| true,
            )?,
            rate_window_hours: env.parse(
                "HOOKRELAY_DISABLE_WINDOW_HOURS",
                "a whole number of hours",
                |_: &u32| true,
            )?,
        };
        cfg.validate().map_err(crate::env::EnvError::Rules)?;
        Ok(cfg.over(&Rules::default()))
    }
}

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    ConsecutiveFailures,
    FailureRate,
    Gone,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disabled {
    pub trigger: Trigger,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Attempts and failures in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Unix time / 3600.
    pub hour: i64,
    pub attempts: u32,
    pub failures: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HealthState {
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    /// First failure since the last success.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_failure_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_failure_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub last_status: Option<String>,
    #[serde(default)]
    pub buckets: Vec<Bucket>,
    #[serde(default)]
    pub disabled: Option<Disabled>,
    /// Set by `enable` until the parked jobs have been replayed; meanwhile
    /// new jobs are parked behind them.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub replaying_since: Option<OffsetDateTime>,
    /// How many replays have finished (enables that returned the endpoint
    /// to normal delivery). A sender parks a job of an endpoint switched off
    /// in its configuration only if no replay finished since the state it
    /// decided on (see `state_table::ParkWhile`): its view of the
    /// configuration is then older than the enable.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub enables: u64,
    /// Successful attempts per hour (unix time / 3600). Not part of the JSON
    /// state: the store keeps them in counters next to it that senders add
    /// to atomically, so counting a success never needs a conditional write.
    #[serde(skip)]
    pub successes: BTreeMap<i64, u32>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Whether an endpoint's jobs are delivered or parked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parking {
    /// Deliver.
    No,
    /// Park every job, replayed ones included.
    Disabled(Disabled),
    /// Park new jobs; deliver the replayed ones.
    Replaying,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// 410 Gone: the endpoint says it will never accept again.
    Gone,
}

/// What recording an outcome did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing worth a write.
    None,
    /// State changed; write it.
    Updated,
    /// State changed and the endpoint is now disabled; write it and notify.
    Disabled(Disabled),
}

pub const HOUR: i64 = 3600;
const LAST_SUCCESS_REFRESH: Duration = Duration::from_secs(3600);

impl HealthState {
    pub fn is_disabled(&self) -> bool {
        self.disabled.is_some()
    }

    pub fn parking(&self) -> Parking {
        match (&self.disabled, self.replaying_since) {
            (Some(d), _) => Parking::Disabled(d.clone()),
            (None, Some(_)) => Parking::Replaying,
            (None, None) => Parking::No,
        }
    }

    /// Attempts (successes included) and failures within the rate window ending at `now`.
    pub fn window(&self, now: OffsetDateTime, hours: u32) -> (u32, u32) {
        let current = now.unix_timestamp().div_euclid(HOUR);
        let oldest = current - i64::from(hours) + 1;
        let (attempts, failures) = self
            .buckets
            .iter()
            .filter(|b| b.hour >= oldest && b.hour <= current)
            .fold((0u32, 0u32), |(a, f), b| {
                (a.saturating_add(b.attempts), f.saturating_add(b.failures))
            });
        let successes = self
            .successes
            .range(oldest..=current)
            .fold(0u32, |s, (_, n)| s.saturating_add(*n));
        (attempts.saturating_add(successes), failures)
    }

    /// Adds `n` successful attempts in `hour` (unix time / 3600).
    pub fn add_successes(&mut self, hour: i64, n: u32) {
        let slot = self.successes.entry(hour).or_insert(0);
        *slot = slot.saturating_add(n);
    }

    fn prune(&mut self, now: OffsetDateTime, keep_hours: u32) {
        let oldest = now.unix_timestamp().div_euclid(HOUR) - i64::from(keep_hours) + 1;
        self.buckets.retain(|b| b.hour >= oldest);
        self.successes.retain(|h, _| *h >= oldest);
    }

    fn count_failure(&mut self, now: OffsetDateTime) {
        let hour = now.unix_timestamp().div_euclid(HOUR);
        if self.buckets.last().is_none_or(|b| b.hour != hour) {
            self.buckets.push(Bucket {
                hour,
                attempts: 0,
                failures: 0,
            });
        }
        if let Some(b) = self.buckets.last_mut() {
            b.attempts = b.attempts.saturating_add(1);
            b.failures = b.failures.saturating_add(1);
        }
    }

    /// Records one attempt's outcome and applies the rules.
    pub fn record(
        &mut self,
        outcome: Outcome,
        status: &str,
        now: OffsetDateTime,
        rules: &Rules,
    ) -> Change {
        if self.is_disabled() {
            // A delivery that was already in flight when the endpoint was
            // disabled: nothing to decide any more.
            return Change::None;
        }
        let window_hours = rules.rate.map(|r| r.window_hours).unwrap_or(24);
        match outcome {
            Outcome::Success => {
                // Counting it for the rate rule is the caller's job
                // (`add_successes`, batched): only what changes the state
                // is decided here.
                let stale_success = self
                    .last_success_at
                    .is_none_or(|t| now - t >= LAST_SUCCESS_REFRESH);
                if self.first_failure_at.is_none() && !stale_success {
                    return Change::None;
                }
                self.prune(now, window_hours);
                self.first_failure_at = None;
                self.last_success_at = Some(now);
                self.last_status = Some(status.to_string());
                Change::Updated
            }
            Outcome::Failure | Outcome::Gone => {
                self.prune(now, window_hours);
                self.count_failure(now);
                self.first_failure_at.get_or_insert(now);
                self.last_failure_at = Some(now);
                self.last_status = Some(status.to_string());
                let disabled = self.check(outcome, now, rules);
                match disabled {
                    Some(d) => {
                        self.disabled = Some(d.clone());
                        self.replaying_since = None;
                        Change::Disabled(d)
                    }
                    None => Change::Updated,
                }
            }
        }
    }

    fn check(&self, outcome: Outcome, now: OffsetDateTime, rules: &Rules) -> Option<Disabled> {
        if outcome == Outcome::Gone {
            return Some(Disabled {
                trigger: Trigger::Gone,
                reason: "the endpoint answered 410 Gone".into(),
                at: now,
            });
        }
        if let (Some(limit), Some(first)) = (rules.consecutive, self.first_failure_at)
            && now - first >= limit
        {
            let days = limit.as_secs_f64() / 86_400.0;
            return Some(Disabled {
                trigger: Trigger::ConsecutiveFailures,
                reason: format!("every attempt failed for {days} days (since {first})"),
                at: now,
            });
        }
        if let Some(rate) = rules.rate {
            let (attempts, failures) = self.window(now, rate.window_hours);
            if attempts >= rate.min_attempts
                && f64::from(failures) >= rate.threshold * f64::from(attempts)
            {
                return Some(Disabled {
                    trigger: Trigger::FailureRate,
                    reason: format!(
                        "{failures} of {attempts} attempts failed in the last {} hours (threshold {}%)",
                        rate.window_hours,
                        rate.threshold * 100.0
                    ),
                    at: now,
                });
            }
        }
        None
    }

    /// Manual disable: the same state as an automatic one.
    pub fn disable(&mut self, reason: &str, now: OffsetDateTime) -> bool {
        if self.is_disabled() {
            return false;
        }
        self.disabled = Some(Disabled {
            trigger: Trigger::Manual,
            reason: reason.to_string(),
            at: now,
        });
        self.replaying_since = None;
        true
    }

    /// Re-enables with a clean slate (old failures cannot disable it again
    /// at once) into the replaying state: new jobs keep being parked until
    /// [`finish_replay`](Self::finish_replay). Returns whether it was disabled.
    pub fn begin_replay(&mut self, now: OffsetDateTime) -> bool {
        let was = self.disabled.take().is_some();
        self.first_failure_at = None;
        self.buckets.clear();
        self.successes.clear();
        self.replaying_since = Some(now);
        was
    }

    /// The parked backlog is replayed: normal delivery.
    pub fn finish_replay(&mut self) {
        if self.replaying_since.take().is_some() {
            self.enables = self.enables.saturating_add(1);
        }
    }
}

/// Why a job could not be parked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParkError {
    /// A parked job is one DynamoDB item, and items hold at most 400 KB.
    #[error(
        "the job is {bytes} bytes; a parked job is one DynamoDB item, which holds at most {limit} bytes of body"
    )]
    TooLarge { bytes: usize, limit: usize },
    #[error("no state table is configured to park jobs")]
    NoStateTable,
    #[error("the state table is unavailable: {0}")]
    Unavailable(String),
    /// The job was to be parked because the endpoint is switched off in
    /// the sender's view of its configuration, but an enable finished
    /// after that view: parking it now would leave it behind a replay that
    /// is over. Not parked; it goes to the dead-letter queue instead.
    #[error(
        "the endpoint was enabled (its parked jobs replayed) while this job was being parked for it \
         as switched off: not parked, so that it cannot be left behind; redrive it"
    )]
    EnabledMeanwhile,
}

/// How a job is parked: `always` parks even when the endpoint's state says
/// deliver (the endpoint is switched off in its configuration).
#[derive(Debug, Clone, Copy)]
pub struct ParkRequest<'a> {
    pub endpoint: &'a str,
    pub job_id: &'a str,
    pub body: &'a str,
    /// The job's creation time: parked jobs replay in this order.
    pub created_at: OffsetDateTime,
    pub always: bool,
}

/// The endpoint-state port the sender talks to: whether an endpoint's jobs
/// are parked, recording attempts, and parking jobs.
/// `aws::dynamodb::health::DynamoHealth` implements it; [`NoHealthTracking`] is for
/// deployments without the state table.
#[async_trait::async_trait]
pub trait EndpointHealth: Send + Sync {
    /// Whether the endpoint's jobs are parked now (may be cached briefly).
    async fn parking(&self, endpoint: &str) -> Result<Parking, String>;
    /// Records an attempt; returns the disable it caused, if it caused one
    /// (exactly one caller sees each disable).
    async fn record(
        &self,
        endpoint: &str,
        outcome: Outcome,
        status: &str,
        rules: &Rules,
    ) -> Result<Option<Disabled>, String>;
    /// Keeps a job for replay when the endpoint is enabled again. `Ok(false)`:
    /// not parked, because the endpoint is delivering again (deliver it).
    async fn park(&self, job: ParkRequest<'_>) -> Result<bool, ParkError>;
}

/// No state table: endpoints are never disabled automatically.
pub struct NoHealthTracking;

#[async_trait::async_trait]
impl EndpointHealth for NoHealthTracking {
    async fn parking(&self, _: &str) -> Result<Parking, String> {
        Ok(Parking::No)
    }
    async fn record(
        &self,
        _: &str,
        _: Outcome,
        _: &str,
        _: &Rules,
    ) -> Result<Option<Disabled>, String> {
        Ok(None)
    }
    async fn park(&self, _: ParkRequest<'_>) -> Result<bool, ParkError> {
        Err(ParkError::NoStateTable)
    }
}

/// Who hears about a disabled endpoint (SNS in AWS): the operational
/// events' publisher.
pub use crate::ops_event::{LogNotifier, Notifier};

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }

    fn rules_consecutive_only() -> Rules {
        Rules {
            rate: None,
            ..Rules::default()
        }
    }

    #[test]
    fn consecutive_rule_fires_at_five_days_and_not_before() {
        let r = rules_consecutive_only();
        let mut s = HealthState::default();
        assert_eq!(
            s.record(Outcome::Failure, "500", at(0), &r),
            Change::Updated
        );
        assert_eq!(
            s.record(Outcome::Failure, "500", at(5 * DAY - 1), &r),
            Change::Updated
        );
        match s.record(Outcome::Failure, "500", at(5 * DAY), &r) {
            Change::Disabled(d) => assert_eq!(d.trigger, Trigger::ConsecutiveFailures),
            other => panic!("{other:?}"),
        }
        assert!(s.is_disabled());
        assert_eq!(
            s.record(Outcome::Failure, "500", at(6 * DAY), &r),
            Change::None
        );
    }

    #[test]
    fn a_success_resets_the_consecutive_window() {
        let r = rules_consecutive_only();
        let mut s = HealthState::default();
        s.record(Outcome::Failure, "500", at(0), &r);
        assert_eq!(
            s.record(Outcome::Success, "200", at(4 * DAY), &r),
            Change::Updated
        );
        s.record(Outcome::Failure, "500", at(4 * DAY + 1), &r);
        assert_eq!(
            s.record(Outcome::Failure, "500", at(9 * DAY), &r),
            Change::Updated,
            "4 days 23:59:59 of failures"
        );
        assert!(matches!(
            s.record(Outcome::Failure, "500", at(9 * DAY + 1), &r),
            Change::Disabled(_)
        ));
    }

    fn hour_of(t: OffsetDateTime) -> i64 {
        t.unix_timestamp().div_euclid(HOUR)
    }

    #[test]
    fn rate_rule_fires_at_its_threshold_and_not_before() {
        let r = Rules {
            consecutive: None,
            ..Rules::default()
        };
        let mut s = HealthState::default();
        // 3 successes, counted the way the store counts them.
        s.add_successes(hour_of(at(0)), 3);
        // 56 failures: 56 of 59 is 94.9%, below the threshold.
        for i in 0..56 {
            assert_eq!(
                s.record(Outcome::Failure, "500", at(10 + i), &r),
                Change::Updated,
                "failure {i}"
            );
        }
        assert_eq!(s.window(at(100), 24), (59, 56));
        // The 57th: 57 of 60 = 95%.
        match s.record(Outcome::Failure, "500", at(100), &r) {
            Change::Disabled(d) => {
                assert_eq!(d.trigger, Trigger::FailureRate);
                assert!(d.reason.contains("57 of 60"), "{}", d.reason);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_busy_healthy_endpoint_survives_a_short_blip() {
        let r = Rules {
            consecutive: None,
            ..Rules::default()
        };
        let mut s = HealthState::default();
        // 20 hours of healthy traffic, 100 successes an hour, none of them a
        // state change worth a write.
        for h in 0..20 {
            s.add_successes(hour_of(at(h * 3600)), 100);
        }
        // A 3-minute outage: 200 failed attempts.
        let blip = 20 * 3600;
        for i in 0..200 {
            assert_eq!(
                s.record(Outcome::Failure, "503", at(blip + i), &r),
                Change::Updated,
                "failure {i}"
            );
        }
        assert_eq!(s.window(at(blip + 200), 24), (2200, 200));
        assert!(!s.is_disabled());
    }

    #[test]
    fn successes_leave_the_window_like_failures() {
        let mut s = HealthState::default();
        s.add_successes(hour_of(at(0)), 7);
        s.add_successes(hour_of(at(0)), 3);
        assert_eq!(s.window(at(0), 24), (10, 0));
        assert_eq!(s.window(at(DAY), 24), (0, 0));
        s.record(Outcome::Failure, "500", at(DAY), &Rules::default());
        assert!(s.successes.is_empty(), "pruned with the failures' buckets");
    }

    #[test]
    fn rate_rule_needs_the_minimum_number_of_attempts() {
        let r = Rules {
            consecutive: None,
            ..Rules::default()
        };
        let mut s = HealthState::default();
        for i in 0..49 {
            assert_eq!(
                s.record(Outcome::Failure, "500", at(i), &r),
                Change::Updated
            );
        }
        assert!(
            matches!(
                s.record(Outcome::Failure, "500", at(49), &r),
                Change::Disabled(_)
            ),
            "50th failure"
        );
    }

    #[test]
    fn the_rate_window_slides() {
        let r = Rules {
            consecutive: None,
            ..Rules::default()
        };
        let mut s = HealthState::default();
        for i in 0..49 {
            s.record(Outcome::Failure, "500", at(i), &r);
        }
        // A day later the old failures are outside the window.
        assert_eq!(
            s.record(Outcome::Failure, "500", at(DAY + 3600), &r),
            Change::Updated
        );
        assert_eq!(s.window(at(DAY + 3600), 24), (1, 1));
    }

    #[test]
    fn gone_disables_at_once() {
        let mut s = HealthState::default();
        assert!(matches!(
            s.record(Outcome::Gone, "410", at(0), &Rules::default()),
            Change::Disabled(Disabled {
                trigger: Trigger::Gone,
                ..
            })
        ));
    }

    #[test]
    fn healthy_successes_are_not_written_but_refresh_hourly() {
        let r = Rules::default();
        let mut s = HealthState::default();
        assert_eq!(
            s.record(Outcome::Success, "200", at(0), &r),
            Change::Updated,
            "first success is recorded"
        );
        assert_eq!(s.record(Outcome::Success, "200", at(60), &r), Change::None);
        assert_eq!(
            s.record(Outcome::Success, "204", at(3599), &r),
            Change::None
        );
        assert_eq!(
            s.record(Outcome::Success, "200", at(3600), &r),
            Change::Updated
        );
        assert!(
            s.buckets.is_empty() && s.successes.is_empty(),
            "successes are counted by the store (add_successes), not here"
        );
    }

    #[test]
    fn manual_disable_then_enable_goes_through_replaying() {
        let mut s = HealthState::default();
        s.record(Outcome::Failure, "500", at(0), &Rules::default());
        s.add_successes(hour_of(at(0)), 2);
        assert_eq!(s.parking(), Parking::No);
        assert!(s.disable("maintenance", at(1)));
        assert!(!s.disable("again", at(2)));
        assert_eq!(s.disabled.as_ref().unwrap().trigger, Trigger::Manual);
        assert!(matches!(s.parking(), Parking::Disabled(_)));
        assert!(s.begin_replay(at(3)));
        assert!(!s.is_disabled());
        assert_eq!(s.parking(), Parking::Replaying, "new jobs still park");
        assert!(s.first_failure_at.is_none() && s.buckets.is_empty() && s.successes.is_empty());
        assert_eq!(s.enables, 0);
        s.finish_replay();
        assert_eq!(s.parking(), Parking::No);
        assert_eq!(s.enables, 1, "a finished replay is counted");
        s.finish_replay();
        assert_eq!(s.enables, 1, "once");
    }

    #[test]
    fn a_disable_during_the_replay_wins() {
        let mut s = HealthState::default();
        s.begin_replay(at(0));
        assert!(matches!(
            s.record(Outcome::Gone, "410", at(1), &Rules::default()),
            Change::Disabled(_)
        ));
        assert!(matches!(s.parking(), Parking::Disabled(_)));
        assert!(s.replaying_since.is_none());
    }

    #[test]
    fn per_endpoint_overrides() {
        let base = Rules::default();
        let c = RulesConfig {
            consecutive_days: Some(0.0),
            rate_min_attempts: Some(10),
            ..Default::default()
        };
        let r = c.over(&base);
        assert_eq!(r.consecutive, None);
        assert_eq!(r.rate.unwrap().min_attempts, 10);
        assert_eq!(r.rate.unwrap().threshold, 0.95);
        let off = RulesConfig {
            rate_min_attempts: Some(0),
            ..Default::default()
        }
        .over(&base);
        assert!(off.rate.is_none());
        assert!(
            RulesConfig {
                rate_threshold: Some(1.5),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn state_round_trips_as_json() {
        let mut s = HealthState::default();
        s.record(Outcome::Failure, "500", at(0), &Rules::default());
        s.disable("x", at(1));
        // Not a reachable state, but both fields must survive the round trip.
        s.replaying_since = Some(at(2));
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<HealthState>(&text).unwrap(), s);
    }
}
