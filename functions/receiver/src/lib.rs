//! The receiver: `POST /webhooks/{source}` → verify → one SQS message per
//! event → answer.
//!
//! [`Receiver::handle`] is a plain async function over two ports, a
//! [`SecretSource`] (Secrets Manager in production) and a [`Queue`] (SQS),
//! so it is tested against moto with the real SDK and benchmarked with a
//! canned SQS responder. `main.rs` only wires the real clients.

mod answer;
mod bulk;
mod event;
mod outcome;
pub mod refusals;
mod settings;

pub use answer::Reject;
pub use settings::Settings;

use answer::{Answer, json_response};
use event::{Event, extract, new_id};
use hookrelay_shared::aws::dynamodb::state_table::StateTable;
use hookrelay_shared::aws::secrets_manager::{ConfigKind, SecretNames, SecretsManager};
use hookrelay_shared::aws::sns::SnsNotifier;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::{Clock, SystemClock};
use hookrelay_shared::env::StartError;
use hookrelay_shared::envelope::{ATTR_EVENT_TYPE, ATTR_SOURCE, ENVELOPE_VERSION, Envelope};
use hookrelay_shared::health::{LogNotifier, Notifier};
use hookrelay_shared::metrics::Metrics;
use hookrelay_shared::metrics::names::{SOURCE, SOURCE_REFUSALS_HIGH};
use hookrelay_shared::ops_event::{Detail, OpsEvent, SourceRefusalsHigh};
use hookrelay_shared::queue::{OutgoingMessage, Queue, QueueError};
use hookrelay_shared::schemes::{HeaderLookup, Verified, VerifyError};
use hookrelay_shared::secrets::{CacheError, ConfigCache, SecretSource};
use hookrelay_shared::source::{Source, valid_source_name};
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use refusals::{Crossing, REALERT_AFTER, RefusalWatch};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;
use tracing::Instrument;

pub struct Receiver {
    sources: ConfigCache<Source>,
    /// Where sources are: `<prefix>/sources/<name>`.
    names: SecretNames,
    inbound: Arc<dyn Queue>,
    /// Events queue for relay mode (fan-out by the router), when deployed.
    events: Option<Arc<dyn Queue>>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    metrics: Metrics,
    refusals: RefusalWatch,
    /// Where instances agree who announces an alert, when deployed.
    alert_claims: Option<StateTable>,
    notifier: Arc<dyn Notifier>,
}

/// The ports a [`Receiver`] talks to.
pub struct Ports {
    pub secrets: Arc<dyn SecretSource>,
    pub inbound: Arc<dyn Queue>,
    /// The events queue for relay mode, when deployed.
    pub events: Option<Arc<dyn Queue>>,
    pub clock: Arc<dyn Clock>,
}

impl Receiver {
    pub fn new(ports: Ports, settings: Settings) -> Self {
        let sources = ConfigCache::new(ports.secrets, Arc::clone(&ports.clock), settings.cache);
        Self {
            sources,
            names: SecretNames::new(&settings.secrets_prefix),
            inbound: ports.inbound,
            events: ports.events,
            clock: ports.clock,
            metrics: Metrics::stdout(settings.metrics_namespace.clone()),
            refusals: RefusalWatch::new(settings.refusals),
            alert_claims: None,
            notifier: Arc::new(LogNotifier),
            settings,
        }
    }

    /// Publishes operational events (`source.refusals_high`) there, and
    /// agrees with the other instances on who announces an alert in the
    /// state table.
    pub fn with_alerts(mut self, claims: Option<StateTable>, notifier: Arc<dyn Notifier>) -> Self {
        self.alert_claims = claims;
        self.notifier = notifier;
        self
    }

