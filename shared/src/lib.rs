//! hookrelay's library: everything the Lambda functions and the CLI share.
//!
//! - [`schemes`]: signature schemes, one table for signing and verifying;
//! - [`envelope`]: the versioned message the receiver puts on the inbound queue;
//! - [`source`]: a receiver source's configuration (a Secrets Manager secret);
//! - [`secrets`]: the Secrets Manager port, its adapter and a typed TTL cache;
//! - [`config_error`]: parsing configuration secrets without quoting values in errors;
//! - [`attempts`]: real delivery attempts per message (the receive count overcounts);
//! - [`queue`]: the SQS port and adapter;
//! - [`aws`]: building SDK clients once, with one TLS stack;
//! - [`clock`]: time as a port.

pub mod attempts;
pub mod attributes;
pub mod aws;
pub mod clock;
pub mod config_error;
pub mod dead_letter;
pub mod endpoint;
pub mod env;
pub mod envelope;
pub mod event;
pub mod health;
pub mod health_store;
pub mod job;
pub mod js_stringify;
pub mod json_pointer;
pub mod local_esm;
pub mod outbound;
pub mod queue;
pub mod retry;
pub mod schemes;
pub mod secrets;
pub mod source;
pub mod state_table;
