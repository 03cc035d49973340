//! Last stage: what becomes of a record, after an attempt or instead of
//! one. A success is recorded for the endpoint's health; a failure is
//! counted, then the record is retried on the endpoint's schedule (its
//! visibility moved to the next delay), parked (the failure disabled the
//! endpoint) or dead-lettered (schedule exhausted, 410 Gone, or a job that
//! can never succeed). Nothing is deleted before it is delivered, parked,
//! or safely in the dead-letter queue.

use crate::context::Context;
use crate::deliver::AttemptResult;
use crate::prepare::Ready;
use crate::record::{Record, Verdict};
use hookrelay_shared::dead_letter::{DeadLetter, DeadReason};
use hookrelay_shared::health::{Disabled, Outcome, ParkError, ParkRequest};
use hookrelay_shared::job::DeliveryJob;
use hookrelay_shared::retry::{bounded_retry_after, infra_retry_delay};
use std::time::Duration;

/// Spread of the waits after infrastructure failures (Secrets Manager, the
/// state table or the DLQ unavailable), so instances do not all come back
/// at the same moment when it recovers.
const INFRA_JITTER: f64 = 0.2;

/// Settles a record after its delivery attempt.
pub(crate) async fn after_attempt(ctx: &Context, r: &Ready<'_>, result: AttemptResult) -> Verdict {
    let rules = r
        .endpoint
        .config
        .health
        .as_ref()
        .map(|h| h.over(&ctx.settings.rules))
        .unwrap_or(ctx.settings.rules);
    let endpoint = r.job.endpoint.as_str();
    match result {
        AttemptResult::Delivered { status } => {
            if let Err(e) = ctx
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
            dead_letter(
                ctx,
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
            let attempt = count_failure(ctx, &r.rec).await;
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
    if let Err(e) = ctx.notifier.endpoint_disabled(endpoint, d).await {
        tracing::error!(endpoint, error = e, "could not send the disable notice");
    }
}

/// Counts a failed attempt of the record and returns its number. Falls
/// back to the receive count (never lower than the real count, so a
/// schedule can be cut short but never run past its end).
pub(crate) async fn count_failure(ctx: &Context, rec: &Record<'_>) -> u32 {
    match ctx.attempts.failed(rec.id).await {
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
pub(crate) async fn infra_retry(ctx: &Context, rec: &Record<'_>) -> Verdict {
    let delay = infra_retry_delay(rec.receives, INFRA_JITTER, ctx.jitter());
    retry(ctx, rec, Some(delay)).await
}

/// Moves the record's next appearance and reports it as failed.
pub(crate) async fn retry(ctx: &Context, rec: &Record<'_>, after: Option<Duration>) -> Verdict {
    if let Some(d) = after {
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

/// Moves the original job body to the DLQ with the reason; the original
/// is deleted only once the DLQ accepted the copy. For jobs that were
/// not attempted here the receive count stands in for the attempts.
pub(crate) async fn dead_letter(
    ctx: &Context,
    rec: &Record<'_>,
    endpoint: &str,
    reason: DeadReason,
    status: &str,
    error: &str,
) -> Verdict {
    dead_letter_after(ctx, rec, rec.receives, endpoint, reason, status, error).await
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
            Verdict::Delete
        }
        Err(e) => {
            tracing::error!(message_id = rec.id, endpoint, error = %e, "could not move the job to the dead-letter queue; will retry");
            infra_retry(ctx, rec).await
        }
    }
}
