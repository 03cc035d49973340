//! The state table (DynamoDB, on-demand): endpoint health, parked jobs of
//! disabled endpoints, fan-out markers, attempt counts and alert claims.
//! One table, five item kinds (attempt counts are written by
//! [`crate::attempts`]):
//!
//! | pk                 | sk                                  | what                                  |
//! |--------------------|-------------------------------------|---------------------------------------|
//! | `endpoint#<name>`  | `health`                            | [`HealthState`] as JSON, `rev`, `disabled`, `replaying`, success counters `ok_<hour>`, `counts_rev` |
//! | `endpoint#<name>`  | `parked#<job created_at ns, 20 digits>#<job id>` | a parked job body, `expires_at`  |
//! | `event#<id>`       | `fanout`                            | endpoints already given a job, `expires_at` |
//! | `message#<id>`     | `attempts`                          | delivery attempts and the last receive counted ([`crate::attempts`]), `expires_at` |
//! | `source#<name>`    | `alert#<kind>`                      | an operational alert announced for a source until `expires_at` ([`StateTable::claim_alert`]) |
//!
//! Health items are read-modify-written with a condition on `rev`, so
//! concurrent sender instances can never lose a transition: the loser
//! re-reads and re-applies. Some writes skip the read-modify-write and use
//! an atomic `ADD` instead: adding successes to the `ok_<hour>` counters
//! (so counting them needs no conditional write), and parking a job (in a
//! transaction conditional on the endpoint still parking, [`ParkWhile`]).
//! Each of those also bumps `counts_rev`, and the read-modify-write is
//! conditional on it too: it writes the whole item back, so it must not
//! overwrite an `ADD` it did not see; and the end of a replay thereby knows
//! that no job was parked behind it.
//! `expires_at` is the table's TTL attribute.

use crate::clock::{Clock, SystemClock};
use crate::health::{HealthState, ParkError};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, TransactWriteItem, Update, WriteRequest,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Success counters on the health item: `ok_<unix hour>`.
const OK_PREFIX: &str = "ok_";

/// DynamoDB's item size limit is 400 KB (attribute names and values); a
/// parked job also holds its keys, id and expiry, so the body gets a bit less.
pub const MAX_PARKED_BODY_BYTES: usize = 400 * 1024 - 2 * 1024;

/// What must still hold, in the same transaction, for a job to be parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkWhile {
    /// The endpoint replays its parked jobs (new ones wait behind them).
    Replaying,
    /// The endpoint is disabled or replaying: a sender's cached "disabled"
    /// may be seconds old, and the replay may have ended since.
    Parking,
    /// The endpoint is switched off in its configuration, which the table
    /// does not know: it parks unless it is disabled or replaying, or no
    /// replay finished since the state (`enables`, see
    /// [`HealthState::enables`]) the sender decided with. An enable
    /// switches the configuration on before its replay finishes, so a
    /// sender that still sees it off after that is looking at an old copy.
    SwitchedOff { enables: u64 },
}

#[derive(Clone)]
pub struct StateTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// What `updated_at` and the replay's run number are read from.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StateTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateTable")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// A parked job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub sk: String,
    pub job_id: String,
    pub body: String,
    /// The job's `created_at`: parked jobs sort (and replay) by it.
    pub created_at: OffsetDateTime,
}

/// An endpoint's health item as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The state, with the success counters in [`HealthState::successes`].
    pub state: HealthState,
    /// `None`: the state was never written (the item may hold counters only).
    pub rev: Option<u64>,
    /// Bumped by every `ADD` (see the module docs); `None`: none yet.
    pub counts_rev: Option<u64>,
}

fn ok_attribute(hour: i64) -> String {
    format!("{OK_PREFIX}{hour}")
}

/// Reads a health item: the JSON state plus the counters beside it.
fn parse_health(item: &HashMap<String, AttributeValue>, endpoint: &str) -> Result<Loaded, String> {
    let mut state: HealthState = get_s(item, "state")
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| format!("health of {endpoint} is unreadable: {e}"))?
        .unwrap_or_default();
    let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<u64>().ok());
    for (k, v) in item {
        if let Some(hour) = k.strip_prefix(OK_PREFIX).and_then(|h| h.parse().ok())
            && let Some(n) = number(v)
        {
            state.add_successes(hour, u32::try_from(n).unwrap_or(u32::MAX));
        }
    }
    Ok(Loaded {
        state,
        rev: item.get("rev").and_then(number),
        counts_rev: item.get("counts_rev").and_then(number),
    })
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> String {
    DisplayErrorContext(&e).to_string()
}

fn endpoint_pk(endpoint: &str) -> String {
    format!("endpoint#{endpoint}")
}

fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

