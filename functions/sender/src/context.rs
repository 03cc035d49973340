//! What every stage works with: the ports, the endpoint configuration
//! cache and the deployment's settings (svix-server's `WorkerContext`).

use crate::settings::Settings;
use hookrelay_shared::attempts::AttemptLog;
use hookrelay_shared::clock::Clock;
use hookrelay_shared::endpoint::Endpoint;
use hookrelay_shared::health::{EndpointHealth, Notifier};
use hookrelay_shared::metrics::Metrics;
use hookrelay_shared::metrics::names::ENDPOINT;
use hookrelay_shared::outbound::Transport;
use hookrelay_shared::queue::{MessageControl, Queue};
use hookrelay_shared::secrets::ConfigCache;
use std::sync::Arc;

pub(crate) struct Context {
    pub endpoints: ConfigCache<Endpoint>,
    pub transport: Arc<dyn Transport>,
    pub outbound: Arc<dyn MessageControl>,
    pub dlq: Arc<dyn Queue>,
    pub health: Arc<dyn EndpointHealth>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
    pub attempts: Arc<dyn AttemptLog>,
    pub jitter: Box<dyn Fn() -> f64 + Send + Sync>,
    pub settings: Settings,
    pub metrics: Metrics,
}

impl Context {
    /// A random number in [-1, 1] that picks a delay's jitter.
    pub fn jitter(&self) -> f64 {
        (self.jitter)()
    }
}

/// The `Endpoint` dimension, for an endpoint whose configuration asks for
/// metrics of its own (`"metrics": true`); none otherwise, so endpoints
/// cost no metrics unless they opt in.
pub(crate) fn endpoint_dimension<'a>(
    endpoint: &Endpoint,
    name: &'a str,
) -> Option<(&'static str, &'a str)> {
    endpoint.config.metrics.then_some((ENDPOINT, name))
}