    /// Writes the metrics there instead of standard output (tests).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Production wiring from an SDK configuration: Secrets Manager, SQS
    /// and the system clock.
    pub fn from_config(
        config: &aws_config::SdkConfig,
        settings: Settings,
    ) -> Result<Self, StartError> {
        let sqs = aws_sdk_sqs::Client::new(config);
        let ports = Ports {
            secrets: Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
                config,
            ))),
            inbound: Arc::new(SqsQueue::new(
                sqs.clone(),
                settings.inbound_queue_url.clone(),
            )),
            events: settings
                .events_queue_url
                .clone()
                .map(|url| Arc::new(SqsQueue::new(sqs, url)) as Arc<dyn Queue>),
            clock: Arc::new(SystemClock),
        };
        let claims = settings.state_table.clone().map(|t| {
            StateTable::new(aws_sdk_dynamodb::Client::new(config), t)
                .with_clock(Arc::clone(&ports.clock))
        });
        let notifier: Arc<dyn Notifier> = match &settings.notify_topic_arn {
            Some(arn) => Arc::new(SnsNotifier::new(
                aws_sdk_sns::Client::new(config),
                arn.clone(),
            )),
            None => Arc::new(LogNotifier),
        };
        Ok(Self::new(ports, settings).with_alerts(claims, notifier))
    }

    /// Answers one request. Never panics on input; every outcome is logged
    /// once, without headers, bodies or keys.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        // Every log line of the request names its source and, once known,
        // the envelope id (the first, for a bulk body).
        let span = tracing::info_span!(
            "webhook",
            source = source_name(&req).unwrap_or_default(),
            envelope_id = tracing::field::Empty
        );
        self.answer(req).instrument(span).await
    }

    async fn answer(&self, req: Request) -> Response<Body> {
        let started = Instant::now();
        let source = source_name(&req).unwrap_or_default();
        // Whether `source` is a configured source: only then does its name
        // become a metric dimension (it is the caller's otherwise).
        let mut known = false;
        // Every log line of the request names its source and, once known,
        // the envelope id (the first, for a bulk body).
        let span = tracing::info_span!("webhook", source, envelope_id = tracing::field::Empty);
        let result = self
            .process(&req, &mut known)
            .instrument(span.clone())
            .await;
        let _entered = span.enter();
        let counted = outcome::count(&self.metrics, known.then_some(source), &result);
        if known
            && let Some(crossing) =
                self.refusals
                    .record(source, counted.refusal(), self.clock.now())
        {
            self.refusals_high(source, crossing).await;
        }
        let response = match result {
            Ok(answer) => {
                tracing::info!(
                    source,
                    status = answer.status.as_u16(),
                    id = answer.first_id.as_deref().unwrap_or(""),
                    event_type = answer.event_type.as_deref().unwrap_or(""),
                    events = answer.events,
                    key_index = answer.key_index,
                    duration_us = started.elapsed().as_micros() as u64,
                    "webhook accepted"
                );
                answer.response
            }
            Err(reject) => {
                let status = reject.status();
                if status.is_server_error() {
                    tracing::error!(source, status = status.as_u16(), reason = %reject, "webhook not accepted");
                } else {
                    tracing::warn!(source, status = status.as_u16(), reason = %reject, "webhook rejected");
                }
                reject.response(self.settings.max_message_bytes)
            }
        };
        // The invocation ends with the answer: Lambda may freeze the
        // instance right after, so the metrics are written now.
        self.metrics.flush();
        response
    }

    async fn process(&self, req: &Request, known: &mut bool) -> Result<Answer, Reject> {
        if req.method() != Method::POST {
            return Err(Reject::MethodNotAllowed);
        }
        let name = source_name(req).ok_or(Reject::UnknownSource)?;
        if !valid_source_name(name) || !self.settings.serves(name) {
            return Err(Reject::UnknownSource);
        }
        let body: &[u8] = req.body().as_ref();
        if body.len() > self.settings.max_message_bytes {
            return Err(Reject::TooLarge);
        }
        let secret = self.names.of(ConfigKind::Source, name);
        let source = match self.sources.get(&secret).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(Reject::UnknownSource),
            Err(e) => {
                // A configuration that does not compile still names a source.
                *known = matches!(e, CacheError::Invalid { .. });
                return Err(e.into());
            }
        };
        *known = true;
        let received_at = self.clock.now();
        let (source, verified) = self
            .verify(&secret, source, req.headers(), body, received_at)
            .await
            .inspect_err(|reject| {
                if matches!(reject, Reject::Unauthorized(_))
                    && body.windows(3).any(|w| w == "\u{fffd}".as_bytes())
                {
                    // API Gateway passes a text-typed body as UTF-8 text,
                    // replacing what is not UTF-8 with U+FFFD: the bytes
                    // that were signed never reach the function.
                    tracing::warn!(
                        source = name,
                        "the body holds U+FFFD: if the platform sent bytes that are not UTF-8 \
                         under a text content type, API Gateway replaced them; such bodies \
                         must be sent as application/octet-stream"
                    );
                }
            })?;

        let delivery_id = match &source.delivery_id {
            Some(e) => extract(e, req.headers(), body)?,
            None => None,
        };
        let headers = forwarded_headers(&source, req.headers());
        let events = match &source.config.bulk {
            None => {
                let event_type = match &source.event_type {
                    Some(e) => extract(e, req.headers(), body)?,
                    None => None,
                };
                let id = delivery_id.unwrap_or_else(new_id);
                vec![Event {
                    id,
                    event_type_signed: event_type.is_some() && source.event_type_signed,
                    event_type,
                    raw: body,
                    bulk_index: None,
                }]
            }
            Some(bulk) => bulk::split(&source, bulk, req.headers(), body, delivery_id.as_deref())?,
        };
        // The invocation's trace goes with every message (AWSTraceHeader),
        // so the router's and the consumers' invocations join it.
        let trace = trace_header(req);
        let trace = trace.as_deref();
        if let Some(first) = events.first() {
            tracing::Span::current().record("envelope_id", first.id.as_str());
        }
        let messages = events
            .iter()
            .map(|e| Ok(self.message(name, &headers, e, received_at)?.trace(trace)))
            .collect::<Result<Vec<_>, Reject>>()?;
        // Built before anything is queued: a relaying source without an
        // events queue is refused before the inbound queue sees anything.
        let relays = match source.config.relay {
            true => Some(
                self.relay_messages(name, &source, &events)?
                    .into_iter()
                    .map(|m| m.map(|m| m.trace(trace)))
                    .collect::<Vec<_>>(),
            ),
            false => None,
        };

        let mut answer = match &source.config.bulk {
            None => {
                let mut messages = messages.into_iter();
                let msg = messages.next().ok_or(Reject::MalformedJson)?;
                let answer = self.send_one(&events[0], msg).await?;
                if let Some(Some(relay)) = relays.and_then(|r| r.into_iter().next()) {
                    self.relay_one(name, &events[0], relay).await?;
                }
                answer
            }
            Some(bulk) => {
                let mut outcomes = bulk::enqueue(&*self.inbound, messages).await;
                if let (Some(relays), Some(queue)) = (relays, &self.events) {
                    bulk::relay(&**queue, name, &events, relays, &mut outcomes).await;
                }
                bulk::answer(&events, &outcomes, bulk)
            }
        };
        answer.key_index = verified.key_index;
        Ok(answer)
    }

    /// Verifies, and when that fails, refreshes the source once (at most every
    /// 30 s) in case its key was just rotated.
    async fn verify(
        &self,
        secret: &str,
        source: Arc<Source>,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(Arc<Source>, Verified), Reject> {
        let first = match source.scheme.verify(headers, body, now) {
            Ok(v) => return Ok((source, v)),
            Err(VerifyError::InvalidJson(_)) => return Err(Reject::MalformedJson),
            Err(e) => e,
        };
        match self.sources.refresh(secret).await {
            Ok(None) => Err(Reject::Unauthorized(first)),
            Ok(Some(None)) => Err(Reject::UnknownSource),
            Ok(Some(Some(fresh))) => match fresh.scheme.verify(headers, body, now) {
                Ok(v) => {
                    tracing::info!(secret, "verified after refreshing the source configuration");
                    Ok((fresh, v))
                }
                Err(VerifyError::InvalidJson(_)) => Err(Reject::MalformedJson),
                Err(e) => Err(Reject::Unauthorized(e)),
            },
            Err(e) => Err(e.into()),
        }
    }

    fn message(
        &self,
        source: &str,
        headers: &BTreeMap<String, String>,
        event: &Event<'_>,
        received_at: OffsetDateTime,
    ) -> Result<OutgoingMessage, Reject> {
        let (body, body_encoding) = Envelope::encode_body(event.raw);
        let envelope = Envelope {
            version: ENVELOPE_VERSION,
            id: event.id.as_str().into(),
            source: source.into(),
            event_type: event.event_type.as_deref().map(Into::into),
            event_type_signed: event.event_type_signed,
            received_at,
            headers: headers.clone(),
            body,
            body_encoding,
            bulk_index: event.bulk_index,
        };
        let text = serde_json::to_string(&envelope).map_err(|_| Reject::MalformedJson)?;
        let mut msg = OutgoingMessage::new(text)
            .attribute(ATTR_SOURCE, source)
            .attribute(
                ATTR_EVENT_TYPE,
                event.event_type.clone().unwrap_or_default(),
            );
        msg.dedup_id = Some(event.id.clone());
        msg.group_id = Some(source.to_string());
        if msg.sqs_size() > self.settings.max_message_bytes {
            return Err(Reject::TooLarge);
        }
        Ok(msg)
    }

    async fn send_one(&self, event: &Event<'_>, msg: OutgoingMessage) -> Result<Answer, Reject> {
        match self.inbound.send(msg).await {
            Ok(_) => Ok(Answer {
                status: StatusCode::ACCEPTED,
                response: json_response(
                    StatusCode::ACCEPTED,
                    &serde_json::json!({ "id": event.id }),
                ),
                first_id: Some(event.id.clone()),
                event_type: event.event_type.clone(),
                events: 1,
                key_index: 0,
            }),
            Err(QueueError::Unavailable(e)) => Err(Reject::QueueUnavailable(e)),
            Err(QueueError::Rejected(e)) => Err(Reject::QueueRejected(e)),
        }
    }

    /// Relay mode: the events-queue message of each event, `None` for one
    /// that is not relayed (logged; its envelope is still queued, so nothing
    /// verified is lost): a body that is not JSON, or an event type the
    /// signature does not cover on a source that does not say
    /// `relay_unsigned_event_type` (the router would fan a captured webhook
    /// out again under whatever type the replayer wrote). A relaying source
    /// without an events queue is a deployment error, answered as such
    /// rather than dropping fan-out.
    fn relay_messages(
        &self,
        name: &str,
        source: &Source,
        events: &[Event<'_>],
    ) -> Result<Vec<Option<OutgoingMessage>>, Reject> {
        if self.events.is_none() {
            return Err(Reject::Misconfigured(
                "relay is on but HOOKRELAY_EVENTS_QUEUE_URL is not set".into(),
            ));
        }
        Ok(events
            .iter()
            .map(|event| {
                let message = if event.event_type.is_some()
                    && !event.event_type_signed
                    && !source.config.relay_unsigned_event_type
                {
                    Err("the event type is not covered by the signature \
                         (relay_unsigned_event_type is not set)")
                } else {
                    bulk::relay_message(name, event)
                };
                message
                    .inspect_err(|reason| {
                        tracing::warn!(
                            source = name,
                            id = event.id,
                            reason,
                            "event queued but not relayed"
                        )
                    })
                    .ok()
            })
            .collect())
    }

    /// Relays a single event that is already on the inbound queue. A failure
    /// is answered with an error (503 when worth retrying) so the platform
    /// sends the webhook again: its fan-out is not lost, the inbound queue
    /// sees it twice (same id when the platform names its deliveries), and
    /// the router, whose job ids derive from the event id, does not fan it
    /// out twice.
    async fn relay_one(
        &self,
        name: &str,
        event: &Event<'_>,
        msg: OutgoingMessage,
    ) -> Result<(), Reject> {
        let queue = self.events.as_ref().ok_or_else(|| {
            Reject::Misconfigured("relay is on but HOOKRELAY_EVENTS_QUEUE_URL is not set".into())
        })?;
        queue.send(msg).await.map(|_| ()).map_err(|e| {
            tracing::error!(source = name, id = event.id, error = %e, "event queued but not relayed; asking the platform to retry");
            match e {
                QueueError::Unavailable(e) => Reject::RelayUnavailable(e),
                QueueError::Rejected(e) => Reject::RelayRejected(e),
            }
        })
    }
}

impl Receiver {
    /// A source's refusals crossed the threshold: announce it, unless
    /// another instance already did (the claim in the state table). Runs on
    /// the request that crossed, which is refused anyway, so the few
    /// milliseconds of the claim and the publish delay no accepted webhook.
    async fn refusals_high(&self, source: &str, c: Crossing) {
        let now = self.clock.now();
        if let Some(t) = &self.alert_claims {
            match t
                .claim_alert(source, "refusals-high", now + REALERT_AFTER)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(
                        source,
                        "refusals high; already announced by another instance"
                    );
                    return;
                }
                // Better a second announcement than none.
                Err(e) => tracing::warn!(
                    source,
                    error = e,
                    "could not claim the alert; announcing it"
                ),
            }
        }
        let rule = self.refusals.rule();
        tracing::warn!(
            source,
            requests = c.requests,
            refused = c.refused,
            window_secs = rule.window.as_secs(),
            "most of this source's webhooks are refused"
        );
        self.metrics
            .count(&SOURCE_REFUSALS_HIGH, &[(SOURCE, source)], 1);
        let detail = Detail::SourceRefusalsHigh(SourceRefusalsHigh {
            source: source.to_string(),
            window_secs: rule.window.as_secs(),
            requests: c.requests,
            refused: c.refused,
            threshold: rule.threshold,
            min_requests: rule.min_requests,
            hint: refusals::hint(&c.reasons),
            reasons: c
                .reasons
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        });
        if let Err(e) = self.notifier.publish(&OpsEvent::new(detail, now)).await {
            tracing::error!(source, error = e, "could not publish source.refusals_high");
        }
    }
}

