//! The state table (DynamoDB, on-demand): endpoint health, parked jobs of
//! disabled endpoints, and fan-out markers. One table, four item kinds
//! (the last is written by [`crate::attempts`]):
//!
//! | pk                 | sk                                  | what                                  |
//! |--------------------|-------------------------------------|---------------------------------------|
//! | `endpoint#<name>`  | `health`                            | [`HealthState`] as JSON, `rev`, `disabled` |
//! | `endpoint#<name>`  | `parked#<arrival ns, 20 digits>#<job id>` | a parked job body, `expires_at`  |
//! | `event#<id>`       | `fanout`                            | endpoints already given a job, `expires_at` |
//! | `message#<id>`     | `attempts`                          | failed attempts ([`crate::attempts`]), `expires_at` |
//!
//! Health items are read-modify-written with a condition on `rev`, so
//! concurrent sender instances can never lose a transition: the loser
//! re-reads and re-applies. `expires_at` is the table's TTL attribute.

use crate::health::HealthState;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use std::collections::{BTreeSet, HashMap};
use time::OffsetDateTime;

pub const TTL_ATTRIBUTE: &str = "expires_at";

#[derive(Debug, Clone)]
pub struct StateTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// A parked job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub sk: String,
    pub job_id: String,
    pub body: String,
    pub arrived_at: OffsetDateTime,
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
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.table
    }

    /// The endpoint's health and its revision (`None`: never written).
    pub async fn load(&self, endpoint: &str) -> Result<(HealthState, Option<u64>), String> {
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
        let Some(item) = out.item else {
            return Ok((HealthState::default(), None));
        };
        let state = get_s(&item, "state")
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| format!("health of {endpoint} is unreadable: {e}"))?
            .unwrap_or_default();
        let rev = item
            .get("rev")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((state, Some(rev)))
    }

    /// Writes `state` if the stored revision is still `rev`; `Ok(false)` on a conflict.
    pub async fn save(
        &self,
        endpoint: &str,
        state: &HealthState,
        rev: Option<u64>,
    ) -> Result<bool, String> {
        let text = serde_json::to_string(state).map_err(|e| e.to_string())?;
        let next = rev.map(|r| r + 1).unwrap_or(1);
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
                "updated_at",
                s(crate::clock::iso_millis(OffsetDateTime::now_utc())),
            );
        req = match rev {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(r) => req
                .condition_expression("rev = :rev")
                .expression_attribute_values(":rev", n(r)),
        };
        match req.send().await {
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
        mut change: impl FnMut(&mut HealthState) -> (bool, R),
    ) -> Result<(HealthState, R), String> {
        for _ in 0..10 {
            let (mut state, rev) = self.load(endpoint).await?;
            let (changed, result) = change(&mut state);
            if !changed || self.save(endpoint, &state, rev).await? {
                return Ok((state, result));
            }
        }
        Err(format!("too much contention on the health of {endpoint}"))
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
                if let (Some(e), Some(st)) = (get_s(item, "endpoint"), get_s(item, "state"))
                    && let Ok(state) = serde_json::from_str(st)
                {
                    out.push((e.to_string(), state));
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Parks a job until its endpoint is enabled again. Idempotent for the
    /// same job and arrival time.
    pub async fn park(
        &self,
        endpoint: &str,
        job_id: &str,
        body: &str,
        arrived_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), String> {
        let ns = arrived_at.unix_timestamp_nanos().max(0);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(endpoint_pk(endpoint)))
            .item("sk", s(format!("parked#{ns:020}#{job_id}")))
            .item("job_id", s(job_id))
            .item("body", s(body))
            .item(TTL_ATTRIBUTE, n(expires_at.unix_timestamp()))
            .send()
            .await
            .map_err(err)?;
        Ok(())
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
                    arrived_at: OffsetDateTime::from_unix_timestamp_nanos(ns).ok()?,
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

    pub async fn delete_parked(&self, endpoint: &str, sks: &[String]) -> Result<(), String> {
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
            for _ in 0..5 {
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(err)?;
                match out.unprocessed_items {
                    Some(left) if !left.is_empty() => pending = left,
                    _ => break,
                }
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
}
