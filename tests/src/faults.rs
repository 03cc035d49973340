//! Faults in front of a real AWS client (moto): an SDK interceptor that
//! makes chosen calls of one operation fail, either before the request is
//! sent (the call failed and changed nothing) or after the answer came
//! back (the call took effect and its answer was lost). The adapter under
//! test runs unchanged, over the real SDK.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fails before it is sent.
    Fail,
    /// Sent and applied; the caller gets an error instead of the answer.
    LoseAnswer,
}

#[derive(Debug, Default)]
struct State {
    every: Option<Fault>,
    next: VecDeque<Fault>,
    calls: usize,
    injected: usize,
}

/// The faults to inject into calls of one operation (`"UpdateItem"`, ...).
#[derive(Debug)]
pub struct Faults {
    operation: &'static str,
    state: Mutex<State>,
}

impl Faults {
    pub fn new(operation: &'static str) -> Arc<Self> {
        Arc::new(Self {
            operation,
            state: Mutex::new(State::default()),
        })
    }

    /// Every call gets `fault` until this is called again with `None`.
    pub fn every(&self, fault: Option<Fault>) {
        self.state.lock().unwrap().every = fault;
    }

    /// The next call (after those already queued) gets `fault`.
    pub fn next(&self, fault: Fault) {
        self.state.lock().unwrap().next.push_back(fault);
    }

    /// Calls of the operation seen, and faults injected into them.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap();
        (s.calls, s.injected)
    }

    /// The interceptor to give the client's configuration.
    pub fn layer(self: &Arc<Self>) -> FaultLayer {
        FaultLayer(Arc::clone(self))
    }

    fn applies(&self, cfg: &ConfigBag) -> bool {
        cfg.load::<Metadata>()
            .is_some_and(|m| m.name() == self.operation)
    }
}

#[derive(Debug)]
pub struct FaultLayer(Arc<Faults>);

impl Intercept for FaultLayer {
    fn name(&self) -> &'static str {
        "hookrelay-test-faults"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.0.applies(cfg) {
            return Ok(());
        }
        let mut s = self.0.state.lock().unwrap();
        s.calls += 1;
        let fault = match s.next.front() {
            Some(Fault::Fail) => s.next.pop_front(),
            Some(Fault::LoseAnswer) => None,
            None => s.every.filter(|f| *f == Fault::Fail),
        };
        if fault.is_some() {
            s.injected += 1;
            return Err("injected fault: the call failed".into());
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.0.applies(cfg) {
            return Ok(());
        }
        let mut s = self.0.state.lock().unwrap();
        let fault = match s.next.front() {
            Some(Fault::LoseAnswer) => s.next.pop_front(),
            Some(Fault::Fail) => None,
            None => s.every.filter(|f| *f == Fault::LoseAnswer),
        };
        if fault.is_some() {
            s.injected += 1;
            return Err("injected fault: the answer was lost".into());
        }
        Ok(())
    }
}
