//! [`EndpointHealth`] on the DynamoDB state table, and the SNS notifier.
//!
//! The sender asks "is this endpoint disabled?" for every job; the answer
//! (the whole health item) is cached for a few seconds per endpoint, so a
//! healthy endpoint costs one read per cache period and no writes: a
//! success is only written when it changes something (see
//! [`HealthState::record`]).

use crate::clock::Clock;
use crate::health::{Change, Disabled, EndpointHealth, HealthState, Notifier, Outcome, Rules};
use crate::job::DeliveryJob;
use crate::queue::{MAX_BATCH, OutgoingMessage, Queue};
use crate::state_table::StateTable;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Message attribute on replayed jobs: their position in the replay, so the
/// sender delivers them one after the other, in that order.
pub const REPLAY_SEQ: &str = "hookrelay-replay-seq";

/// Parked jobs are kept this long (SQS's own maximum retention).
pub const PARKED_RETENTION: Duration = Duration::from_secs(14 * 86_400);

pub struct DynamoHealth {
    table: StateTable,
    clock: Arc<dyn Clock>,
    cache_ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, HealthState)>>,
}

impl DynamoHealth {
    pub fn new(table: StateTable, clock: Arc<dyn Clock>) -> Self {
        Self {
            table,
            clock,
            cache_ttl: Duration::from_secs(5),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    fn cached(&self, endpoint: &str) -> Option<HealthState> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(endpoint)
            .filter(|(at, _)| at.elapsed() < self.cache_ttl)
            .map(|(_, s)| s.clone())
    }

    fn remember(&self, endpoint: &str, state: HealthState) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(endpoint.to_string(), (Instant::now(), state));
    }

    async fn current(&self, endpoint: &str) -> Result<HealthState, String> {
        if let Some(s) = self.cached(endpoint) {
            return Ok(s);
        }
        let (state, _) = self.table.load(endpoint).await?;
        self.remember(endpoint, state.clone());
        Ok(state)
    }
}

#[async_trait]
impl EndpointHealth for DynamoHealth {
    async fn disabled(&self, endpoint: &str) -> Result<Option<Disabled>, String> {
        Ok(self.current(endpoint).await?.disabled)
    }

    async fn record(
        &self,
        endpoint: &str,
        outcome: Outcome,
        status: &str,
        rules: &Rules,
    ) -> Result<Option<Disabled>, String> {
        let now = self.clock.now();
        // A success that would change nothing on the cached state is not
        // even read: no DynamoDB call for healthy traffic.
        if outcome == Outcome::Success
            && let Some(mut cached) = self.cached(endpoint)
            && cached.record(outcome, status, now, rules) == Change::None
        {
            return Ok(None);
        }
        let (state, change) = self
            .table
            .update(endpoint, |state| {
                let change = state.record(outcome, status, now, rules);
                (change != Change::None, change)
            })
            .await?;
        self.remember(endpoint, state);
        Ok(match change {
            Change::Disabled(d) => Some(d),
            _ => None,
        })
    }

    async fn park(
        &self,
        endpoint: &str,
        job_id: &str,
        body: &str,
        arrived_at: time::OffsetDateTime,
    ) -> Result<(), String> {
        let expires = self.clock.now() + PARKED_RETENTION;
        self.table
            .park(endpoint, job_id, body, arrived_at, expires)
            .await
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

/// The notice's text: what happened, why, and how to turn it back on.
pub fn disable_notice(endpoint: &str, d: &Disabled) -> (String, String) {
    let subject = format!("hookrelay: endpoint {endpoint} disabled");
    let body = serde_json::json!({
        "endpoint": endpoint,
        "trigger": d.trigger,
        "reason": d.reason,
        "disabled_at": crate::clock::iso_millis(d.at),
        "what_happens_now": "new deliveries for this endpoint are parked, not dropped",
        "to_enable": format!("hookrelay endpoints enable {endpoint}  (replays parked deliveries in arrival order)"),
    });
    (
        subject,
        serde_json::to_string_pretty(&body).unwrap_or_default(),
    )
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn endpoint_disabled(&self, endpoint: &str, d: &Disabled) -> Result<(), String> {
        let (subject, message) = disable_notice(endpoint, d);
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .message_attributes(
                "endpoint",
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(endpoint)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(&e).to_string())?;
        Ok(())
    }
}

/// Puts an endpoint's parked jobs back on the outbound queue, oldest first,
/// deleting each page only after the queue accepted it. Returns how many
/// were replayed.
pub async fn replay_parked(
    table: &StateTable,
    endpoint: &str,
    outbound: &dyn Queue,
) -> Result<usize, String> {
    let mut replayed = 0;
    // Sequence numbers sort by replay run, then position.
    let run = time::OffsetDateTime::now_utc().unix_timestamp();
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
                    .attribute(REPLAY_SEQ, format!("{run:012}.{:09}", replayed + i));
                // FIFO: one ordered group per endpoint; a fresh deduplication
                // id, because the original send may be inside the 5-minute window.
                m.group_id = Some(endpoint.to_string());
                m.dedup_id = Some(format!(
                    "{}.{}",
                    p.job_id,
                    p.sk.split('#').nth(1).unwrap_or("0")
                ));
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

/// What [`enable_and_replay`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enabled {
    pub was_disabled: bool,
    pub replayed: usize,
}

/// Re-enables an endpoint and replays what was parked while it was off, in
/// arrival order. Sender instances may still see the old state for up to
/// their cache period (`settle`), and park a few more jobs meanwhile: the
/// replay waits that long before its first pass and makes a second pass
/// after another `settle`, so nothing stays parked.
pub async fn enable_and_replay(
    table: &StateTable,
    endpoint: &str,
    outbound: &dyn Queue,
    settle: Duration,
) -> Result<Enabled, String> {
    let (_, was_disabled) = table
        .update(endpoint, |s| {
            let was = s.enable();
            (was, was)
        })
        .await?;
    tokio::time::sleep(settle).await;
    let mut replayed = replay_parked(table, endpoint, outbound).await?;
    if !settle.is_zero() {
        tokio::time::sleep(settle).await;
        replayed += replay_parked(table, endpoint, outbound).await?;
    }
    Ok(Enabled {
        was_disabled,
        replayed,
    })
}

/// Manual disable: the same state and parking as an automatic one.
pub async fn disable(
    table: &StateTable,
    endpoint: &str,
    reason: &str,
    now: time::OffsetDateTime,
) -> Result<bool, String> {
    let (_, changed) = table
        .update(endpoint, |s| {
            let changed = s.disable(reason, now);
            (changed, changed)
        })
        .await?;
    Ok(changed)
}
