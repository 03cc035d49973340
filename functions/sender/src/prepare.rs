//! First stage: a record becomes a job [`Ready`] to deliver, or is settled
//! here. The job is parsed, its endpoint's configuration loaded (cached),
//! and the endpoint's state read: a job of a disabled endpoint (or of one
//! replaying its parked jobs, which new jobs must not overtake) is parked.
//! Jobs that can never succeed go to the dead-letter queue; failures of
//! our own (Secrets Manager, the state table) are retried later.

use crate::context::Context;
use crate::outcome;
use crate::record::{Invocation, Record, Verdict};
use aws_lambda_events::event::sqs::SqsMessage;
use hookrelay_shared::aws::secrets_manager::{ConfigKind, SecretNames};
use hookrelay_shared::dead_letter::DeadReason;
use hookrelay_shared::endpoint::{Endpoint, valid_endpoint_name};
use hookrelay_shared::health::Parking;
use hookrelay_shared::job::DeliveryJob;
use hookrelay_shared::retry::RetrySchedule;
use hookrelay_shared::secrets::CacheError;
use std::sync::Arc;

/// A record ready to deliver: its job and its endpoint's configuration.
pub(crate) struct Ready<'a> {
    pub rec: Record<'a>,
    pub job: DeliveryJob,
    pub endpoint: Arc<Endpoint>,
}

/// What the first stage made of a record. (Moved once per record: boxing
/// the large variant would only add an allocation.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Prepared<'a> {
    Ready(Ready<'a>),
    /// Parked, dead-lettered, dropped or to be retried: nothing to deliver.
    Settled(Verdict),
}

pub(crate) async fn prepare<'a>(
    ctx: &Context,
    inv: &Invocation,
    msg: &'a SqsMessage,
) -> Prepared<'a> {
    let Some(rec) = Record::read(msg, inv) else {
        tracing::error!("record without message id or receipt handle");
        return Prepared::Settled(Verdict::Retry(None));
    };
    if !inv.has_room(ctx.clock.now()) {
        // Nothing is started that the invocation's end could cut off.
        outcome::not_attempted(ctx, &rec).await;
        return Prepared::Settled(Verdict::Retry(None));
    }
    match ready(ctx, rec).await {
        Ok(r) => Prepared::Ready(r),
        Err(v) => Prepared::Settled(v),
    }
}

async fn ready<'a>(ctx: &Context, rec: Record<'a>) -> Result<Ready<'a>, Verdict> {
    let job: DeliveryJob = match serde_json::from_str(rec.body) {
        Ok(j) => j,
        Err(e) => {
            let error = format!("not a delivery job: {e}");
            return Err(
                outcome::dead_letter(ctx, &rec, "", DeadReason::InvalidJob, "-", &error).await,
            );
        }
    };
    if let Err(e) = job.check() {
        // A producer's mistake: sending it would fail in the HTTP client,
        // which must not count against the endpoint's health.
        let error = format!("not a deliverable job: {e}");
        return Err(outcome::dead_letter(
            ctx,
            &rec,
            &job.endpoint,
            DeadReason::InvalidJob,
            "-",
            &error,
        )
        .await);
    }
    if !valid_endpoint_name(&job.endpoint) {
        let error = format!("invalid endpoint name {:?}", job.endpoint);
        return Err(outcome::dead_letter(
            ctx,
            &rec,
            &job.endpoint,
            DeadReason::UnknownEndpoint,
            "-",
            &error,
        )
        .await);
    }
    let secret =
        SecretNames::new(&ctx.settings.secrets_prefix).of(ConfigKind::Endpoint, &job.endpoint);
    let endpoint = match ctx.endpoints.get(&secret).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            let error = format!("no endpoint configuration at {secret}");
            return Err(outcome::dead_letter(
                ctx,
                &rec,
                &job.endpoint,
                DeadReason::UnknownEndpoint,
                "-",
                &error,
            )
            .await);
        }
        Err(CacheError::Unavailable(e)) => {
            tracing::error!(job_id = job.id, endpoint = job.endpoint, error = %e, "endpoint configuration unavailable; will retry");
            return Err(outcome::infra_retry(ctx, &rec).await);
        }
        Err(CacheError::Invalid { reason, .. }) => {
            return Err(config_invalid(ctx, &rec, &job, &reason).await);
        }
    };
    if let Some(longest) = ctx.settings.longest_attempt()
        && endpoint.timeout > longest
    {
        let reason = format!(
            "timeout_secs: {} s is more than the sender's function timeout can hold (at most {} s)",
            endpoint.timeout.as_secs(),
            longest.as_secs()
        );
        return Err(config_invalid(ctx, &rec, &job, &reason).await);
    }
    let mut endpoint = endpoint;
    if !endpoint.config.enabled
        && let Ok(Some(Some(fresh))) = ctx.endpoints.refresh(&secret).await
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
    let parking = match ctx.health.parking(&job.endpoint).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(
                endpoint = job.endpoint,
                error = e,
                "endpoint state unavailable; will retry"
            );
            return Err(outcome::infra_retry(ctx, &rec).await);
        }
    };
    let why = match parking {
        Parking::Disabled(d) => Some(d.reason),
        // New jobs wait behind the parked ones being replayed.
        Parking::Replaying if !rec.is_replay() => Some("replaying its parked jobs".to_string()),
        _ if switched_off => Some("disabled in its configuration".to_string()),
        _ => None,
    };
    if let Some(why) = why
        && let Some(verdict) = outcome::park(ctx, &rec, &job, &why, switched_off).await
    {
        return Err(verdict);
    }
    Ok(Ready { rec, job, endpoint })
}

/// The endpoint's configuration is invalid. That counts as a failed
/// attempt on the default schedule: fixing the configuration within it
/// lets the job through. The reason names fields, never values
/// (`config_error`).
async fn config_invalid(
    ctx: &Context,
    rec: &Record<'_>,
    job: &DeliveryJob,
    reason: &str,
) -> Verdict {
    let attempt = outcome::count_without_request(ctx, rec).await;
    tracing::error!(
        job_id = job.id,
        endpoint = job.endpoint,
        attempt,
        reason,
        "endpoint configuration invalid"
    );
    match RetrySchedule::default().delay_after(attempt, ctx.jitter()) {
        Some(d) => outcome::retry(ctx, rec, Some(d)).await,
        None => {
            outcome::dead_letter_after(
                ctx,
                rec,
                attempt,
                &job.endpoint,
                DeadReason::RetriesExhausted,
                "config-invalid",
                reason,
            )
            .await
        }
    }
}
