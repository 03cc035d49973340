//! Noticing that a source's webhooks are mostly refused, the failure that
//! hurts most in practice: a platform rotated its key and every webhook now
//! gets 401, silently, until a customer asks.
//!
//! Each receiver instance keeps, per configured source, the requests and
//! refusals of the last `window` (ten buckets, so at most ten small
//! entries per source, and at most [`MAX_SOURCES`] sources). When more
//! than `threshold` of at least `min_requests` requests were refused, the
//! source has crossed: the instance claims the alert in the state table (a
//! conditional write, so of all the instances that see it only one
//! announces it, at most once per [`REALERT_AFTER`]) and publishes
//! `source.refusals_high` and the `SourceRefusalsHigh` metric. It crosses
//! again only after the share has dropped back to the threshold or below.
//!
//! The window is per instance: with many concurrent instances each sees its
//! share of the requests. A rotated key refuses all of them, so every
//! instance that serves `min_requests` of that source within the window
//! notices; at a rate spread so thin that none does, the CloudWatch alarm
//! on the metrics (which sees every instance) is the backstop.

use hookrelay_shared::metrics::names::RefusalReason;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;

/// Sources tracked per instance (sources are configured, so few; this only
/// bounds memory).
pub const MAX_SOURCES: usize = 1024;
/// A source announced once is announced again, by any instance, at the
/// earliest this much later.
pub const REALERT_AFTER: Duration = Duration::from_secs(3600);
/// Buckets per window.
const BUCKETS: i64 = 10;

/// When a source's refusals are "high".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefusalRule {
    /// The share of requests refused above which the source has crossed.
    pub threshold: f64,
    /// Requests in the window before the share counts.
    pub min_requests: u64,
    pub window: Duration,
}

impl Default for RefusalRule {
    /// More than 90% of at least 20 requests over 10 minutes.
    fn default() -> Self {
        Self {
            threshold: 0.9,
            min_requests: 20,
            window: Duration::from_secs(600),
        }
    }
}

/// A source that just crossed: the window's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    pub requests: u64,
    pub refused: u64,
    pub reasons: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Default)]
struct Bucket {
    slot: i64,
    requests: u64,
    refused: u64,
    reasons: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Default)]
struct SourceWindow {
    buckets: VecDeque<Bucket>,
    crossed: bool,
    last_slot: i64,
}

#[derive(Debug)]
pub struct RefusalWatch {
    rule: RefusalRule,
    sources: Mutex<HashMap<String, SourceWindow>>,
}

impl RefusalWatch {
    pub fn new(rule: RefusalRule) -> Self {
        Self {
            rule,
            sources: Mutex::new(HashMap::new()),
        }
    }

    pub fn rule(&self) -> RefusalRule {
        self.rule
    }

    fn slot_secs(&self) -> i64 {
        (self.rule.window.as_secs() as i64 / BUCKETS).max(1)
    }

    /// Records one request of a configured source (`refused`: its reason)
    /// and says whether the source has just crossed.
    pub fn record(
        &self,
        source: &str,
        refused: Option<RefusalReason>,
        now: OffsetDateTime,
    ) -> Option<Crossing> {
        let slot = now.unix_timestamp().div_euclid(self.slot_secs());
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if !sources.contains_key(source) && sources.len() >= MAX_SOURCES {
            // Forget the source seen least recently.
            if let Some(oldest) = sources
                .iter()
                .min_by_key(|(_, w)| w.last_slot)
                .map(|(k, _)| k.clone())
            {
                sources.remove(&oldest);
            }
        }
        let w = sources.entry(source.to_string()).or_default();
        w.last_slot = slot;
        while w.buckets.front().is_some_and(|b| b.slot <= slot - BUCKETS) {
            w.buckets.pop_front();
        }
        if w.buckets.back().is_none_or(|b| b.slot != slot) {
            w.buckets.push_back(Bucket {
                slot,
                ..Bucket::default()
            });
        }
        if let Some(b) = w.buckets.back_mut() {
            b.requests += 1;
            if let Some(reason) = refused {
                b.refused += 1;
                *b.reasons.entry(reason.as_str()).or_default() += 1;
            }
        }
        let requests: u64 = w.buckets.iter().map(|b| b.requests).sum();
        let refused: u64 = w.buckets.iter().map(|b| b.refused).sum();
        let high = requests >= self.rule.min_requests
            && refused as f64 > self.rule.threshold * requests as f64;
        if !high {
            w.crossed = false;
            return None;
        }
        if w.crossed {
            return None;
        }
        w.crossed = true;
        let mut reasons = BTreeMap::new();
        for b in &w.buckets {
            for (k, v) in &b.reasons {
                *reasons.entry(*k).or_default() += v;
            }
        }
        Some(Crossing {
            requests,
            refused,
            reasons,
        })
    }
}

