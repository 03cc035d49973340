//! Test harness shared by the functions' and the CLI's tests.
//!
//! - [`moto`]: a real AWS-compatible server (moto) on loopback, and SDK
//!   clients pointed at it;
//! - [`endpoint`]: an HTTP endpoint on loopback whose answers a test scripts;
//! - [`capture`]: the requests the SDK sends, for what moto does not keep;
//! - [`faults`]: failures injected in front of a real (moto-backed) AWS client;
//! - [`sqs_rules`]: what real SQS refuses and moto accepts, in front of the real adapters;
//! - [`emf_spec`]: CloudWatch's embedded metric format specification, as a validator;
//! - [`platforms`]: the five platforms' own sample code (Python, Node.js,
//!   PHP, Ruby) from `tests/fixtures/platforms`, run as child processes.

pub mod apigw;
pub mod capture;
pub mod emf_spec;
pub mod endpoint;
pub mod faults;
pub mod moto;
pub mod platforms;
pub mod sqs_rules;

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// A short unique name for per-test resources (queues, secrets).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}
