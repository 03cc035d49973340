//! The sender: SQS batch of delivery jobs → signed HTTP POSTs → a verdict
//! per record (delete, or retry later by moving its visibility timeout).
//!
//! [`Sender::handle`] is a plain async function over ports: the endpoint
//! configuration cache (Secrets Manager), the HTTP transport, the
//! outbound queue's visibility control, the dead-letter queue, the
//! endpoints' health (state table, parking) and the attempt log.
//! `main.rs` only wires the real clients ([`Sender::from_config`]).
//!
//! A record goes through three stages, each in its own module, handing
//! the next a type of its own:
//!
//! 1. `prepare`: SQS record → `prepare::Prepared`: a job `Ready` to
//!    deliver (parsed, its endpoint's configuration loaded, not parked), or
//!    settled there (parked, dead-lettered, retried after a failure of our
//!    own);
//! 2. `deliver`: `Ready` jobs → units (one job, or several for a `batch`
//!    endpoint) → a signed request each (`build`; a unit that cannot be
//!    signed is settled without an attempt) → sent (`send`) → an
//!    `AttemptResult` per job;
//! 3. `outcome`: `AttemptResult` → `record::Verdict`: delete, retry on
//!    the endpoint's schedule, park (the failure disabled the endpoint) or
//!    dead-letter with the reason.
//!
//! `batch` runs a batch through them: ordered groups (FIFO, replays)
//! one record after the other, everything else concurrently; between
//! building a request and sending it, each attempt is counted.
//!
//! The attempt number that picks the next delay is counted per message
//! in the state table (`hookrelay_shared::attempts`), not taken from the
//! receive count: receives also happen without an attempt (records held
//! behind a failing one in an ordered group, infrastructure retries).
//! Attempts after the first are counted before they are made, so a
//! schedule never runs past its end when a count cannot be written.

mod batch;
mod context;
mod deliver;
mod outcome;
mod prepare;
mod record;
mod settings;

pub use settings::{SETTLE_MARGIN, Settings};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use context::Context;
use hookrelay_shared::attempts::{AttemptLog, ReceiveCountOnly};
use hookrelay_shared::aws::dynamodb::attempts::DynamoAttempts;
use hookrelay_shared::aws::dynamodb::health::DynamoHealth;
use hookrelay_shared::aws::dynamodb::state_table::StateTable;
use hookrelay_shared::aws::secrets_manager::SecretsManager;
use hookrelay_shared::aws::sns::SnsNotifier;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::{Clock, SystemClock};
use hookrelay_shared::env::StartError;
use hookrelay_shared::health::{EndpointHealth, LogNotifier, NoHealthTracking, Notifier};
use hookrelay_shared::metrics::Metrics;
use hookrelay_shared::outbound::{ReqwestTransport, Transport};
use hookrelay_shared::queue::{MessageControl, Queue};
use hookrelay_shared::secrets::{ConfigCache, SecretSource};
use std::sync::Arc;
use time::OffsetDateTime;

pub struct Sender {
    ctx: Context,
}

/// The ports a [`Sender`] talks to.
pub struct Ports {
    pub secrets: Arc<dyn SecretSource>,
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
            ctx: Context {
                endpoints: ConfigCache::new(
                    ports.secrets,
                    Arc::clone(&ports.clock),
                    settings.cache,
                ),
                transport: ports.transport,
                outbound: ports.outbound,
                dlq: ports.dlq,
                health: ports.health,
                notifier: ports.notifier,
                clock: ports.clock,
                attempts: Arc::new(ReceiveCountOnly),
                jitter: Box::new(|| fastrand::f64() * 2.0 - 1.0),
                metrics: Metrics::stdout(settings.metrics_namespace.clone()),
                settings,
            },
        }
    }

    /// Counts real attempts there (the state table) instead of using the
    /// receive count.
    pub fn with_attempt_log(mut self, log: Arc<dyn AttemptLog>) -> Self {
        self.ctx.attempts = log;
        self
    }

    /// Fixes the jitter draw (in [-1, 1]); tests use it for exact schedules.
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.ctx.jitter = Box::new(jitter);
        self
    }

    /// Writes the metrics there instead of standard output (tests).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.ctx.metrics = metrics;
        self
    }

    /// Production wiring from an SDK configuration.
    pub fn from_config(
        config: &aws_config::SdkConfig,
        settings: Settings,
    ) -> Result<Self, StartError> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let table = settings.state_table.as_ref().map(|t| {
            StateTable::new(aws_sdk_dynamodb::Client::new(config), t.clone())
                .with_clock(Arc::clone(&clock))
        });
        let attempts: Arc<dyn AttemptLog> = match &table {
            Some(t) => Arc::new(DynamoAttempts::new(t.clone(), Arc::clone(&clock))),
            None => Arc::new(ReceiveCountOnly),
        };
        let ports = Ports {
            secrets: Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
                config,
            ))),
            transport: Arc::new(ReqwestTransport::new(settings.network.clone()).map_err(
                |reason| StartError::Client {
                    what: "HTTP client",
                    reason,
                },
            )?),
            outbound: Arc::new(SqsQueue::new(
                sqs.clone(),
                settings.source_queue_url.clone(),
            )),
            dlq: Arc::new(SqsQueue::new(sqs, settings.dlq_url.clone())),
            health: match table {
                Some(t) => Arc::new(DynamoHealth::new(t, Arc::clone(&clock))),
                None => Arc::new(NoHealthTracking),
            },
            notifier: match &settings.notify_topic_arn {
                Some(arn) => Arc::new(SnsNotifier::new(
                    aws_sdk_sns::Client::new(config),
                    arn.clone(),
                )),
                None => Arc::new(LogNotifier),
            },
            clock,
        };
        Ok(Self::new(ports, settings).with_attempt_log(attempts))
    }

    /// Handles one batch. Never fails as a whole: every record gets its own verdict.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let response = batch::handle(&self.ctx, event, None).await;
        self.ctx.metrics.flush();
        response
    }

    /// Handles one batch that must be done by `deadline` (the invocation's):
    /// no attempt is started that could not be settled before it, and the
    /// records not attempted are returned unprocessed, not counted.
    pub async fn handle_until(
        &self,
        event: SqsEvent,
        deadline: OffsetDateTime,
    ) -> SqsBatchResponse {
        let response = batch::handle(&self.ctx, event, Some(deadline)).await;
        // Lambda may freeze the instance once the batch is answered.
        self.ctx.metrics.flush();
        response
    }
}
