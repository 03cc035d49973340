//! hookrelay's library: everything the Lambda functions and the CLI share.
//!
//! Messages and configuration:
//! - [`envelope`], [`job`], [`event`]: the versioned messages of the inbound,
//!   outbound and events queues;
//! - [`attributes`]: the SQS message attribute names, in one place;
//! - [`source`], [`endpoint`]: a receiver source's and a subscriber
//!   endpoint's configuration;
//! - [`config_error`]: parsing those secrets without quoting values in errors;
//! - [`env`](mod@env): a function's settings from its environment, wrong values refused.
//!
//! Signing and delivering:
//! - [`schemes`]: signature schemes, one table for signing and verifying;
//! - [`js_stringify`]: `JSON.stringify` byte for byte (Leanbe);
//! - [`json_pointer`]: RFC 6901 lookups on raw JSON;
//! - [`outbound`]: the HTTP transport port, its reqwest adapter and the
//!   network guard;
//! - [`retry`]: retry schedules as data, `Retry-After`, SQS's visibility limit.
//!
//! Ports (the domain side):
//! - [`secrets`]: the configuration secrets port and a typed TTL cache;
//! - [`queue`]: the queue ports, batch packing;
//! - [`dead_letter`]: the dead-letter message (the body and why);
//! - [`health`]: endpoint health and the auto-disable rules, pure logic,
//!   and the health and notifier ports;
//! - [`attempts`]: real delivery attempts per message (the receive count overcounts);
//! - [`enable`]: enabling an endpoint as one unit (begin the replay, switch on, wait, replay);
//! - [`clock`]: time as a port.
//!
//! Adapters: [`aws`], one module per service (`aws::sqs`,
//! `aws::secrets_manager`, `aws::dynamodb` with the state table, `aws::sns`),
//! and the SDK configuration built once with one TLS stack.
//!
//! Operations: [`metrics`], counts in CloudWatch's embedded metric format
//! (the metric names in [`metrics::names`]); [`ops_event`], the typed
//! operational events published on the notice topic.
//!
//! The local stand-in for Lambda's SQS event source mapping (`hookrelay dev`)
//! is development tooling: it is in the CLI (`hookrelay_cli::local_esm`).

pub mod attempts;
pub mod attributes;
pub mod aws;
pub mod clock;
pub mod config_error;
pub mod dead_letter;
pub mod enable;
pub mod endpoint;
pub mod env;
pub mod envelope;
pub mod event;
// The bodies of the `cargo fuzz` targets (fuzz/): `cargo test` replays the
// committed corpora through them; `cargo fuzz` builds with `--cfg fuzzing`.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod job;
pub mod js_stringify;
pub mod json_pointer;
pub mod metrics;
pub mod ops_event;
pub mod outbound;
pub mod queue;
pub mod retry;
pub mod schemes;
pub mod secrets;
pub mod source;
