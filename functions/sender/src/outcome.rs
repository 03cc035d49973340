//! Last stage: what becomes of a record, after an attempt or instead of
//! one. A success is recorded for the endpoint's health; a failure is
//! counted, then the record is retried on the endpoint's schedule (its
//! visibility moved to the next delay), parked (the failure disabled the
//! endpoint) or dead-lettered (schedule exhausted, 410 Gone, or a job that
//! can never succeed). Nothing is deleted before it is delivered, parked,
//! or safely in the dead-letter queue.

use crate::context::{Context, endpoint_dimension};
use crate::deliver::AttemptResult;
use crate::prepare::Ready;
use crate::record::{Record, Verdict};
use hookrelay_shared::dead_letter::{DeadLetter, DeadReason};
use hookrelay_shared::health::{Disabled, Outcome, ParkError, ParkRequest};
use hookrelay_shared::job::DeliveryJob;
use hookrelay_shared::metrics::names::{
    CLASS, DEAD_LETTERED, DELIVERED, DELIVERY_FAILED, ENDPOINTS_DISABLED, JOB_AGE, PARKED, REASON,
    RETRIED, failure_class,
};
use hookrelay_shared::ops_event::{
    AttemptFailed, DeadLetterQueue, Detail, MessageDeadLettered, OpsEvent, bounded,
};
use hookrelay_shared::retry::{bounded_retry_after, infra_retry_delay, visibility_cap};
use std::time::Duration;

/// Spread of the waits after infrastructure failures (Secrets Manager, the
/// state table or the DLQ unavailable), so instances do not all come back
/// at the same moment when it recovers.
const INFRA_JITTER: f64 = 0.2;

