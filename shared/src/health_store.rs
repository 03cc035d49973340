//! [`EndpointHealth`] on the DynamoDB state table, and the SNS notifier.
//!
//! The sender asks "are this endpoint's jobs parked?" for every job; the
//! answer (the whole health item) is cached for a few seconds per endpoint,
//! so a healthy endpoint costs one read per cache period. Successes are
//! counted in memory per sender instance and added to the item's counters
//! with one atomic `ADD` at most every `flush_every` (60 s), or together
//! with the next write the instance makes anyway (a failure, a state
//! change): the failure-rate rule sees them without a write per success.

use crate::clock::Clock;
use crate::health::{
    Change, Disabled, EndpointHealth, HOUR, HealthState, Notifier, Outcome, ParkError, ParkRequest,
    Parking, Rules,
};
use crate::job::DeliveryJob;
use crate::ops_event::OpsEvent;
use crate::queue::{MAX_BATCH, OutgoingMessage, Queue};
use crate::state_table::{ParkWhile, StateTable};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

pub use crate::attributes::REPLAY_SEQ;

/// Parked jobs are kept this long (SQS's own maximum retention).
pub const PARKED_RETENTION: Duration = Duration::from_secs(14 * 86_400);

/// How long a sender instance uses an endpoint's state before reading it
/// again (one read per endpoint per period on the delivery path). An
/// enable waits longer than this before it replays, so that no sender
/// still delivers new jobs ahead of the backlog.
pub const STATE_CACHE_TTL: Duration = Duration::from_secs(5);

/// Successes counted by this instance and not yet added to the table.
struct Pending {
    since: OffsetDateTime,
    /// Per hour (unix time / 3600).
    counts: BTreeMap<i64, u32>,
}

