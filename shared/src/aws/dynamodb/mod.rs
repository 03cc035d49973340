//! The DynamoDB adapters, all on the state table (one on-demand table, see
//! [`state_table`] for its items):
//!
//! - [`state_table`]: the table itself: endpoint health items, parked jobs,
//!   fan-out markers;
//! - [`health`]: the [`EndpointHealth`](crate::health::EndpointHealth) port
//!   on it (cached state, successes counted in memory), parking and replay;
//! - [`attempts`]: the [`AttemptLog`](crate::attempts::AttemptLog) port on it.

pub mod attempts;
pub mod health;
pub mod state_table;
