//! The router: an event (`{type, payload, id?}`) from the events queue
//! becomes one delivery job per subscribed endpoint on the outbound queue.
//!
//! Subscriptions live in the endpoints' own configuration (`events`
//! patterns, `filters` on the payload). Job ids are derived from the event id
//! and the endpoint, and the state table remembers which endpoints an event
//! was already fanned out to, so a retried batch never writes a job twice.
//! Each event is its own item in `batchItemFailures`: one bad event never
//! holds up the others. The jobs of all the events of a batch are written
//! together, packed into as few SendMessageBatch calls as SQS's limits (ten
//! entries, 1 MiB) allow: a batch of ten events for one endpoint costs one
//! SQS request, not ten.
//!
//! The router never decides that a job is not needed because of an
//! endpoint's state: endpoints switched off (`"enabled": false`) get their
//! jobs, which the sender parks; an endpoint whose configuration is
//! invalid (so its subscription cannot be read) gets every event, marked
//! `subscription_unchecked`, and the sender retries those until the
//! configuration is valid (then drops the ones it does not subscribe to) or
//! dead-letters them with the reason. Jobs carry the event's SQS arrival
//! time as `created_at`, the order parked jobs are replayed in.

mod settings;

pub use settings::Settings;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use hookrelay_shared::attributes::{ENDPOINT, EVENT_TYPE};
use hookrelay_shared::aws::dynamodb::state_table::StateTable;
use hookrelay_shared::aws::secrets_manager::{ConfigKind, SecretNames, SecretsManager};
use hookrelay_shared::aws::sns::SnsNotifier;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::{Clock, SystemClock};
use hookrelay_shared::dead_letter::{DeadLetter, DeadReason};
use hookrelay_shared::endpoint::Endpoint;
use hookrelay_shared::env::StartError;
use hookrelay_shared::event::Event;
use hookrelay_shared::health::{LogNotifier, Notifier};
use hookrelay_shared::job::DeliveryJob;
use hookrelay_shared::metrics::Metrics;
use hookrelay_shared::metrics::names::{
    EVENTS_DEAD_LETTERED, EVENTS_RETRIED, EVENTS_ROUTED, JOBS_WRITTEN,
};
use hookrelay_shared::ops_event::{
    DeadLetterQueue, Detail, MessageDeadLettered, OpsEvent, bounded,
};
use hookrelay_shared::queue::{MAX_BATCH_BYTES, OutgoingMessage, Queue, send_all};
use hookrelay_shared::secrets::{CacheError, ConfigCache, SecretSource};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// How long the router remembers which endpoints an event reached.
const MARKER_TTL: Duration = Duration::from_secs(86_400);

/// Which endpoints exist.
#[async_trait]
pub trait EndpointNames: Send + Sync {
    async fn names(&self) -> Result<Vec<String>, String>;
}

/// Endpoint names from Secrets Manager: the secrets under
/// `<prefix>/endpoints/`.
pub struct SecretsManagerNames {
    secrets: SecretsManager,
    under: String,
}

impl SecretsManagerNames {
    pub fn new(client: aws_sdk_secretsmanager::Client, secrets_prefix: &str) -> Self {
        Self {
            secrets: SecretsManager::new(client),
            under: SecretNames::new(secrets_prefix).under(ConfigKind::Endpoint),
        }
    }
}

#[async_trait]
impl EndpointNames for SecretsManagerNames {
    async fn names(&self) -> Result<Vec<String>, String> {
        self.secrets
            .names(&self.under)
            .await
            .map_err(|e| e.to_string())
    }
}

pub struct Router {
    names: Arc<dyn EndpointNames>,
    /// Where endpoints' configurations are.
    secret_names: SecretNames,
    names_cache: Mutex<Option<(Instant, Vec<String>)>>,
    endpoints: ConfigCache<Endpoint>,
    outbound: Arc<dyn Queue>,
    dlq: Arc<dyn Queue>,
    markers: Option<StateTable>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    metrics: Metrics,
    notifier: Arc<dyn Notifier>,
}

/// The ports a [`Router`] talks to.
pub struct Ports {
    pub names: Arc<dyn EndpointNames>,
    pub secrets: Arc<dyn SecretSource>,
    pub outbound: Arc<dyn Queue>,
    pub dlq: Arc<dyn Queue>,
    pub markers: Option<StateTable>,
    pub clock: Arc<dyn Clock>,
}

