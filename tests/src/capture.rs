//! Requests as the SDK sends them: an interceptor that keeps the body of
//! every call of one operation, for what moto accepts but does not keep
//! (it drops the system attributes of SendMessageBatch entries).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::sync::{Arc, Mutex};

/// The bodies of the calls of one operation (`"SendMessageBatch"`, ...).
#[derive(Debug)]
pub struct Captured {
    operation: &'static str,
    bodies: Mutex<Vec<String>>,
}

impl Captured {
    pub fn new(operation: &'static str) -> Arc<Self> {
        Arc::new(Self {
            operation,
            bodies: Mutex::new(Vec::new()),
        })
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }

    pub fn layer(self: &Arc<Self>) -> CaptureLayer {
        CaptureLayer(Arc::clone(self))
    }
}

#[derive(Debug)]
pub struct CaptureLayer(Arc<Captured>);

impl Intercept for CaptureLayer {
    fn name(&self) -> &'static str {
        "hookrelay-test-capture"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == self.0.operation)
        {
            let body = ctx
                .request()
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            self.0.bodies.lock().unwrap().push(body);
        }
        Ok(())
    }
}