/// What the event says the refusals probably mean.
pub fn hint(reasons: &BTreeMap<&'static str, u64>) -> String {
    let top = reasons.iter().max_by_key(|(_, n)| **n).map(|(k, _)| *k);
    match top {
        Some("signature") => "most refusals are bad signatures: has the platform rotated its key? \
             Add the new key with `hookrelay sources rotate-key` (the old one stays valid for a grace period)"
            .into(),
        Some("malformed") => {
            "most refusals are bodies that are not the JSON the source expects: has the platform changed its format?"
                .into()
        }
        Some("too-large") => {
            "most refusals are too large: raise HOOKRELAY_MAX_MESSAGE_BYTES (MaxMessageBytes) if the queues allow"
                .into()
        }
        _ => "see the receiver's log lines for this source (`webhook rejected`)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    const SIG: Option<RefusalReason> = Some(RefusalReason::Signature);

    #[test]
    fn crosses_above_the_share_with_enough_requests_once() {
        let w = RefusalWatch::new(RefusalRule::default());
        for i in 0..19 {
            assert_eq!(w.record("gh", SIG, at(i)), None, "fewer than 20 requests");
        }
        let c = w.record("gh", SIG, at(19)).expect("the 20th crosses");
        assert_eq!((c.requests, c.refused), (20, 20));
        assert_eq!(c.reasons["signature"], 20);
        assert_eq!(
            w.record("gh", SIG, at(20)),
            None,
            "once while it stays high"
        );
        assert_eq!(w.record("other", SIG, at(20)), None, "per source");
    }

    #[test]
    fn exactly_the_threshold_is_not_above_it() {
        let w = RefusalWatch::new(RefusalRule::default());
        for i in 0..2 {
            w.record("gh", None, at(i));
        }
        for i in 0..18 {
            assert_eq!(w.record("gh", SIG, at(10 + i)), None, "18 of 20 is 90%");
        }
        assert!(
            w.record("gh", SIG, at(40)).is_some(),
            "19 of 21 is above 90%"
        );
    }

    #[test]
    fn old_requests_leave_the_window_and_a_drop_rearms() {
        let w = RefusalWatch::new(RefusalRule::default());
        for i in 0..10 {
            w.record("gh", SIG, at(i));
        }
        // Ten minutes later the first ten are gone: ten more are not 20.
        for i in 0..10 {
            assert_eq!(w.record("gh", SIG, at(700 + i)), None);
        }
        for i in 0..10 {
            w.record("gh", SIG, at(720 + i));
        }
        // Crossed at the 20th in the window; then accepted ones bring the
        // share down, and a new run of refusals crosses again.
        for i in 0..10 {
            w.record("gh", None, at(800 + i));
        }
        let again = (0..200).find_map(|i| w.record("gh", SIG, at(820 + i)));
        assert!(again.is_some());
    }

    #[test]
    fn memory_is_bounded_by_the_number_of_sources() {
        let w = RefusalWatch::new(RefusalRule::default());
        for i in 0..(MAX_SOURCES + 10) {
            w.record(&format!("s{i}"), None, at(i as i64));
        }
        assert_eq!(w.sources.lock().unwrap().len(), MAX_SOURCES);
    }
}
