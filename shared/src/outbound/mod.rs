//! Outbound HTTP: the transport port the sender delivers through, its
//! reqwest adapter, and the network guard that keeps deliveries away from
//! private addresses.

pub mod netguard;
pub mod transport;

pub use netguard::NetworkPolicy;
pub use transport::{
    AttemptError, HttpRequest, HttpResponse, ReqwestTransport, Transport, header_is_sendable,
};