pub struct DynamoHealth {
    table: StateTable,
    clock: Arc<dyn Clock>,
    cache_ttl: Duration,
    flush_every: Duration,
    cache: Mutex<HashMap<String, (Instant, HealthState)>>,
    pending: Mutex<HashMap<String, Pending>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Entries are replaced whole, so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DynamoHealth {
    pub fn new(table: StateTable, clock: Arc<dyn Clock>) -> Self {
        Self {
            table,
            clock,
            cache_ttl: STATE_CACHE_TTL,
            flush_every: Duration::from_secs(60),
            cache: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// How long successes may wait in memory before they are added to the
    /// table (by the clock given to [`new`](Self::new)).
    pub fn with_flush_every(mut self, every: Duration) -> Self {
        self.flush_every = every;
        self
    }

    fn cached(&self, endpoint: &str) -> Option<HealthState> {
        lock(&self.cache)
            .get(endpoint)
            .filter(|(at, _)| at.elapsed() < self.cache_ttl)
            .map(|(_, s)| s.clone())
    }

    fn remember(&self, endpoint: &str, state: HealthState) {
        lock(&self.cache).insert(endpoint.to_string(), (Instant::now(), state));
    }

    async fn current(&self, endpoint: &str) -> Result<HealthState, String> {
        if let Some(s) = self.cached(endpoint) {
            return Ok(s);
        }
        self.fresh(endpoint).await
    }

    async fn fresh(&self, endpoint: &str) -> Result<HealthState, String> {
        let (state, _) = self.table.load(endpoint).await?;
        self.remember(endpoint, state.clone());
        Ok(state)
    }

    fn count_success(&self, endpoint: &str, now: OffsetDateTime) {
        let mut pending = lock(&self.pending);
        let p = pending.entry(endpoint.to_string()).or_insert(Pending {
            since: now,
            counts: BTreeMap::new(),
        });
        let slot = p
            .counts
            .entry(now.unix_timestamp().div_euclid(HOUR))
            .or_insert(0);
        *slot = slot.saturating_add(1);
    }

    fn flush_due(&self, endpoint: &str, now: OffsetDateTime) -> bool {
        lock(&self.pending)
            .get(endpoint)
            .is_some_and(|p| now - p.since >= self.flush_every)
    }

    fn take_pending(&self, endpoint: &str) -> BTreeMap<i64, u32> {
        lock(&self.pending)
            .remove(endpoint)
            .map(|p| p.counts)
            .unwrap_or_default()
    }

    /// Puts back counts whose write failed, so they go with the next one.
    fn restore_pending(&self, endpoint: &str, counts: BTreeMap<i64, u32>, now: OffsetDateTime) {
        if counts.is_empty() {
            return;
        }
        let mut pending = lock(&self.pending);
        let p = pending.entry(endpoint.to_string()).or_insert(Pending {
            since: now,
            counts: BTreeMap::new(),
        });
        for (h, c) in counts {
            let slot = p.counts.entry(h).or_insert(0);
            *slot = slot.saturating_add(c);
        }
    }

    /// Adds this instance's counted successes to the table now.
    pub async fn flush(&self, endpoint: &str) -> Result<(), String> {
        let counts = self.take_pending(endpoint);
        if let Err(e) = self.table.add_successes(endpoint, &counts).await {
            self.restore_pending(endpoint, counts, self.clock.now());
            return Err(e);
        }
        Ok(())
    }
}

#[async_trait]
impl EndpointHealth for DynamoHealth {
    async fn parking(&self, endpoint: &str) -> Result<Parking, String> {
        Ok(self.current(endpoint).await?.parking())
    }

    async fn record(
        &self,
        endpoint: &str,
        outcome: Outcome,
        status: &str,
        rules: &Rules,
    ) -> Result<Option<Disabled>, String> {
        let now = self.clock.now();
        if outcome == Outcome::Success {
            self.count_success(endpoint, now);
            // A success that changes no state costs no write: it waits in
            // memory until a flush is due.
            let mut probe = self.current(endpoint).await?;
            if probe.record(outcome, status, now, rules) == Change::None {
                if self.flush_due(endpoint, now) {
                    self.flush(endpoint).await?;
                }
                return Ok(None);
            }
        }
        // A write is needed anyway: the counted successes go with it, and the
        // rules below see them.
        let counts = self.take_pending(endpoint);
        let written = self
            .table
            .update_counting(endpoint, &counts, |state| {
                let change = state.record(outcome, status, now, rules);
                (change != Change::None, change)
            })
            .await;
        match written {
            Ok((state, change)) => {
                self.remember(endpoint, state);
                Ok(match change {
                    Change::Disabled(d) => Some(d),
                    _ => None,
                })
            }
            Err(e) => {
                self.restore_pending(endpoint, counts, now);
                Err(e)
            }
        }
    }

    async fn park(&self, job: ParkRequest<'_>) -> Result<bool, ParkError> {
        let expires = self.clock.now() + PARKED_RETENTION;
        let mut state = self
            .current(job.endpoint)
            .await
            .map_err(ParkError::Unavailable)?;
        // The replays finished as of the state this decision started from:
        // a job parked because the caller sees the endpoint switched off
        // must not be parked behind a replay that finished after that.
        let decided = state.enables;
        // Every park is conditional on what it was decided from still
        // holding (the cached state may be seconds old); when it does not,
        // the state is read again and the decision made again.
        for _ in 0..3 {
            let while_ = match state.parking() {
                Parking::Disabled(_) | Parking::Replaying => ParkWhile::Parking,
                Parking::No if job.always => {
                    if state.enables != decided {
                        return Err(ParkError::EnabledMeanwhile);
                    }
                    ParkWhile::SwitchedOff { enables: decided }
                }
                Parking::No => return Ok(false),
            };
            if self
                .table
                .park_if(
                    job.endpoint,
                    job.job_id,
                    job.body,
                    job.created_at,
                    expires,
                    while_,
                )
                .await?
            {
                return Ok(true);
            }
            state = self
                .fresh(job.endpoint)
                .await
                .map_err(ParkError::Unavailable)?;
        }
        Err(ParkError::Unavailable(format!(
            "the state of {} keeps changing",
            job.endpoint
        )))
    }
}

/// Publishes disable notices to an SNS topic (subscribe an e-mail address,
/// a chat webhook or a queue to it).
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// Publishes operational events ([`crate::ops_event`]) on the notice
/// topic: the JSON event as the message, a subject for e-mail subscribers,
/// and message attributes subscription filter policies can match: `type`,
/// and `endpoint` or `source`.
#[async_trait]
impl Notifier for SnsNotifier {
    async fn publish(&self, event: &OpsEvent) -> Result<(), String> {
        let attribute = |value: &str| {
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| e.to_string())
        };
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(event.subject())
            .message(event.to_json())
            .message_attributes("type", attribute(event.event_type())?);
        if let Some((name, value)) = event.subject_name() {
            publish = publish.message_attributes(name, attribute(value)?);
        }
        publish
            .send()
            .await
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(&e).to_string())?;
        Ok(())
    }
}

/// Puts an endpoint's parked jobs back on the outbound queue, in the order
/// they were created, deleting each page only after the queue accepted it.
/// Returns how many were replayed.
pub async fn replay_parked(
    table: &StateTable,
    endpoint: &str,
    outbound: &dyn Queue,
) -> Result<usize, String> {
    let mut replayed = 0;
    // Sequence numbers sort by replay run, then position. A run is unique
    // (nanoseconds), so a job parked again and replayed again soon after
    // gets a new FIFO deduplication id.
    let run = table.now().unix_timestamp_nanos().max(0);
    loop {
        let page = table.parked(endpoint, MAX_BATCH as i32).await?;
        if page.is_empty() {
            return Ok(replayed);
        }
        let messages: Vec<OutgoingMessage> = page
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let event_type = serde_json::from_str::<DeliveryJob>(&p.body)
                    .map(|j| j.event_type)
                    .unwrap_or_default();
                let mut m = OutgoingMessage::new(p.body.clone())
                    .attribute(crate::job::ATTR_ENDPOINT, endpoint)
                    .attribute(crate::job::ATTR_EVENT_TYPE, event_type)
                    .attribute(REPLAY_SEQ, format!("{run:020}.{:09}", replayed + i));
                // FIFO: one ordered group per endpoint; a fresh deduplication
                // id, because the original send may be inside the 5-minute window.
                m.group_id = Some(endpoint.to_string());
                m.dedup_id = Some(format!("{}.{run}", p.job_id));
                m
            })
            .collect();
        let results = outbound
            .send_batch(messages)
            .await
            .map_err(|e| e.to_string())?;
        // Only a prefix that was accepted in full is deleted, so order holds.
        let accepted = results.iter().take_while(|r| r.is_ok()).count();
        let sks: Vec<String> = page.iter().take(accepted).map(|p| p.sk.clone()).collect();
        table.delete_parked(endpoint, &sks).await?;
        replayed += accepted;
        if accepted < page.len() {
            let e = results
                .into_iter()
                .find_map(Result::err)
                .map(|e| e.to_string())
                .unwrap_or_default();
            return Err(format!(
                "replayed {replayed}, then the queue refused one: {e}"
            ));
        }
    }
}