impl StateTable {
    /// The table, with the system clock.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The table's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.table
    }

    /// The endpoint's health and its revision (`None`: never written).
    pub async fn load(&self, endpoint: &str) -> Result<(HealthState, Option<u64>), String> {
        let l = self.load_full(endpoint).await?;
        Ok((l.state, l.rev))
    }

    /// The endpoint's health item (consistent read).
    pub async fn load_full(&self, endpoint: &str) -> Result<Loaded, String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(endpoint_pk(endpoint)))
            .key("sk", s("health"))
            .consistent_read(true)
            .send()
            .await
            .map_err(err)?;
        match out.item {
            Some(item) => parse_health(&item, endpoint),
            None => Ok(Loaded::default()),
        }
    }

    /// Writes `state` (read as `loaded`) if neither its revision nor its
    /// counters changed since; `Ok(false)` on a conflict. The success
    /// counters written are `state.successes`: what was loaded, plus what
    /// the caller counted, minus what fell out of the window.
    async fn save(
        &self,
        endpoint: &str,
        state: &HealthState,
        loaded: &Loaded,
    ) -> Result<bool, String> {
        let text = serde_json::to_string(state).map_err(|e| e.to_string())?;
        let next = loaded.rev.map(|r| r + 1).unwrap_or(1);
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(endpoint_pk(endpoint)))
            .item("sk", s("health"))
            .item("endpoint", s(endpoint))
            .item("state", s(text))
            .item("rev", n(next))
            .item("disabled", AttributeValue::Bool(state.is_disabled()))
            .item(
                "replaying",
                AttributeValue::Bool(state.replaying_since.is_some()),
            )
            .item("enables", n(state.enables))
            .item("updated_at", s(crate::clock::iso_millis(self.clock.now())))
            .expression_attribute_names("#rev", "rev")
            .expression_attribute_names("#counts", "counts_rev");
        for (h, c) in &state.successes {
            req = req.item(ok_attribute(*h), n(c));
        }
        let rev_condition = match loaded.rev {
            None => "attribute_not_exists(#rev)",
            Some(r) => {
                req = req.expression_attribute_values(":rev", n(r));
                "#rev = :rev"
            }
        };
        let counts_condition = match loaded.counts_rev {
            None => "attribute_not_exists(#counts)",
            Some(c) => {
                req = req
                    .item("counts_rev", n(c))
                    .expression_attribute_values(":counts", n(c));
                "#counts = :counts"
            }
        };
        match req
            .condition_expression(format!("{rev_condition} AND {counts_condition}"))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(err(e)),
        }
    }

    /// Applies `change` to the endpoint's health with optimistic concurrency:
    /// on a conflict the state is re-read and `change` applied again, so no
    /// concurrent transition is lost. `change` returns whether it changed
    /// anything worth a write, and a value handed back to the caller.
    pub async fn update<R>(
        &self,
        endpoint: &str,
        change: impl FnMut(&mut HealthState) -> (bool, R),
    ) -> Result<(HealthState, R), String> {
        self.update_counting(endpoint, &BTreeMap::new(), change)
            .await
    }

    /// [`update`](Self::update) that also adds `successes` (per hour) to
    /// the success counters, in the same write. `change` sees them already
    /// counted, so the rate rule includes them. When `change` writes
    /// nothing, the successes are still added (one `ADD`).
    pub async fn update_counting<R>(
        &self,
        endpoint: &str,
        successes: &BTreeMap<i64, u32>,
        mut change: impl FnMut(&mut HealthState) -> (bool, R),
    ) -> Result<(HealthState, R), String> {
        const ATTEMPTS: u64 = 16;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Concurrent writers: spread the retries out a little.
                tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=5 * attempt))).await;
            }
            let loaded = self.load_full(endpoint).await?;
            let mut state = loaded.state.clone();
            for (h, c) in successes {
                state.add_successes(*h, *c);
            }
            let (changed, result) = change(&mut state);
            if !changed {
                self.add_successes(endpoint, successes).await?;
                return Ok((state, result));
            }
            if self.save(endpoint, &state, &loaded).await? {
                return Ok((state, result));
            }
        }
        Err(format!("too much contention on the health of {endpoint}"))
    }

    /// Writes `state` (read as `loaded`) only if neither the state nor the
    /// counters changed since, in particular if no job was parked during the
    /// replay. `Ok(false)`: something did; read again.
    pub async fn save_if_nothing_parked(
        &self,
        endpoint: &str,
        state: &HealthState,
        loaded: &Loaded,
    ) -> Result<bool, String> {
        self.save(endpoint, state, loaded).await
    }

    /// Adds successful attempts to the endpoint's counters: an atomic `ADD`,
    /// no read and no condition, so concurrent senders never conflict.
    pub async fn add_successes(
        &self,
        endpoint: &str,
        successes: &BTreeMap<i64, u32>,
    ) -> Result<(), String> {
        let counts: Vec<(i64, u32)> = successes
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(h, c)| (*h, *c))
            .collect();
        if counts.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = (0..counts.len())
            .map(|i| format!("#ok{i} :ok{i}"))
            .collect();
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(endpoint_pk(endpoint)))
            .key("sk", s("health"))
            // `endpoint` lets `all_health` list an item that only has counters so far.
            .update_expression(format!(
                "SET #endpoint = :endpoint ADD #counts :one, {}",
                parts.join(", ")
            ))
            .expression_attribute_names("#endpoint", "endpoint")
            .expression_attribute_names("#counts", "counts_rev")
            .expression_attribute_values(":endpoint", s(endpoint))
            .expression_attribute_values(":one", n(1));
        for (i, (h, c)) in counts.iter().enumerate() {
            req = req
                .expression_attribute_names(format!("#ok{i}"), ok_attribute(*h))
                .expression_attribute_values(format!(":ok{i}"), n(c));
        }
        req.send().await.map_err(err)?;
        Ok(())
    }

    /// Every endpoint's health (for `hookrelay endpoints list`).
    pub async fn all_health(&self) -> Result<Vec<(String, HealthState)>, String> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :h")
                .expression_attribute_values(":h", s("health"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(err)?;
            for item in page.items() {
                if let Some(e) = get_s(item, "endpoint")
                    && let Ok(loaded) = parse_health(item, e)
                {
                    out.push((e.to_string(), loaded.state));
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    fn parked_item(
        &self,
        endpoint: &str,
        job_id: &str,
        body: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<HashMap<String, AttributeValue>, ParkError> {
        if body.len() > MAX_PARKED_BODY_BYTES {
            return Err(ParkError::TooLarge {
                bytes: body.len(),
                limit: MAX_PARKED_BODY_BYTES,
            });
        }
        let ns = created_at.unix_timestamp_nanos().max(0);
        Ok(HashMap::from([
            ("pk".to_string(), s(endpoint_pk(endpoint))),
            ("sk".to_string(), s(format!("parked#{ns:020}#{job_id}"))),
            ("job_id".to_string(), s(job_id)),
            ("body".to_string(), s(body)),
            (TTL_ATTRIBUTE.to_string(), n(expires_at.unix_timestamp())),
        ]))
    }

    /// Parks a job until its endpoint is enabled again, keyed by its
    /// creation time so the replay restores that order; idempotent for the
    /// same job. One transaction writes the job and bumps the health item's
    /// `counts_rev` on condition `while_` still holds, so that a park can
    /// never land after the replay that should take it ended: the replay's
    /// end is conditional on `counts_rev`, and once it has ended the
    /// condition fails. `Ok(false)`: it does not hold, nothing was written
    /// (read the state again).
    pub async fn park_if(
        &self,
        endpoint: &str,
        job_id: &str,
        body: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
        while_: ParkWhile,
    ) -> Result<bool, ParkError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let item = self.parked_item(endpoint, job_id, body, created_at, expires_at)?;
        let build = |e: aws_sdk_dynamodb::error::BuildError| ParkError::Unavailable(e.to_string());
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(build)?;
        let mut bump = Update::builder()
            .table_name(&self.table)
            .key("pk", s(endpoint_pk(endpoint)))
            .key("sk", s("health"))
            // `endpoint` lets `all_health` list an item this creates.
            .update_expression("SET #endpoint = :endpoint ADD #counts :one")
            .expression_attribute_names("#endpoint", "endpoint")
            .expression_attribute_names("#counts", "counts_rev")
            .expression_attribute_values(":endpoint", s(endpoint))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_names("#replaying", "replaying")
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        let parking = "#disabled = :yes OR #replaying = :yes";
        let condition = match while_ {
            ParkWhile::Replaying => "#replaying = :yes".to_string(),
            ParkWhile::Parking => parking.to_string(),
            ParkWhile::SwitchedOff { enables } => {
                bump = bump
                    .expression_attribute_names("#enables", "enables")
                    .expression_attribute_values(":enables", n(enables));
                if enables == 0 {
                    format!("{parking} OR attribute_not_exists(#enables) OR #enables = :enables")
                } else {
                    format!("{parking} OR #enables = :enables")
                }
            }
        };
        if condition.contains("#disabled") {
            bump = bump.expression_attribute_names("#disabled", "disabled");
        }
        let bump = bump
            .condition_expression(condition)
            .build()
            .map_err(build)?;
        let out = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(bump).build())
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) => {
                // The health item's condition failed: the state has moved on.
                let refused = matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(c))
                        if c.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
                );
                if refused {
                    Ok(false)
                } else {
                    Err(ParkError::Unavailable(err(e)))
                }
            }
        }
    }

    /// Parks a job while the endpoint replays ([`ParkWhile::Replaying`]).
    /// `Ok(false)`: it is not replaying any more, nothing was written
    /// (deliver the job instead).
    pub async fn park_while_replaying(
        &self,
        endpoint: &str,
        job_id: &str,
        body: &str,
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, ParkError> {
        self.park_if(
            endpoint,
            job_id,
            body,
            created_at,
            expires_at,
            ParkWhile::Replaying,
        )
        .await
    }

    /// Parked jobs of an endpoint, oldest first, at most `limit`.
    pub async fn parked(&self, endpoint: &str, limit: i32) -> Result<Vec<Parked>, String> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", s(endpoint_pk(endpoint)))
            .expression_attribute_values(":p", s("parked#"))
            .scan_index_forward(true)
            .consistent_read(true)
            .limit(limit)
            .send()
            .await
            .map_err(err)?;
        Ok(out
            .items()
            .iter()
            .filter_map(|item| {
                let sk = get_s(item, "sk")?.to_string();
                let ns: i128 = sk.split('#').nth(1)?.parse().ok()?;
                Some(Parked {
                    job_id: get_s(item, "job_id")?.to_string(),
                    body: get_s(item, "body")?.to_string(),
                    created_at: OffsetDateTime::from_unix_timestamp_nanos(ns).ok()?,
                    sk,
                })
            })
            .collect())
    }

    /// How many jobs are parked for an endpoint.
    pub async fn parked_count(&self, endpoint: &str) -> Result<usize, String> {
        let mut count = 0;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":pk", s(endpoint_pk(endpoint)))
                .expression_attribute_values(":p", s("parked#"))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(err)?;
            count += out.count as usize;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(count),
            }
        }
    }

    /// Deletes replayed jobs. DynamoDB may leave some of a batch
    /// unprocessed under load: those are retried with a growing pause, and
    /// if some still remain the error says so (they would be replayed
    /// again by the next `enable`).
    pub async fn delete_parked(&self, endpoint: &str, sks: &[String]) -> Result<(), String> {
        const ATTEMPTS: u32 = 6;
        for chunk in sks.chunks(25) {
            let requests: Vec<WriteRequest> = chunk
                .iter()
                .filter_map(|sk| {
                    let del = DeleteRequest::builder()
                        .key("pk", s(endpoint_pk(endpoint)))
                        .key("sk", s(sk.clone()))
                        .build()
                        .ok()?;
                    Some(WriteRequest::builder().delete_request(del).build())
                })
                .collect();
            let mut pending = HashMap::from([(self.table.clone(), requests)]);
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(err)?;
                match out.unprocessed_items {
                    Some(left) if !left.is_empty() => pending = left,
                    _ => {
                        pending = HashMap::new();
                        break;
                    }
                }
            }
            let left: usize = pending.values().map(Vec::len).sum();
            if left > 0 {
                return Err(format!(
                    "{left} replayed job(s) of {endpoint} could not be deleted from the state table \
                     after {ATTEMPTS} attempts; they stay parked and a later replay would send them again"
                ));
            }
        }
        Ok(())
    }

    /// Endpoints an event was already fanned out to.
    pub async fn fanned_out(&self, event_id: &str) -> Result<BTreeSet<String>, String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("event#{event_id}")))
            .key("sk", s("fanout"))
            .consistent_read(true)
            .send()
            .await
            .map_err(err)?;
        Ok(out
            .item
            .and_then(|i| i.get("sent").and_then(|v| v.as_ss().ok()).cloned())
            .unwrap_or_default()
            .into_iter()
            .collect())
    }

    /// Records that jobs for `endpoints` were written for an event.
    pub async fn mark_fanned_out(
        &self,
        event_id: &str,
        endpoints: &[String],
        expires_at: OffsetDateTime,
    ) -> Result<(), String> {
        if endpoints.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("event#{event_id}")))
            .key("sk", s("fanout"))
            .update_expression("ADD sent :e SET expires_at = :t")
            .expression_attribute_values(":e", AttributeValue::Ss(endpoints.to_vec()))
            .expression_attribute_values(":t", n(expires_at.unix_timestamp()))
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Claims the announcement of an alert about a source (`kind`, e.g.
    /// `refusals-high`) until `until`: a conditional put that succeeds for
    /// exactly one of the receiver instances that see the same thing, so
    /// the alert is published once. `false`: another instance claimed it
    /// and the claim has not expired.
    pub async fn claim_alert(
        &self,
        source: &str,
        kind: &str,
        until: OffsetDateTime,
    ) -> Result<bool, String> {
        let now = self.now().unix_timestamp();
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("source#{source}")))
            .item("sk", s(format!("alert#{kind}")))
            .item(TTL_ATTRIBUTE, n(until.unix_timestamp()))
            // TTL deletes expired items late: an expired claim is free too.
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(err(e)),
        }
    }
}
