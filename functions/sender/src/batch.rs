//! A batch through the stages: `prepare` each record, `deliver` what is
//! ready (each attempt counted between building its request and sending
//! it), settle each result (`outcome`), and answer Lambda with the records
//! to retry.
//!
//! Records whose order matters (FIFO message groups, replays of parked
//! jobs) go one after the other per group; everything else concurrently.

use crate::context::{Context, endpoint_dimension};
use crate::deliver::{self, CannotSign, Unit};
use crate::outcome;
use crate::prepare::{self, Prepared, Ready};
use crate::record::{Invocation, Record, Verdict};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use hookrelay_shared::attributes::{ENDPOINT, REPLAY_SEQ};
use hookrelay_shared::metrics::names::ANSWER_TIME;
use std::sync::Arc;
use time::OffsetDateTime;
use tracing::Instrument;

/// Handles one batch. Never fails as a whole: every record gets its own verdict.
pub(crate) async fn handle(
    ctx: &Context,
    event: SqsEvent,
    deadline: Option<OffsetDateTime>,
) -> SqsBatchResponse {
    let inv = Invocation::new(ctx.clock.now(), ctx.settings.batching_window, deadline);
    let (ordered, free): (Vec<&SqsMessage>, Vec<&SqsMessage>) =
        event.records.iter().partition(|r| {
            r.attributes.contains_key("MessageGroupId")
                || r.message_attributes.contains_key(REPLAY_SEQ)
        });
    let (mut verdicts, rest) = futures::join!(
        ordered_groups(ctx, &inv, ordered),
        concurrently(ctx, &inv, free)
    );
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

/// Every log line about a record names its message id...
fn record_span(msg: &SqsMessage) -> tracing::Span {
    tracing::info_span!(
        "record",
        message_id = msg.message_id.as_deref().unwrap_or("")
    )
}

/// ...and, once it is a job being delivered, the job's id, its event's id
/// (fanned out) and its endpoint, so one id finds a webhook's whole path.
fn unit_span(unit: &Unit<'_>) -> tracing::Span {
    let jobs: Vec<&str> = unit.records.iter().map(|r| r.job.id.as_str()).collect();
    let first = &unit.records[0].job;
    tracing::info_span!(
        "delivery",
        job_id = jobs.join(","),
        event_id = first.event_id.as_deref().unwrap_or(""),
        endpoint = first.endpoint.as_str()
    )
}

fn message_id(msg: &SqsMessage) -> String {
    msg.message_id.clone().unwrap_or_default()
}

/// Ordered records: FIFO message groups (one per endpoint) and, on
/// standard queues, replays of parked jobs (grouped by endpoint, sorted by
/// their replay sequence). A group is handled in order, and once one
/// record must be retried, the rest of its group is returned unprocessed,
/// as Lambda requires for ordered partial batches. Groups run
/// concurrently. Those records were received but not attempted: nothing
/// counts that as an attempt.
async fn ordered_groups(
    ctx: &Context,
    inv: &Invocation,
    records: Vec<&SqsMessage>,
) -> Vec<(String, Verdict)> {
    let attr = |r: &SqsMessage, k: &str| {
        r.message_attributes
            .get(k)
            .and_then(|a| a.string_value.clone())
    };
    // (FIFO, group): a FIFO group and a standard queue's replay of the same
    // endpoint never share a batch, but the two are ordered differently.
    let mut groups: Vec<((bool, String), Vec<&SqsMessage>)> = Vec::new();
    for r in records {
        let key = match r.attributes.get("MessageGroupId") {
            Some(g) => (true, g.clone()),
            None => (false, attr(r, ENDPOINT).unwrap_or_default()),
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    for ((fifo, _), v) in &mut groups {
        // A FIFO group is in SQS's order already, the replayed backlog
        // before any job queued after it (a sort by the replay sequence
        // would put those first). A standard queue's replay is not.
        if !*fifo {
            v.sort_by_key(|r| attr(r, REPLAY_SEQ).unwrap_or_default());
        }
    }
    let work: Vec<_> = groups
        .into_iter()
        .map(|(_, records)| in_order(ctx, inv, records))
        .collect();
    let done: Vec<Vec<(String, Verdict)>> = futures::stream::iter(work)
        .buffer_unordered(ctx.settings.concurrency)
        .collect()
        .await;
    done.into_iter().flatten().collect()
}

/// One ordered group, record after record, until one must be retried.
async fn in_order(
    ctx: &Context,
    inv: &Invocation,
    records: Vec<&SqsMessage>,
) -> Vec<(String, Verdict)> {
    let mut out = Vec::with_capacity(records.len());
    let mut blocked = false;
    for msg in records {
        let id = message_id(msg);
        // Behind a record that must be retried, or out of time: returned
        // unprocessed, in order.
        if blocked || !inv.has_room(ctx.clock.now()) {
            if let Some(rec) = Record::read(msg, inv) {
                outcome::not_attempted(ctx, &rec).await;
            }
            blocked = true;
            out.push((id, Verdict::Retry(None)));
            continue;
        }
        let verdict = match prepare::prepare(ctx, inv, msg)
            .instrument(record_span(msg))
            .await
        {
            Prepared::Settled(v) => v,
            Prepared::Ready(ready) => {
                let endpoint = Arc::clone(&ready.endpoint);
                let unit = Unit {
                    records: vec![ready],
                    endpoint,
                };
                let span = unit_span(&unit);
                run_unit(ctx, inv, unit)
                    .instrument(span)
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

/// Records whose order does not matter: all prepared, then delivered,
/// with bounded concurrency.
async fn concurrently(
    ctx: &Context,
    inv: &Invocation,
    records: Vec<&SqsMessage>,
) -> Vec<(String, Verdict)> {
    // Futures are made first and then driven with bounded concurrency: a
    // closure inside the stream would make the handler's future lose `Send`.
    let preparing: Vec<_> = records
        .into_iter()
        .map(|msg| async move {
            let prepared = prepare::prepare(ctx, inv, msg)
                .instrument(record_span(msg))
                .await;
            (message_id(msg), prepared)
        })
        .collect();
    let prepared: Vec<(String, Prepared<'_>)> = futures::stream::iter(preparing)
        .buffer_unordered(ctx.settings.concurrency)
        .collect()
        .await;

    let mut verdicts: Vec<(String, Verdict)> = Vec::new();
    let mut ready: Vec<Ready<'_>> = Vec::new();
    for (id, p) in prepared {
        match p {
            Prepared::Ready(r) => ready.push(r),
            Prepared::Settled(v) => verdicts.push((id, v)),
        }
    }
    // One HTTP request per unit, bounded concurrency.
    let delivering: Vec<_> = deliver::units(ready)
        .into_iter()
        .map(|unit| {
            let span = unit_span(&unit);
            run_unit(ctx, inv, unit).instrument(span)
        })
        .collect();
    let delivered: Vec<Vec<(String, Verdict)>> = futures::stream::iter(delivering)
        .buffer_unordered(ctx.settings.concurrency)
        .collect()
        .await;
    verdicts.extend(delivered.into_iter().flatten());
    verdicts
}

/// Delivers a unit and settles each of its records.
async fn run_unit(ctx: &Context, inv: &Invocation, unit: Unit<'_>) -> Vec<(String, Verdict)> {
    let mut out = Vec::with_capacity(unit.records.len());
    let name = unit.records[0].job.endpoint.clone();
    // An attempt that could be cut off by the invocation's end is not
    // started: the records go back unprocessed and uncounted (a cut-off
    // attempt would be sent again without being counted).
    if !inv.allows(ctx.clock.now(), unit.endpoint.timeout) {
        tracing::info!(
            endpoint = name,
            jobs = unit.records.len(),
            "not attempted: the invocation ends too soon; returned unprocessed"
        );
        for r in &unit.records {
            outcome::not_attempted(ctx, &r.rec).await;
            out.push((r.rec.id.to_string(), Verdict::Retry(None)));
        }
        return out;
    }
    // A unit that cannot be signed is settled before anything is counted.
    let request = match deliver::build(&unit, ctx.clock.now()) {
        Ok(r) => r,
        Err(CannotSign(error)) => return cannot_sign(ctx, &unit, &name, &error, out).await,
    };
    // Each attempt is counted before it is made; one that cannot be
    // counted is not made, and one past the end of the schedule (its
    // dead-lettering failed last time) is dead-lettered without it.
    let Unit { records, endpoint } = unit;
    let all = records.len();
    let mut counted = Vec::with_capacity(all);
    let mut numbers = Vec::with_capacity(all);
    for r in records {
        let verdict = match outcome::count_before(ctx, &r.rec).await {
            None => outcome::infra_retry(ctx, &r.rec).await,
            Some(n) if n > endpoint.schedule.max_attempts() => {
                outcome::past_the_schedule(ctx, &r, n - 1).await
            }
            Some(n) => {
                counted.push(r);
                numbers.push(n);
                continue;
            }
        };
        out.push((r.rec.id.to_string(), verdict));
    }
    if counted.is_empty() {
        return out;
    }
    let unit = Unit {
        records: counted,
        endpoint,
    };
    // A batch unit that lost records is another request (body, id).
    let request = if unit.records.len() == all {
        request
    } else {
        match deliver::build(&unit, ctx.clock.now()) {
            Ok(r) => r,
            Err(CannotSign(error)) => return cannot_sign(ctx, &unit, &name, &error, out).await,
        }
    };
    let started = std::time::Instant::now();
    let results = deliver::send(&*ctx.transport, &*ctx.clock, &unit, request).await;
    let dims: Vec<_> = endpoint_dimension(&unit.endpoint, &name)
        .into_iter()
        .collect();
    ctx.metrics.observe(
        &ANSWER_TIME,
        &dims,
        started.elapsed().as_secs_f64() * 1000.0,
    );
    for ((ready, result), n) in unit.records.iter().zip(results).zip(numbers) {
        let failed = match &result {
            deliver::AttemptResult::Failed { status, .. } => Some(status.clone()),
            deliver::AttemptResult::Delivered { .. } => None,
        };
        let verdict = outcome::after_attempt(ctx, ready, n, result).await;
        if let Some(status) = failed {
            outcome::attempt_failed(ctx, ready, n, &status, verdict).await;
        }
        out.push((ready.rec.id.to_string(), verdict));
    }
    out
}

/// Dead-letters every record of a unit that cannot be signed.
async fn cannot_sign(
    ctx: &Context,
    unit: &Unit<'_>,
    endpoint: &str,
    error: &str,
    mut out: Vec<(String, Verdict)>,
) -> Vec<(String, Verdict)> {
    for r in &unit.records {
        let verdict = outcome::cannot_sign(ctx, &r.rec, endpoint, error).await;
        out.push((r.rec.id.to_string(), verdict));
    }
    out
}
