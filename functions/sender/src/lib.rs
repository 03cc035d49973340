//! The sender: SQS batch of delivery jobs → signed HTTP POSTs → a verdict
//! per record (delete, or retry later by moving its visibility timeout).
//!
//! [`Sender::handle`] is a plain async function over ports: the endpoint
//! configuration cache (Secrets Manager), the HTTP [`Transport`], the
//! outbound queue's [`MessageControl`] (visibility changes), the dead-letter
//! [`Queue`], and [`EndpointHealth`] (state table, parking). `main.rs` only
//! wires the real clients.
//!
//! Per record, in order: parse the job; load its endpoint; park it if the
//! endpoint is disabled (or replaying its parked jobs, which new jobs must
//! not overtake); sign and POST (records for `batch` endpoints are
//! grouped into one array body); then, on failure, either move the
//! message's visibility to the next delay of the endpoint's schedule and
//! report it in `batchItemFailures`, or, when the schedule is exhausted or
//! the job can never succeed, move it to the DLQ with the reason and let
//! the original go. Nothing is deleted before it is delivered, parked, or
//! safely in the DLQ.
//!
//! The attempt number that picks the next delay is the count of real
//! failed attempts ([`AttemptLog`], in the state table), not the message's
//! receive count: receives also happen without an attempt (records held
//! behind a failing one in an ordered group, infrastructure retries).

mod deliver;
mod settings;

pub use settings::Settings;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use deliver::{AttemptResult, Unit};
use futures::StreamExt;
use hookrelay_shared::attempts::{AttemptLog, DynamoAttempts, ReceiveCountOnly};
use hookrelay_shared::clock::{Clock, SystemClock};
use hookrelay_shared::endpoint::{Endpoint, secret_name, valid_endpoint_name};
use hookrelay_shared::health::{
    Disabled, EndpointHealth, LogNotifier, NoHealthTracking, Notifier, Outcome, ParkError,
    ParkRequest, Parking,
};
use hookrelay_shared::health_store::{DynamoHealth, SnsNotifier};
use hookrelay_shared::job::DeliveryJob;
use hookrelay_shared::outbound::{ReqwestTransport, Transport};
use hookrelay_shared::queue::{MessageControl, OutgoingMessage, Queue, SqsQueue};
use hookrelay_shared::retry::{bounded_retry_after, infra_retry_delay};
use hookrelay_shared::secrets::{CacheError, ConfigCache, SecretsManager};
use hookrelay_shared::state_table::StateTable;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// DLQ message attributes (SQS attribute names allow letters, digits, `-`, `_`, `.`).
pub const DLQ_REASON: &str = "hookrelay-reason";
pub const DLQ_LAST_STATUS: &str = "hookrelay-last-status";
pub const DLQ_ATTEMPTS: &str = "hookrelay-attempts";
pub const DLQ_ENDPOINT: &str = "hookrelay-endpoint";
pub const DLQ_ERROR: &str = "hookrelay-error";
pub const DLQ_SOURCE_QUEUE: &str = "hookrelay-source-queue";
pub use hookrelay_shared::health_store::REPLAY_SEQ;

/// Why a job was moved to the dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadReason {
    RetriesExhausted,
    Gone,
    UnknownEndpoint,
    InvalidJob,
    CannotSign,
    EndpointDisabled,
}

impl DeadReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::RetriesExhausted => "retries-exhausted",
            DeadReason::Gone => "gone",
            DeadReason::UnknownEndpoint => "unknown-endpoint",
            DeadReason::InvalidJob => "invalid-job",
            DeadReason::CannotSign => "cannot-sign",
            DeadReason::EndpointDisabled => "endpoint-disabled",
        }
    }
}

/// What happens to a record after this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Delivered, parked or dead-lettered: let the event source delete it.
    Delete,
    /// Report as failed; move its next appearance to `after` (or leave the
    /// queue's visibility timeout when `None`).
    Retry(Option<Duration>),
}

/// Spread of the waits after infrastructure failures (Secrets Manager, the
/// state table or the DLQ unavailable), so instances do not all come back
/// at the same moment when it recovers.
const INFRA_JITTER: f64 = 0.2;

/// One SQS record and what we know of it.
struct Record<'a> {
    msg: &'a SqsMessage,
    id: &'a str,
    receipt: &'a str,
    body: &'a str,
    /// `ApproximateReceiveCount`: an upper bound of the attempts so far.
    receives: u32,
}

