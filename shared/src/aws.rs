//! Building AWS SDK configuration once per process.
//!
//! All SDK clients share one HTTP client on rustls with the `ring` provider,
//! the same TLS stack the sender's `reqwest` client uses: the SDK's default
//! features would add aws-lc-rs as a second one (build time, binary size,
//! cold start). Endpoints come from the standard environment
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SQS`, ...), which is how local
//! runs and tests point the real SDK at moto server.

use aws_config::{BehaviorVersion, SdkConfig};

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Loads the SDK configuration from the environment (Lambda's role
/// credentials, region, endpoint overrides).
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// The SDK's configuration loader with hookrelay's HTTP client, for callers
/// that set more (the CLI's `--endpoint-url`, tests pointing at moto).
pub fn loader() -> aws_config::ConfigLoader {
    install_crypto_provider();
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client)
}

/// Makes `ring` the process-wide rustls provider (reqwest is built without
/// one of its own). Idempotent.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A required environment variable, with an error that names it.
pub fn env_required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("environment variable {name} is not set"))
}