/// First step of an enable: clears the disable into the replaying state,
/// in which senders keep parking new jobs. Returns whether it was disabled.
pub async fn begin_replay(
    table: &StateTable,
    endpoint: &str,
    now: OffsetDateTime,
) -> Result<bool, String> {
    let (_, was_disabled) = table
        .update(endpoint, |s| {
            let was = s.begin_replay(now);
            (true, was)
        })
        .await?;
    Ok(was_disabled)
}

/// How many times the replay tries to end exactly (nothing parked behind
/// it) before it closes the gate first and replays what is left after.
const EXACT_FINISH_ROUNDS: usize = 5;

/// Second step: waits `settle` (the senders' state cache period, so none
/// still treats the endpoint as disabled), replays the parked jobs, and
/// ends the replaying state only when no job was parked behind the replay
/// in the meantime (the final write is conditional on the item's counter
/// revision, which every such park bumps); otherwise it replays again.
///
/// On an endpoint that receives jobs faster than the replay can move them,
/// that could go on for ever: after a few rounds the state is ended first
/// and what was parked until then is replayed after; senders stop parking
/// at once (their conditional parks fail), so nothing is left behind, but
/// the jobs of those last milliseconds may be delivered out of order.
pub async fn finish_replay(
    table: &StateTable,
    endpoint: &str,
    outbound: &dyn Queue,
    settle: Duration,
) -> Result<(usize, Option<Disabled>), String> {
    tokio::time::sleep(settle).await;
    let mut replayed = 0;
    for _ in 0..EXACT_FINISH_ROUNDS {
        replayed += replay_parked(table, endpoint, outbound).await?;
        let loaded = table.load_full(endpoint).await?;
        match loaded.state.parking() {
            Parking::Disabled(d) => return Ok((replayed, Some(d))),
            Parking::No => return Ok((replayed, None)),
            Parking::Replaying => {}
        }
        // Parked after the pass above but before `loaded` was read: another pass.
        if !table.parked(endpoint, 1).await?.is_empty() {
            continue;
        }
        let mut state = loaded.state.clone();
        state.finish_replay();
        if table
            .save_if_nothing_parked(endpoint, &state, &loaded)
            .await?
        {
            return Ok((replayed, None));
        }
    }
    let (state, _) = table
        .update(endpoint, |s| {
            let replaying = s.replaying_since.is_some();
            s.finish_replay();
            (replaying, ())
        })
        .await?;
    replayed += replay_parked(table, endpoint, outbound).await?;
    Ok((replayed, state.disabled))
}

/// Manual disable: the same state and parking as an automatic one. Returns
/// the disable when this call made it (not when it was already disabled).
pub async fn disable(
    table: &StateTable,
    endpoint: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Option<Disabled>, String> {
    let (state, changed) = table
        .update(endpoint, |s| {
            let changed = s.disable(reason, now);
            (changed, changed)
        })
        .await?;
    Ok(if changed { state.disabled } else { None })
}

/// Manual disable that also sends the notice an automatic one sends.
/// Returns whether it disabled the endpoint; a notice that cannot be sent
/// is reported as `Err` after the disable took effect.
pub async fn disable_and_notify(
    table: &StateTable,
    notifier: &dyn Notifier,
    endpoint: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<bool, String> {
    match disable(table, endpoint, reason, now).await? {
        Some(d) => {
            notifier
                .endpoint_disabled(endpoint, &d)
                .await
                .map_err(|e| format!("{endpoint} is disabled, but the notice failed: {e}"))?;
            Ok(true)
        }
        None => Ok(false),
    }
}