impl From<CacheError> for Reject {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Unavailable(e) => Reject::SecretsUnavailable(e.to_string()),
            CacheError::Invalid { name, reason } => {
                Reject::Misconfigured(format!("{name}: {reason}"))
            }
        }
    }
}

/// The invocation's X-Ray trace: from the Lambda context (API Gateway
/// passes it on), or `_X_AMZN_TRACE_ID`.
fn trace_header(req: &Request) -> Option<String> {
    req.lambda_context_ref()
        .and_then(|c| c.xray_trace_id.clone())
        .filter(|t| !t.is_empty())
        .or_else(hookrelay_shared::queue::invocation_trace_header)
}

/// The `{source}` path parameter (API Gateway), or the last segment after
/// `/webhooks/` (function URLs and `cargo lambda watch`, which have no route).
pub fn source_name(req: &Request) -> Option<&str> {
    if let Some(s) = req.path_parameters_ref().and_then(|p| p.first("source")) {
        return Some(s);
    }
    let path = req.raw_http_path();
    let path = if path.is_empty() {
        req.uri().path()
    } else {
        path
    };
    let rest = path.trim_end_matches('/').rsplit_once("/webhooks/")?.1;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

fn forwarded_headers(source: &Source, headers: &HeaderMap) -> BTreeMap<String, String> {
    source
        .forward_headers
        .iter()
        .filter_map(|name| headers.header(name).map(|v| (name.clone(), v.to_string())))
        .collect()
}