/// Settles a record after its delivery attempt number `attempt`.
pub(crate) async fn after_attempt(
    ctx: &Context,
    r: &Ready<'_>,
    attempt: u32,
    result: AttemptResult,
) -> Verdict {
    let rules = r
        .endpoint
        .config
        .health
        .as_ref()
        .map(|h| h.over(&ctx.settings.rules))
        .unwrap_or(ctx.settings.rules);
    let endpoint = r.job.endpoint.as_str();
    let own = endpoint_dimension(&r.endpoint, endpoint);
    let dims: Vec<_> = own.into_iter().collect();
    match result {
        AttemptResult::Delivered { status } => {
            ctx.metrics.count(&DELIVERED, &dims, 1);
            let age = ctx.clock.now() - r.job.created_at;
            ctx.metrics
                .observe(&JOB_AGE, &dims, age.whole_milliseconds() as f64);
            if let Err(e) = ctx
                .health
                .record(endpoint, Outcome::Success, &status.to_string(), &rules)
                .await
            {
                tracing::warn!(endpoint, error = e, "could not record a success");
            }
            Verdict::Delete
        }
        AttemptResult::Failed {
            status,
            retry_after,
            gone,
            error,
        } => {
            let class = [(CLASS, failure_class(&status))];
            ctx.metrics
                .count(&DELIVERY_FAILED, &[&class[..], &dims].concat(), 1);
            count_first_failure(ctx, &r.rec).await;
            let outcome = if gone {
                Outcome::Gone
            } else {
                Outcome::Failure
            };
            let disabled = match ctx.health.record(endpoint, outcome, &status, &rules).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(endpoint, error = e, "could not record a failure");
                    None
                }
            };
            if let Some(d) = &disabled {
                announce(ctx, endpoint, d).await;
            }
            if gone {
                return dead_letter_after(
                    ctx,
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
                && let Some(verdict) = park(ctx, &r.rec, &r.job, &d.reason, false).await
            {
                // This failure disabled the endpoint: keep the job for the replay.
                return verdict;
            }
            match r.endpoint.schedule.delay_after(attempt, ctx.jitter()) {
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
                    ctx.metrics.count(&RETRIED, &dims, 1);
                    retry(ctx, &r.rec, Some(delay)).await
                }
                None => {
                    dead_letter_after(
                        ctx,
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

async fn announce(ctx: &Context, endpoint: &str, d: &Disabled) {
    tracing::warn!(endpoint, trigger = ?d.trigger, reason = d.reason, "endpoint disabled");
    ctx.metrics.count(&ENDPOINTS_DISABLED, &[], 1);
    if let Err(e) = ctx.notifier.endpoint_disabled(endpoint, d).await {
        tracing::error!(endpoint, error = e, "could not send the disable notice");
    }
}

/// `message.dead_lettered` on the notice topic. A failure to publish is
/// logged: the job is safely in the dead-letter queue either way.
async fn announce_dead_letter(
    ctx: &Context,
    rec: &Record<'_>,
    attempts: u32,
    endpoint: &str,
    reason: DeadReason,
    status: &str,
    error: &str,
) {
    #[derive(serde::Deserialize)]
    struct Ids {
        id: Option<String>,
        event_id: Option<String>,
    }
    let ids = serde_json::from_str::<Ids>(rec.body).ok();
    let detail = Detail::MessageDeadLettered(MessageDeadLettered {
        queue: DeadLetterQueue::Outbound,
        message_id: rec.id.to_string(),
        job_id: ids.as_ref().and_then(|i| i.id.clone()),
        event_id: ids.and_then(|i| i.event_id),
        endpoint: (!endpoint.is_empty()).then(|| endpoint.to_string()),
        reason: reason.as_str().to_string(),
        attempts: Some(attempts),
        last_status: Some(status.to_string()),
        error: bounded(error, 256),
    });
    if let Err(e) = ctx
        .notifier
        .publish(&OpsEvent::new(detail, ctx.clock.now()))
        .await
    {
        tracing::warn!(
            message_id = rec.id,
            error = e,
            "could not publish message.dead_lettered"
        );
    }
}

/// `attempt.failed`, when the deployment asks for it
/// (`HOOKRELAY_ATTEMPT_FAILED_EVENTS`), after the failed attempt number
/// `attempt` was settled with `verdict`.
pub(crate) async fn attempt_failed(
    ctx: &Context,
    r: &Ready<'_>,
    attempt: u32,
    status: &str,
    verdict: Verdict,
) {
    if !ctx.settings.attempt_failed_events {
        return;
    }
    let detail = Detail::AttemptFailed(AttemptFailed {
        job_id: r.job.id.clone(),
        endpoint: r.job.endpoint.clone(),
        event_type: r.job.event_type.clone(),
        attempt,
        max_attempts: r.endpoint.schedule.max_attempts(),
        status: status.to_string(),
        class: failure_class(status).to_string(),
        next_attempt_in_secs: match verdict {
            Verdict::Retry(after) => Some(after.map(|d| d.as_secs()).unwrap_or(0)),
            Verdict::Delete => None,
        },
    });
    if let Err(e) = ctx
        .notifier
        .publish(&OpsEvent::new(detail, ctx.clock.now()))
        .await
    {
        tracing::warn!(
            job_id = r.job.id,
            error = e,
            "could not publish attempt.failed"
        );
    }
}

/// How many times a count is tried before the record is given up for this
/// receive: a repeat is harmless (counts are per receive), and one that
/// follows a lost answer finds the count already made.
const COUNT_TRIES: usize = 3;

async fn count(ctx: &Context, rec: &Record<'_>) -> Result<Option<u32>, String> {
    let mut last = String::new();
    for _ in 0..COUNT_TRIES {
        match ctx.attempts.count(rec.id, rec.receives).await {
            Ok(n) => return Ok(n),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The number of the attempt about to be made, counted before it is
/// made (see `hookrelay_shared::attempts`): 1 on a first receive (nothing
/// written), otherwise the count after this one. `None`: it could not be
/// counted, so it must not be made.
pub(crate) async fn count_before(ctx: &Context, rec: &Record<'_>) -> Option<u32> {
    if rec.receives <= 1 {
        return Some(1);
    }
    match count(ctx, rec).await {
        // Never above the receives (each receive is at most one attempt).
        Ok(Some(n)) => Some(n.clamp(1, rec.receives)),
        Ok(None) => Some(rec.receives),
        Err(e) => {
            tracing::warn!(
                message_id = rec.id,
                error = e,
                "could not count the attempt; not attempting it, will retry"
            );
            None
        }
    }
}

/// After a first receive's attempt failed: records it (later receives
/// count before attempting). If that cannot be written, later receives
/// count every receive before them as an attempt.
async fn count_first_failure(ctx: &Context, rec: &Record<'_>) {
    if rec.receives <= 1
        && let Err(e) = count(ctx, rec).await
    {
        tracing::warn!(
            message_id = rec.id,
            error = e,
            "could not count the first attempt; later receives will count every earlier one"
        );
    }
}

/// Counts a failed attempt that made no request (an invalid endpoint
/// configuration) and returns its number; the receive count when it
/// cannot be counted (the schedule may end early, never late).
pub(crate) async fn count_without_request(ctx: &Context, rec: &Record<'_>) -> u32 {
    match count(ctx, rec).await {
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

/// The record was received and not attempted (held behind a failing one,
/// a failure of our own, the invocation's deadline): on a first receive
/// that is recorded, so that later receives do not count it.
pub(crate) async fn not_attempted(ctx: &Context, rec: &Record<'_>) {
    if let Err(e) = ctx.attempts.not_attempted(rec.id, rec.receives).await {
        tracing::warn!(
            message_id = rec.id,
            error = e,
            "could not record a receive without an attempt"
        );
    }
}

/// Attempts made before this receive, for a record settled without one.
async fn attempts_made(ctx: &Context, rec: &Record<'_>) -> u32 {
    match ctx.attempts.made(rec.id, rec.receives).await {
        Ok(Some(n)) => n.min(rec.receives),
        // Unknown: every earlier receive may have been one.
        Ok(None) | Err(_) => rec.receives.saturating_sub(1),
    }
}

/// After a failure that is not the endpoint's, before any attempt on this
/// receive: back off (see [`backoff`]) and record that it was not attempted.
pub(crate) async fn infra_retry(ctx: &Context, rec: &Record<'_>) -> Verdict {
    not_attempted(ctx, rec).await;
    backoff(ctx, rec).await
}

/// Retries after a failure that is not the endpoint's with a wait that
/// grows with the receive count, so an outage spends few of the message's
/// receives.
async fn backoff(ctx: &Context, rec: &Record<'_>) -> Verdict {
    let delay = infra_retry_delay(rec.receives, INFRA_JITTER, ctx.jitter());
    retry(ctx, rec, Some(delay)).await
}

/// Moves the record's next appearance and reports it as failed. The delay
/// is capped by what SQS accepts for this record: 12 hours counted from
/// its receive, not from now.
pub(crate) async fn retry(ctx: &Context, rec: &Record<'_>, after: Option<Duration>) -> Verdict {
    if let Some(asked) = after {
        let cap = visibility_cap(rec.received_at, ctx.clock.now());
        let d = asked.min(cap);
        if d < asked {
            tracing::info!(
                message_id = rec.id,
                asked_secs = asked.as_secs(),
                delay_secs = d.as_secs(),
                "delay capped: SQS counts 12 hours from the receive"
            );
        }
        let secs = i32::try_from(d.as_secs()).unwrap_or(i32::MAX);
        if let Err(e) = ctx.outbound.change_visibility(rec.receipt, secs).await {
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
pub(crate) async fn park(
    ctx: &Context,
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
    match ctx.health.park(request).await {
        Ok(true) => {
            tracing::info!(
                job_id = job.id,
                endpoint = job.endpoint,
                reason = why,
                "job parked: endpoint disabled"
            );
            ctx.metrics.count(&PARKED, &[], 1);
            Some(Verdict::Delete)
        }
        Ok(false) => None,
        Err(e) => {
            let error = match &e {
                ParkError::TooLarge { .. } => format!("{why}; cannot be parked: {e}"),
                _ => format!("{why}; not parked: {e}"),
            };
            Some(
                dead_letter(
                    ctx,
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

/// A job whose schedule ran out on an earlier receive whose dead-lettering
/// failed: `made` attempts, and no more.
pub(crate) async fn past_the_schedule(ctx: &Context, r: &Ready<'_>, made: u32) -> Verdict {
    dead_letter_after(
        ctx,
        &r.rec,
        made,
        &r.job.endpoint,
        DeadReason::RetriesExhausted,
        "-",
        "the schedule ran out on an earlier receive",
    )
    .await
}

/// A unit whose request cannot be made: our configuration's fault, not
/// the endpoint's, so no retries and nothing recorded against its health.
pub(crate) async fn cannot_sign(
    ctx: &Context,
    rec: &Record<'_>,
    endpoint: &str,
    error: &str,
) -> Verdict {
    dead_letter(
        ctx,
        rec,
        endpoint,
        DeadReason::CannotSign,
        "cannot-sign",
        error,
    )
    .await
}

/// Moves the original job body to the DLQ with the reason; the original
/// is deleted only once the DLQ accepted the copy. For a job not attempted
/// on this receive: `hookrelay-attempts` is the count of earlier attempts.
pub(crate) async fn dead_letter(
    ctx: &Context,
    rec: &Record<'_>,
    endpoint: &str,
    reason: DeadReason,
    status: &str,
    error: &str,
) -> Verdict {
    let attempts = attempts_made(ctx, rec).await;
    dead_letter_after(ctx, rec, attempts, endpoint, reason, status, error).await
}

/// [`dead_letter`] with the number of attempts made.
pub(crate) async fn dead_letter_after(
    ctx: &Context,
    rec: &Record<'_>,
    attempts: u32,
    endpoint: &str,
    reason: DeadReason,
    status: &str,
    error: &str,
) -> Verdict {
    let letter = DeadLetter::new(rec.body, reason, error)
        .last_status(status)
        .attempts(attempts)
        .endpoint(endpoint)
        .source_queue(&ctx.settings.source_queue_url)
        .keep(rec.string_attributes())
        .dedup_id(rec.id);
    match ctx.dlq.send(letter.message()).await {
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
            ctx.metrics
                .count(&DEAD_LETTERED, &[(REASON, reason.as_str())], 1);
            announce_dead_letter(ctx, rec, attempts, endpoint, reason, status, error).await;
            Verdict::Delete
        }
        Err(e) => {
            tracing::error!(message_id = rec.id, endpoint, error = %e, "could not move the job to the dead-letter queue; will retry");
            // Perhaps after an attempt on this receive: not recorded as
            // unattempted (its next receive goes to the DLQ without one).
            backoff(ctx, rec).await
        }
    }
}