/// A record ready to deliver.
pub(crate) struct Ready<'a> {
    rec: Record<'a>,
    job: DeliveryJob,
    endpoint: Arc<Endpoint>,
}

pub struct Sender {
    endpoints: ConfigCache<Endpoint>,
    transport: Arc<dyn Transport>,
    outbound: Arc<dyn MessageControl>,
    dlq: Arc<dyn Queue>,
    health: Arc<dyn EndpointHealth>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    attempts: Arc<dyn AttemptLog>,
    jitter: Box<dyn Fn() -> f64 + Send + Sync>,
    settings: Settings,
}

/// The ports a [`Sender`] talks to.
pub struct Ports {
    pub secrets: Arc<dyn hookrelay_shared::secrets::SecretSource>,
    pub transport: Arc<dyn Transport>,
    pub outbound: Arc<dyn MessageControl>,
    pub dlq: Arc<dyn Queue>,
    pub health: Arc<dyn EndpointHealth>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
}

impl Sender {
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            endpoints: ConfigCache::new(ports.secrets, Arc::clone(&ports.clock), settings.cache),
            transport: ports.transport,
            outbound: ports.outbound,
            dlq: ports.dlq,
            health: ports.health,
            notifier: ports.notifier,
            clock: ports.clock,
            attempts: Arc::new(ReceiveCountOnly),
            jitter: Box::new(|| fastrand::f64() * 2.0 - 1.0),
            settings,
        }
    }

    /// Counts real attempts there (the state table) instead of using the
    /// receive count.
    pub fn with_attempt_log(mut self, log: Arc<dyn AttemptLog>) -> Self {
        self.attempts = log;
        self
    }

    /// Fixes the jitter draw (in [-1, 1]); tests use it for exact schedules.
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.jitter = Box::new(jitter);
        self
    }

    /// Production wiring from an SDK configuration.
    pub async fn from_config(
        config: &aws_config::SdkConfig,
        dlq_url: String,
        settings: Settings,
    ) -> Result<Self, String> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let attempts: Arc<dyn AttemptLog> = match &settings.state_table {
            Some(table) => Arc::new(DynamoAttempts::new(
                StateTable::new(aws_sdk_dynamodb::Client::new(config), table.clone()),
                Arc::new(SystemClock),
            )),
            None => Arc::new(ReceiveCountOnly),
        };
        let ports = Ports {
            secrets: Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
                config,
            ))),
            transport: Arc::new(ReqwestTransport::new(settings.network.clone())?),
            outbound: Arc::new(SqsQueue::new(
                sqs.clone(),
                settings.source_queue_url.clone(),
            )),
            dlq: Arc::new(SqsQueue::new(sqs, dlq_url)),
            health: match &settings.state_table {
                Some(table) => Arc::new(DynamoHealth::new(
                    StateTable::new(aws_sdk_dynamodb::Client::new(config), table.clone()),
                    Arc::new(SystemClock),
                )),
                None => Arc::new(NoHealthTracking),
            },
            notifier: match &settings.notify_topic_arn {
                Some(arn) => Arc::new(SnsNotifier::new(
                    aws_sdk_sns::Client::new(config),
                    arn.clone(),
                )),
                None => Arc::new(LogNotifier),
            },
            clock: Arc::new(SystemClock),
        };
        Ok(Self::new(ports, settings).with_attempt_log(attempts))
    }

    /// Handles one batch. Never fails as a whole: every record gets its own verdict.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        // Records whose order matters (FIFO queues, replays of parked jobs)
        // go one after the other per group; everything else concurrently.
        let (ordered, free): (Vec<&SqsMessage>, Vec<&SqsMessage>) =
            event.records.iter().partition(|r| {
                r.attributes.contains_key("MessageGroupId")
                    || r.message_attributes.contains_key(REPLAY_SEQ)
            });
        let (mut verdicts, rest) =
            futures::join!(self.handle_ordered(ordered), self.handle_standard(free));
        verdicts.extend(rest);
        let mut response = SqsBatchResponse::default();
        for (id, verdict) in verdicts {
            if let Verdict::Retry(_) = verdict {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                response.batch_item_failures.push(f);
            }
        }
        response
    }

    /// Ordered records: FIFO message groups (one per endpoint) and replays of
    /// parked jobs (grouped by endpoint, sorted by their replay sequence).
    /// A group is handled in order, and once one record must be retried, the
    /// rest of its group is returned unprocessed, as Lambda requires for
    /// ordered partial batches. Groups run concurrently. Those records were
    /// received but not attempted: nothing counts that as an attempt.
    async fn handle_ordered(&self, records: Vec<&SqsMessage>) -> Vec<(String, Verdict)> {
        let attr = |r: &SqsMessage, k: &str| {
            r.message_attributes
                .get(k)
                .and_then(|a| a.string_value.clone())
        };
        let mut groups: Vec<(String, Vec<&SqsMessage>)> = Vec::new();
        for r in records {
            let g = r
                .attributes
                .get("MessageGroupId")
                .cloned()
                .or_else(|| attr(r, hookrelay_shared::job::ATTR_ENDPOINT))
                .unwrap_or_default();
            match groups.iter_mut().find(|(k, _)| *k == g) {
                Some((_, v)) => v.push(r),
                None => groups.push((g, vec![r])),
            }
        }
        for (_, v) in &mut groups {
            // Stable: FIFO records keep the order SQS gave them.
            v.sort_by_key(|r| attr(r, REPLAY_SEQ).unwrap_or_default());
        }
        let work: Vec<_> = groups
            .into_iter()
            .map(|(_, records)| self.handle_group(records))
            .collect();
        let done: Vec<Vec<(String, Verdict)>> = futures::stream::iter(work)
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        done.into_iter().flatten().collect()
    }

    async fn handle_group(&self, records: Vec<&SqsMessage>) -> Vec<(String, Verdict)> {
        let mut out = Vec::with_capacity(records.len());
        let mut blocked = false;
        for msg in records {
            let id = msg.message_id.clone().unwrap_or_default();
            if blocked {
                out.push((id, Verdict::Retry(None)));
                continue;
            }
            let verdict = match self.prepare(msg).await {
                Err(v) => v,
                Ok(ready) => {
                    let endpoint = Arc::clone(&ready.endpoint);
                    let unit = Unit {
                        records: vec![ready],
                        endpoint,
                    };
                    self.deliver_unit(unit)
                        .await
                        .pop()
                        .map(|(_, v)| v)
                        .unwrap_or(Verdict::Retry(None))
                }
            };
            blocked = matches!(verdict, Verdict::Retry(_));
            out.push((id, verdict));
        }
        out
    }

    async fn handle_standard(&self, records: Vec<&SqsMessage>) -> Vec<(String, Verdict)> {
        // Phase 1: parse jobs and load endpoints (cached), concurrently.
        // Futures are made first and then driven with bounded concurrency: a
        // closure inside the stream would make the handler's future lose `Send`.
        let preparing: Vec<_> = records
            .into_iter()
            .map(|msg| self.prepare_keyed(msg))
            .collect();
        let prepared: Vec<(String, Result<Ready<'_>, Verdict>)> = futures::stream::iter(preparing)
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;

        let mut verdicts: Vec<(String, Verdict)> = Vec::new();
        let mut ready = Vec::new();
        for (id, p) in prepared {
            match p {
                Ok(r) => ready.push(r),
                Err(v) => verdicts.push((id, v)),
            }
        }
        // Phase 2: deliveries, one HTTP request per unit, bounded concurrency.
        let units = deliver::units(ready);
        let delivering: Vec<_> = units
            .into_iter()
            .map(|unit| self.deliver_unit(unit))
            .collect();
        let delivered: Vec<Vec<(String, Verdict)>> = futures::stream::iter(delivering)
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        verdicts.extend(delivered.into_iter().flatten());
        verdicts
    }

    async fn prepare_keyed<'a>(&self, msg: &'a SqsMessage) -> (String, Result<Ready<'a>, Verdict>) {
        (
            msg.message_id.clone().unwrap_or_default(),
            self.prepare(msg).await,
        )
    }

    async fn prepare<'a>(&self, msg: &'a SqsMessage) -> Result<Ready<'a>, Verdict> {
        let (Some(id), Some(receipt)) = (msg.message_id.as_deref(), msg.receipt_handle.as_deref())
        else {
            tracing::error!("record without message id or receipt handle");
            return Err(Verdict::Retry(None));
        };
        let receives = msg
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1);
        let rec = Record {
            msg,
            id,
            receipt,
            body: msg.body.as_deref().unwrap_or(""),
            receives,
        };

        let job: DeliveryJob = match serde_json::from_str(rec.body) {
            Ok(j) => j,
            Err(e) => {
                return Err(self
                    .dead_letter(
                        &rec,
                        "",
                        DeadReason::InvalidJob,
                        "-",
                        &format!("not a delivery job: {e}"),
                    )
                    .await);
            }
        };
        if !valid_endpoint_name(&job.endpoint) {
            let reason = format!("invalid endpoint name {:?}", job.endpoint);
            return Err(self
                .dead_letter(
                    &rec,
                    &job.endpoint,
                    DeadReason::UnknownEndpoint,
                    "-",
                    &reason,
                )
                .await);
        }
        let secret = secret_name(&self.settings.secrets_prefix, &job.endpoint);
        let endpoint = match self.endpoints.get(&secret).await {
            Ok(Some(e)) => e,
            Ok(None) => {
                let reason = format!("no endpoint configuration at {secret}");
                return Err(self
                    .dead_letter(
                        &rec,
                        &job.endpoint,
                        DeadReason::UnknownEndpoint,
                        "-",
                        &reason,
                    )
                    .await);
            }
            Err(CacheError::Unavailable(e)) => {
                tracing::error!(job_id = job.id, endpoint = job.endpoint, error = %e, "endpoint configuration unavailable; will retry");
                return Err(self.infra_retry(&rec).await);
            }
            Err(CacheError::Invalid { reason, .. }) => {
                // Counts as a failed attempt: fixing the configuration within
                // the schedule lets the job through. The reason names fields,
                // never values (`config_error`).
                let attempt = self.count_failure(&rec).await;
                tracing::error!(
                    job_id = job.id,
                    endpoint = job.endpoint,
                    attempt,
                    reason,
                    "endpoint configuration invalid"
                );
                let schedule = hookrelay_shared::retry::RetrySchedule::default();
                return Err(match schedule.delay_after(attempt, (self.jitter)()) {
                    Some(d) => self.retry(&rec, Some(d)).await,
                    None => {
                        self.dead_letter_after(
                            &rec,
                            attempt,
                            &job.endpoint,
                            DeadReason::RetriesExhausted,
                            "config-invalid",
                            &reason,
                        )
                        .await
                    }
                });
            }
        };
        let mut endpoint = endpoint;
        if !endpoint.config.enabled
            && let Ok(Some(Some(fresh))) = self.endpoints.refresh(&secret).await
        {
            // Switched off in the cached configuration: `endpoints enable`
            // may have switched it on since, so look again (at most every
            // 30 s per endpoint) rather than park for a whole cache TTL.
            endpoint = fresh;
        }
        if job.subscription_unchecked && !endpoint.subscribed(&job.event_type, job.payload.get()) {
            // Fanned out while the configuration was invalid; now it says
            // this endpoint does not want the event.
            tracing::info!(
                job_id = job.id,
                endpoint = job.endpoint,
                event_type = job.event_type,
                "job dropped: the endpoint is not subscribed to this event"
            );
            return Err(Verdict::Delete);
        }
        let switched_off = !endpoint.config.enabled;
        let replayed = msg.message_attributes.contains_key(REPLAY_SEQ);
        let parking = match self.health.parking(&job.endpoint).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(
                    endpoint = job.endpoint,
                    error = e,
                    "endpoint state unavailable; will retry"
                );
                return Err(self.infra_retry(&rec).await);
            }
        };
        let why = match parking {
            Parking::Disabled(d) => Some(d.reason),
            // New jobs wait behind the parked ones being replayed.
            Parking::Replaying if !replayed => Some("replaying its parked jobs".to_string()),
            _ if switched_off => Some("disabled in its configuration".to_string()),
            _ => None,
        };
        if let Some(why) = why
            && let Some(verdict) = self.park(&rec, &job, &why, switched_off).await
        {
            return Err(verdict);
        }
        Ok(Ready { rec, job, endpoint })
    }

    async fn deliver_unit(&self, unit: Unit<'_>) -> Vec<(String, Verdict)> {
        let now = self.clock.now();
        let results = deliver::attempt(&*self.transport, &unit, now).await;
        let mut out = Vec::with_capacity(results.len());
        for (ready, result) in unit.records.iter().zip(results) {
            let verdict = self.after_attempt(ready, result).await;
            out.push((ready.rec.id.to_string(), verdict));
        }
        out
    }

    async fn after_attempt(&self, r: &Ready<'_>, result: AttemptResult) -> Verdict {
        let rules = r
            .endpoint
            .config
            .health
            .as_ref()
            .map(|h| h.over(&self.settings.rules))
            .unwrap_or(self.settings.rules);
        let endpoint = r.job.endpoint.as_str();
        match result {
            AttemptResult::Delivered { status } => {
                if let Err(e) = self
                    .health
                    .record(endpoint, Outcome::Success, &status.to_string(), &rules)
                    .await
                {
                    tracing::warn!(endpoint, error = e, "could not record a success");
                }
                Verdict::Delete
            }
            AttemptResult::CannotSign { error } => {
                // Our configuration's fault, not the endpoint's: no retries,
                // and nothing recorded against its health.
                self.dead_letter(
                    &r.rec,
                    endpoint,
                    DeadReason::CannotSign,
                    "cannot-sign",
                    &error,
                )
                .await
            }
            AttemptResult::Failed {
                status,
                retry_after,
                gone,
                error,
            } => {
                let attempt = self.count_failure(&r.rec).await;
                let outcome = if gone {
                    Outcome::Gone
                } else {
                    Outcome::Failure
                };
                let disabled = match self.health.record(endpoint, outcome, &status, &rules).await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::warn!(endpoint, error = e, "could not record a failure");
                        None
                    }
                };
                if let Some(d) = &disabled {
                    self.announce(endpoint, d).await;
                }
                if gone {
                    return self
                        .dead_letter_after(
                            &r.rec,
                            attempt,
                            endpoint,
                            DeadReason::Gone,
                            &status,
                            &error,
                        )
                        .await;
                }
                if let Some(d) = disabled
                    && let Some(verdict) = self.park(&r.rec, &r.job, &d.reason, false).await
                {
                    // This failure disabled the endpoint: keep the job for the replay.
                    return verdict;
                }
                let scheduled = r.endpoint.schedule.delay_after(attempt, (self.jitter)());
                match scheduled {
                    Some(delay) => {
                        let delay = retry_after.map(bounded_retry_after).unwrap_or(delay);
                        tracing::info!(
                            job_id = r.job.id,
                            endpoint,
                            attempt,
                            max_attempts = r.endpoint.schedule.max_attempts(),
                            delay_secs = delay.as_secs(),
                            "retry scheduled"
                        );
                        self.retry(&r.rec, Some(delay)).await
                    }
                    None => {
                        self.dead_letter_after(
                            &r.rec,
                            attempt,
                            endpoint,
                            DeadReason::RetriesExhausted,
                            &status,
                            &error,
                        )
                        .await
                    }
                }
            }
        }
    }

    async fn announce(&self, endpoint: &str, d: &Disabled) {
        tracing::warn!(endpoint, trigger = ?d.trigger, reason = d.reason, "endpoint disabled");
        if let Err(e) = self.notifier.endpoint_disabled(endpoint, d).await {
            tracing::error!(endpoint, error = e, "could not send the disable notice");
        }
    }

    /// Counts a failed attempt of the record and returns its number. Falls
    /// back to the receive count (never lower than the real count, so a
    /// schedule can be cut short but never run past its end).
    async fn count_failure(&self, rec: &Record<'_>) -> u32 {
        match self.attempts.failed(rec.id).await {
            // Bounded by the receives: a retried ADD must not end a schedule early.
            Ok(Some(n)) => n.clamp(1, rec.receives),
            Ok(None) => rec.receives,
            Err(e) => {
                tracing::warn!(
                    message_id = rec.id,
                    error = e,
                    "could not count the attempt; using the receive count"
                );
                rec.receives
            }
        }
    }

    /// After a failure that is not the endpoint's: back off with the
    /// receive count, so an outage spends few of the message's receives.
    async fn infra_retry(&self, rec: &Record<'_>) -> Verdict {
        let delay = infra_retry_delay(rec.receives, INFRA_JITTER, (self.jitter)());
        self.retry(rec, Some(delay)).await
    }

    /// Moves the record's next appearance and reports it as failed.
    async fn retry(&self, rec: &Record<'_>, after: Option<Duration>) -> Verdict {
        if let Some(d) = after {
            let secs = i32::try_from(d.as_secs()).unwrap_or(i32::MAX);
            if let Err(e) = self.outbound.change_visibility(rec.receipt, secs).await {
                // The message still comes back, after the queue's own visibility timeout.
                tracing::warn!(message_id = rec.id, error = %e, "could not change visibility");
            }
        }
        Verdict::Retry(after)
    }

    /// Keeps a job of a disabled (or replaying) endpoint for replay, keyed
    /// by the job's creation time so the replay restores that order; falls
    /// back to the DLQ. `None`: not parked because the endpoint delivers
    /// again (deliver the job). `always`: switched off in its configuration.
    async fn park(
        &self,
        rec: &Record<'_>,
        job: &DeliveryJob,
        why: &str,
        always: bool,
    ) -> Option<Verdict> {
        let request = ParkRequest {
            endpoint: &job.endpoint,
            job_id: &job.id,
            body: rec.body,
            created_at: job.created_at,
            always,
        };
        match self.health.park(request).await {
            Ok(true) => {
                tracing::info!(
                    job_id = job.id,
                    endpoint = job.endpoint,
                    reason = why,
                    "job parked: endpoint disabled"
                );
                Some(Verdict::Delete)
            }
            Ok(false) => None,
            Err(e) => {
                let error = match &e {
                    ParkError::TooLarge { .. } => format!("{why}; cannot be parked: {e}"),
                    _ => format!("{why}; not parked: {e}"),
                };
                Some(
                    self.dead_letter(
                        rec,
                        &job.endpoint,
                        DeadReason::EndpointDisabled,
                        "-",
                        &error,
                    )
                    .await,
                )
            }
        }
    }

    /// Moves the original job body to the DLQ with the reason; the original
    /// is deleted only once the DLQ accepted the copy. For jobs that were
    /// not attempted here the receive count stands in for the attempts.
    async fn dead_letter(
        &self,
        rec: &Record<'_>,
        endpoint: &str,
        reason: DeadReason,
        status: &str,
        error: &str,
    ) -> Verdict {
        self.dead_letter_after(rec, rec.receives, endpoint, reason, status, error)
            .await
    }

    /// [`Sender::dead_letter`] with the number of attempts made.
    async fn dead_letter_after(
        &self,
        rec: &Record<'_>,
        attempts: u32,
        endpoint: &str,
        reason: DeadReason,
        status: &str,
        error: &str,
    ) -> Verdict {
        let mut msg = OutgoingMessage::new(rec.body.to_string())
            .attribute(DLQ_REASON, reason.as_str())
            .attribute(DLQ_LAST_STATUS, status)
            .attribute(DLQ_ATTEMPTS, attempts.to_string())
            .attribute(DLQ_ENDPOINT, endpoint)
            .attribute(DLQ_ERROR, truncate(error, 256))
            .attribute(DLQ_SOURCE_QUEUE, self.settings.source_queue_url.clone());
        // Keep the producer's own attributes (event type, ...) where they fit.
        let own: BTreeMap<&String, &str> = rec
            .msg
            .message_attributes
            .iter()
            .filter_map(|(k, v)| v.string_value.as_deref().map(|s| (k, s)))
            .collect();
        for (k, v) in own
            .into_iter()
            .take(10usize.saturating_sub(msg.attributes.len()))
        {
            if !k.starts_with("hookrelay-") {
                msg = msg.attribute(k, v);
            }
        }
        msg.dedup_id = Some(rec.id.to_string());
        msg.group_id = Some(if endpoint.is_empty() {
            "unknown".into()
        } else {
            endpoint.to_string()
        });
        match self.dlq.send(msg).await {
            Ok(_) => {
                tracing::warn!(
                    message_id = rec.id,
                    endpoint,
                    reason = reason.as_str(),
                    status,
                    attempts,
                    error,
                    "job moved to the dead-letter queue"
                );
                Verdict::Delete
            }
            Err(e) => {
                tracing::error!(message_id = rec.id, endpoint, error = %e, "could not move the job to the dead-letter queue; will retry");
                self.infra_retry(rec).await
            }
        }
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