enum Fanout {
    Done,
    Retry,
}

/// Where routing one event stands before its jobs are written.
enum Plan {
    /// Nothing to write: dead-lettered, or to be retried.
    Settled(Fanout),
    Write(Pending),
}

/// An event whose jobs are ready to be written, and what became of them.
struct Pending {
    event_id: String,
    event_type: String,
    matched: usize,
    already: usize,
    expires: time::OffsetDateTime,
    /// The endpoints the jobs are for, parallel to `messages`.
    endpoints: Vec<String>,
    messages: Vec<OutgoingMessage>,
    written: Vec<String>,
    failed: bool,
}

impl Router {
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            names: ports.names,
            secret_names: SecretNames::new(&settings.secrets_prefix),
            names_cache: Mutex::new(None),
            endpoints: ConfigCache::new(ports.secrets, Arc::clone(&ports.clock), settings.cache),
            outbound: ports.outbound,
            dlq: ports.dlq,
            markers: ports.markers,
            clock: ports.clock,
            metrics: Metrics::stdout(settings.metrics_namespace.clone()),
            notifier: Arc::new(LogNotifier),
            settings,
        }
    }

    /// Publishes operational events there (`message.dead_lettered`).
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Writes the metrics there instead of standard output (tests).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Production wiring from an SDK configuration.
    pub fn from_config(
        config: &aws_config::SdkConfig,
        settings: Settings,
    ) -> Result<Self, StartError> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let sm = aws_sdk_secretsmanager::Client::new(config);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ports = Ports {
            names: Arc::new(SecretsManagerNames::new(
                sm.clone(),
                &settings.secrets_prefix,
            )),
            secrets: Arc::new(SecretsManager::new(sm)),
            outbound: Arc::new(SqsQueue::new(
                sqs.clone(),
                settings.outbound_queue_url.clone(),
            )),
            dlq: Arc::new(SqsQueue::new(sqs, settings.dlq_url.clone())),
            markers: settings.state_table.clone().map(|t| {
                StateTable::new(aws_sdk_dynamodb::Client::new(config), t)
                    .with_clock(Arc::clone(&clock))
            }),
            clock,
        };
        let notifier: Option<Arc<dyn Notifier>> = settings.notify_topic_arn.clone().map(|arn| {
            Arc::new(SnsNotifier::new(aws_sdk_sns::Client::new(config), arn)) as Arc<dyn Notifier>
        });
        let router = Self::new(ports, settings);
        Ok(match notifier {
            Some(n) => router.with_notifier(n),
            None => router,
        })
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        // Plan every event (configuration, subscriptions, fan-out marker)
        // concurrently, keeping the records' order for the jobs.
        // (The futures are collected first: a lazy `map` over borrowed
        // records trips the compiler's `Send` inference for the handler.)
        // Every log line about an event names it (the span's message id;
        // the lines themselves name the event id).
        let planning: Vec<_> = event
            .records
            .iter()
            .map(|r| {
                let id = r.message_id.as_deref().unwrap_or("");
                self.plan(r)
                    .instrument(tracing::info_span!("event", message_id = id))
            })
            .collect();
        let mut plans: Vec<Plan> = futures::stream::iter(planning)
            .buffered(self.concurrency())
            .collect()
            .await;
        // Then write the jobs of all events together: one SendMessageBatch
        // carries the jobs of up to ten events, not one call per event.
        let (keys, messages): (Vec<(usize, usize)>, Vec<OutgoingMessage>) = plans
            .iter_mut()
            .enumerate()
            .filter_map(|(p, plan)| match plan {
                Plan::Write(pending) => Some((p, std::mem::take(&mut pending.messages))),
                Plan::Settled(_) => None,
            })
            .flat_map(|(p, messages)| {
                messages
                    .into_iter()
                    .enumerate()
                    .map(move |(j, msg)| ((p, j), msg))
            })
            .unzip();
        let results = send_all(&*self.outbound, messages, self.concurrency()).await;
        for ((p, j), result) in keys.into_iter().zip(results) {
            if let Plan::Write(pending) = &mut plans[p] {
                let endpoint = pending.endpoints[j].clone();
                match result {
                    Ok(_) => pending.written.push(endpoint),
                    Err(e) => {
                        tracing::error!(event_id = pending.event_id, endpoint, error = %e, "job not written; will retry");
                        pending.failed = true;
                    }
                }
            }
        }
        let settling: Vec<_> = plans.into_iter().map(|p| self.settle(p)).collect();
        let settled: Vec<Fanout> = futures::stream::iter(settling)
            .buffered(self.concurrency())
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        for (rec, r) in event.records.iter().zip(settled) {
            if let Fanout::Retry = r {
                let mut f = BatchItemFailure::default();
                f.item_identifier = rec.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(f);
            }
        }
        self.metrics.count(
            &EVENTS_RETRIED,
            &[],
            response.batch_item_failures.len() as u64,
        );
        // Lambda may freeze the instance once the batch is answered.
        self.metrics.flush();
        response
    }

    /// Events routed (and marked) at a time; at least one.
    fn concurrency(&self) -> usize {
        self.settings.concurrency.max(1)
    }

    async fn endpoint_names(&self) -> Result<Vec<String>, String> {
        if let Some((at, names)) = self
            .names_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            && at.elapsed() < self.settings.directory_ttl
        {
            return Ok(names.clone());
        }
        let names = self.names.names().await?;
        *self.names_cache.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), names.clone()));
        Ok(names)
    }

    /// Everything about one event short of writing its jobs: which
    /// endpoints subscribe, which of them an earlier attempt already
    /// reached, and the jobs for the others.
    async fn plan(&self, rec: &SqsMessage) -> Plan {
        let body = rec.body.as_deref().unwrap_or("");
        let message_id = rec.message_id.as_deref().unwrap_or("");
        let event: Event = match serde_json::from_str(body) {
            Ok(e) => e,
            Err(e) => {
                let reason = format!("not an event: {e}");
                return Plan::Settled(self.dead_letter(message_id, None, body, &reason).await);
            }
        };
        let event_id = event.id.clone().unwrap_or_else(|| message_id.to_string());
        let names = match self.endpoint_names().await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(event_id, error = e, "cannot list endpoints; will retry");
                return Plan::Settled(Fanout::Retry);
            }
        };
        let payload = event.payload.get();
        // (endpoint, subscription unchecked)
        let mut matched: Vec<(String, bool)> = Vec::new();
        for name in names {
            match self
                .endpoints
                .get(&self.secret_names.of(ConfigKind::Endpoint, &name))
                .await
            {
                // Switched off or not: the sender parks what a switched-off endpoint gets.
                Ok(Some(ep)) if ep.subscribed(&event.event_type, payload) => {
                    matched.push((name, false))
                }
                Ok(_) => {}
                Err(CacheError::Unavailable(e)) => {
                    tracing::error!(event_id, endpoint = name, error = %e, "endpoint configuration unavailable; will retry");
                    return Plan::Settled(Fanout::Retry);
                }
                Err(CacheError::Invalid { reason, .. }) => {
                    // Its subscription cannot be read: rather than lose the
                    // event for it, hand it over and let the sender decide
                    // once the configuration is fixed.
                    tracing::error!(
                        event_id,
                        endpoint = name,
                        reason,
                        "endpoint configuration invalid; job written with its subscription unchecked"
                    );
                    matched.push((name, true));
                }
            }
        }
        let already = match &self.markers {
            Some(t) => match t.fanned_out(&event_id).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(event_id, error = e, "state table unavailable; will retry");
                    return Plan::Settled(Fanout::Retry);
                }
            },
            None => Default::default(),
        };
        let now = self.clock.now();
        let arrived = arrival_time(rec).unwrap_or(now);
        // The event's trace goes on with its jobs (AWSTraceHeader): the
        // sender's invocations join the trace the webhook started.
        let trace = rec
            .attributes
            .get("AWSTraceHeader")
            .cloned()
            .or_else(hookrelay_shared::queue::invocation_trace_header);
        let (endpoints, messages): (Vec<String>, Vec<OutgoingMessage>) = matched
            .iter()
            .filter(|(n, _)| !already.contains(n))
            .map(|(name, unchecked)| {
                let msg = self
                    .job_message(&event, &event_id, name, arrived, *unchecked)
                    .trace(trace.as_deref());
                (name.clone(), msg)
            })
            .unzip();
        if messages.iter().any(|m| m.sqs_size() > MAX_BATCH_BYTES) {
            // A retry cannot make it fit: park the event with the reason.
            let reason =
                format!("its delivery jobs exceed SQS's {MAX_BATCH_BYTES}-byte message limit");
            return Plan::Settled(
                self.dead_letter(message_id, Some(&event_id), body, &reason)
                    .await,
            );
        }
        Plan::Write(Pending {
            event_id,
            event_type: event.event_type,
            matched: matched.len(),
            already: already.len(),
            expires: now + MARKER_TTL,
            endpoints,
            messages,
            written: Vec::new(),
            failed: false,
        })
    }

    /// Records which endpoints an event reached and whether it is done.
    async fn settle(&self, plan: Plan) -> Fanout {
        let p = match plan {
            Plan::Settled(f) => return f,
            Plan::Write(p) => p,
        };
        if let Some(t) = &self.markers
            && let Err(e) = t.mark_fanned_out(&p.event_id, &p.written, p.expires).await
        {
            // The jobs are out; only a retry of this event could duplicate them.
            tracing::error!(
                event_id = p.event_id,
                error = e,
                "could not record the fan-out"
            );
        }
        tracing::info!(
            event_id = p.event_id,
            event_type = p.event_type,
            matched = p.matched,
            already = p.already,
            written = p.written.len(),
            "event routed"
        );
        self.metrics
            .count(&JOBS_WRITTEN, &[], p.written.len() as u64);
        if p.failed {
            Fanout::Retry
        } else {
            self.metrics.count(&EVENTS_ROUTED, &[], 1);
            Fanout::Done
        }
    }

    fn job_message(
        &self,
        event: &Event,
        event_id: &str,
        endpoint: &str,
        created_at: time::OffsetDateTime,
        subscription_unchecked: bool,
    ) -> OutgoingMessage {
        let mut job = DeliveryJob::new(
            endpoint,
            &event.event_type,
            event.payload.clone(),
            created_at,
        );
        job.id = DeliveryJob::derived_id(event_id, endpoint);
        job.event_id = Some(event_id.to_string());
        job.subscription_unchecked = subscription_unchecked;
        let text = serde_json::to_string(&job).expect("a job serializes");
        let mut m = OutgoingMessage::new(text)
            .attribute(ENDPOINT, endpoint)
            .attribute(EVENT_TYPE, event.event_type.clone());
        m.group_id = Some(endpoint.to_string());
        m.dedup_id = Some(job.id);
        m
    }

    async fn dead_letter(
        &self,
        message_id: &str,
        event_id: Option<&str>,
        body: &str,
        reason: &str,
    ) -> Fanout {
        let letter = DeadLetter::new(body, DeadReason::InvalidEvent, reason).group("invalid");
        match self.dlq.send(letter.message()).await {
            Ok(_) => {
                tracing::warn!(
                    message_id,
                    event_id,
                    reason,
                    "event moved to the dead-letter queue"
                );
                self.metrics.count(&EVENTS_DEAD_LETTERED, &[], 1);
                let detail = Detail::MessageDeadLettered(MessageDeadLettered {
                    queue: DeadLetterQueue::Events,
                    message_id: message_id.to_string(),
                    job_id: None,
                    event_id: event_id.map(String::from),
                    endpoint: None,
                    reason: DeadReason::InvalidEvent.as_str().to_string(),
                    attempts: None,
                    last_status: None,
                    error: bounded(reason, 256),
                });
                let event = OpsEvent::new(detail, self.clock.now());
                if let Err(e) = self.notifier.publish(&event).await {
                    tracing::warn!(
                        message_id,
                        error = e,
                        "could not publish message.dead_lettered"
                    );
                }
                Fanout::Done
            }
            Err(e) => {
                tracing::error!(error = %e, "could not dead-letter an invalid event; will retry");
                Fanout::Retry
            }
        }
    }
}

/// When SQS accepted the event (`SentTimestamp`, milliseconds): events
/// routed concurrently, or retried, still get the order they arrived in.
fn arrival_time(rec: &SqsMessage) -> Option<time::OffsetDateTime> {
    let ms: i128 = rec.attributes.get("SentTimestamp")?.parse().ok()?;
    time::OffsetDateTime::from_unix_timestamp_nanos(ms.checked_mul(1_000_000)?).ok()
}
