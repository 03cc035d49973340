//! Enabling an endpoint, as one unit (`hookrelay endpoints enable`).
//!
//! The sequence, and why in this order:
//! 1. **begin the replay** ([`begin_replay`]): the endpoint is no longer
//!    disabled but *replaying*, in which senders keep parking new jobs, so
//!    none overtakes the backlog;
//! 2. **switch the configuration on** (`"enabled": true`) when it was off,
//!    only now, so that a sender seeing it on already finds the endpoint
//!    replaying;
//! 3. **wait for the senders' caches**: their cached state (5 s), and for a
//!    configuration that was off, the 30 s after which a sender looks at a
//!    switched-off configuration again;
//! 4. **finish** ([`finish_replay`]): replay the parked jobs in creation
//!    order and end the replaying state only when nothing was parked behind
//!    the replay.
//!
//! A park that was decided from a state or configuration older than the
//! end of the replay cannot be left behind by it: parks are conditional
//! (`state_table::ParkWhile`), see `DynamoHealth::park`.

use crate::aws::dynamodb::health::{STATE_CACHE_TTL, begin_replay, finish_replay};
use crate::aws::dynamodb::state_table::StateTable;
use crate::health::{Disabled, Parking};
use crate::queue::Queue;
use crate::secrets::CacheSettings;
use async_trait::async_trait;
use std::time::Duration;

/// Where an endpoint is switched on and off: `"enabled"` in its
/// configuration.
#[async_trait]
pub trait EndpointSwitch: Send + Sync {
    /// Whether the endpoint is on in its configuration; `Ok(None)`: there
    /// is no such endpoint.
    async fn is_on(&self, endpoint: &str) -> Result<Option<bool>, String>;
    /// Sets `"enabled": true` in its configuration.
    async fn switch_on(&self, endpoint: &str) -> Result<(), String>;
}

/// How long an enable waits before it replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnableSettings {
    /// For the senders' cached state (a little more than
    /// [`STATE_CACHE_TTL`]).
    pub settle: Duration,
    /// How often a sender looks at a switched-off configuration again (the
    /// secrets cache's forced-refresh interval); an endpoint that was off
    /// waits a second longer than this.
    pub config_recheck: Duration,
}

impl Default for EnableSettings {
    fn default() -> Self {
        Self {
            settle: STATE_CACHE_TTL + Duration::from_secs(1),
            config_recheck: CacheSettings::default().min_refresh_interval,
        }
    }
}

impl EnableSettings {
    /// The wait before the replay: `settle`, and for an endpoint that was
    /// switched off, past the senders' next look at its configuration.
    pub fn wait(&self, was_switched_off: bool) -> Duration {
        if was_switched_off {
            self.settle
                .max(self.config_recheck + Duration::from_secs(1))
        } else {
            self.settle
        }
    }
}

/// Where parked jobs are (the state table) and go back to (the outbound
/// queue).
#[derive(Clone, Copy)]
pub struct Parked<'a> {
    pub table: &'a StateTable,
    pub outbound: &'a dyn Queue,
}

/// A step of the enable, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `"enabled": true` was written to the configuration.
    SwitchedOn,
    /// Waiting this long for the senders before replaying.
    Waiting(Duration),
}

/// What an enable did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enabled {
    /// It was not disabled, not switched off and had nothing parked.
    NothingToDo,
    /// No state table: only the configuration could be looked at.
    ConfigurationOnly { switched_on: bool },
    Replayed {
        /// It was disabled (automatically or by hand).
        was_disabled: bool,
        /// It was switched off in its configuration and is now on.
        switched_on: bool,
        /// Parked jobs put back on the outbound queue, in creation order.
        replayed: usize,
        /// Disabled again during the replay (e.g. it answered 410): the
        /// rest stays parked, in order, for the next enable.
        disabled_again: Option<Disabled>,
    },
}

/// Enables an endpoint: begin the replay, switch the configuration on,
/// wait for the senders, replay and finish (see the module docs). Without
/// a state table (`parked` is `None`) there is only the configuration. An
/// interrupted enable leaves the endpoint replaying; calling this again
/// resumes it.
pub async fn enable(
    switch: &dyn EndpointSwitch,
    parked: Option<Parked<'_>>,
    endpoint: &str,
    settings: &EnableSettings,
    on_step: &(dyn Fn(Step) + Send + Sync),
) -> Result<Enabled, String> {
    let switched_off = !switch
        .is_on(endpoint)
        .await?
        .ok_or_else(|| format!("no endpoint {endpoint}"))?;
    let Some(Parked { table, outbound }) = parked else {
        if switched_off {
            switch.switch_on(endpoint).await?;
            on_step(Step::SwitchedOn);
        }
        return Ok(Enabled::ConfigurationOnly {
            switched_on: switched_off,
        });
    };
    let (state, _) = table.load(endpoint).await?;
    if !switched_off
        && state.parking() == Parking::No
        && table.parked(endpoint, 1).await?.is_empty()
    {
        return Ok(Enabled::NothingToDo);
    }
    // Replaying first, so that from now on senders park new jobs behind
    // the backlog; only then switch the configuration on.
    let was_disabled = begin_replay(table, endpoint, table.now()).await?;
    if switched_off {
        switch.switch_on(endpoint).await?;
        on_step(Step::SwitchedOn);
    }
    let wait = settings.wait(switched_off);
    if !wait.is_zero() {
        on_step(Step::Waiting(wait));
    }
    let (replayed, disabled_again) = finish_replay(table, endpoint, outbound, wait).await?;
    Ok(Enabled::Replayed {
        was_disabled,
        switched_on: switched_off,
        replayed,
        disabled_again,
    })
}

/// Publishes `endpoint.enabled` (`crate::ops_event`) when the enable
/// brought the endpoint back: it was disabled or switched off, and it was
/// not disabled again during the replay. Returns whether it published.
pub async fn announce(
    notifier: &dyn crate::health::Notifier,
    endpoint: &str,
    done: &Enabled,
    now: time::OffsetDateTime,
) -> Result<bool, String> {
    use crate::ops_event::{Detail, EndpointEnabled, OpsEvent};
    let replayed = match done {
        Enabled::Replayed {
            was_disabled,
            switched_on,
            replayed,
            disabled_again: None,
        } if *was_disabled || *switched_on => *replayed,
        Enabled::ConfigurationOnly { switched_on: true } => 0,
        _ => return Ok(false),
    };
    let detail = Detail::EndpointEnabled(EndpointEnabled {
        endpoint: endpoint.to_string(),
        replayed,
    });
    notifier.publish(&OpsEvent::new(detail, now)).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_that_was_switched_off_waits_past_the_senders_next_look_at_it() {
        let s = EnableSettings::default();
        assert!(s.settle > STATE_CACHE_TTL, "past the state cache");
        assert_eq!(s.wait(false), s.settle);
        assert_eq!(s.wait(true), Duration::from_secs(31));
        let short = EnableSettings {
            settle: Duration::ZERO,
            config_recheck: Duration::ZERO,
        };
        assert_eq!(short.wait(false), Duration::ZERO);
        assert_eq!(short.wait(true), Duration::from_secs(1));
    }
}
