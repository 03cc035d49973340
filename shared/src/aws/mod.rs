//! The AWS adapters, one module per service, and the SDK configuration
//! every client is built from (once per process):
//!
//! - [`sqs`]: the queue ports ([`crate::queue`]);
//! - [`secrets_manager`]: configuration secrets, their names, and the
//!   endpoint switch;
//! - [`dynamodb`]: the state table and the ports on it (health, parking,
//!   attempts);
//! - [`sns`]: disable notices.
//!
//! The ports these implement are beside the domain code that uses them;
//! domain modules import no adapter.
//!
//! # SDK configuration
//!
//! All SDK clients share one HTTP client on rustls with the `ring` provider,
//! the same TLS stack the sender's `reqwest` client uses: the SDK's default
//! features would add aws-lc-rs as a second one (build time, binary size,
//! cold start).
//!
//! TLS roots are compiled in (Mozilla's set, from `webpki-root-certs`),
//! never read from the operating system's store: loading that store
//! (`rustls-native-certs` reads the bundle and every file of the
//! certificate directory, then decodes the PEM with a constant-time base64
//! decoder) was most of each function's init time in `make bench` (see
//! BENCHMARKS.md). The SDK clients trust only the Amazon Trust Services
//! roots ([`aws_roots`]), which every AWS service endpoint chains to; the
//! SDK takes roots as PEM and decodes them slowly, so five roots instead of
//! about 150 matter. `HOOKRELAY_AWS_ROOTS=mozilla` gives the SDK the whole
//! set instead (an `AWS_ENDPOINT_URL` behind another public CA). Webhook
//! deliveries (`outbound::transport`) trust the whole set. The roots are
//! updated with the crate, i.e. with each hookrelay release.
//!
//! Endpoints come from the standard environment
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SQS`, ...), which is how local
//! runs and tests point the real SDK at moto server.

pub mod dynamodb;
pub mod secrets_manager;
pub mod sns;
pub mod sqs;

use aws_config::{BehaviorVersion, SdkConfig};

use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};

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
        .tls_context(sdk_tls_context())
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client);
    // Lambda always sets the region and the role's credentials in the
    // environment, and the default chains would take them from there first
    // anyway. But building those chains constructs, and never uses, an STS
    // client (web identity) and IMDS clients, each with its own TLS
    // connector: a third of a function's init instructions in `make bench`'s
    // profile. Where the variables are set, name them directly; elsewhere
    // (the CLI with a profile or SSO) the default chains stay.
    if let Some(region) = env_nonempty("AWS_REGION") {
        loader = loader.region(aws_config::Region::new(region));
    }
    if env_nonempty("AWS_ACCESS_KEY_ID").is_some()
        && env_nonempty("AWS_SECRET_ACCESS_KEY").is_some()
    {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    loader
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

type Der = rustls::pki_types::CertificateDer<'static>;

/// Mozilla's root certificates (DER), compiled in.
pub fn trust_roots() -> &'static [Der] {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
}

/// The Amazon Trust Services roots among [`trust_roots`]: Amazon Root CA 1
/// to 4 and the Starfield Services G2 root that cross-signs them. A root's
/// subject is its issuer, so its DER holds the name twice; no other root
/// names Amazon.
pub fn aws_roots() -> Vec<&'static Der> {
    // memchr's searcher: a naive `windows().any()` scan of ~200 KB of
    // certificates showed up in the cold-start profile.
    let finders = [
        memchr::memmem::Finder::new(b"Amazon Root CA "),
        memchr::memmem::Finder::new(b"Starfield Services Root Certificate Authority - G2"),
    ];
    trust_roots()
        .iter()
        .filter(|der| finders.iter().any(|f| f.find(der).is_some()))
        .collect()
}

/// Checks `HOOKRELAY_AWS_ROOTS` (`amazon`, the default, or `mozilla`), so
/// that a function refuses to start with any other value instead of
/// silently trusting the Amazon roots only.
pub fn check_roots_setting(env: &crate::env::Env) -> Result<(), crate::env::EnvError> {
    env.parse("HOOKRELAY_AWS_ROOTS", "amazon or mozilla", |v: &String| {
        v == "amazon" || v == "mozilla"
    })
    .map(|_| ())
}

/// The SDK's TLS settings: compiled-in roots only, no native store.
fn sdk_tls_context() -> TlsContext {
    let roots: Vec<&Der> = match std::env::var("HOOKRELAY_AWS_ROOTS").as_deref() {
        Ok("mozilla") => trust_roots().iter().collect(),
        _ => aws_roots(),
    };
    TlsContext::builder()
        .with_trust_store(
            TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(pem_bundle(&roots)),
        )
        .build()
        // Only fails for additional server names, which are not set.
        .expect("a TLS context with roots only")
}

/// Certificates as one PEM bundle (what the SDK's trust store takes).
fn pem_bundle(roots: &[&Der]) -> Vec<u8> {
    use base64::Engine as _;
    let mut pem = Vec::with_capacity(roots.len() * 2048);
    for der in roots {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        pem.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(der.as_ref())
                .as_bytes(),
        );
        pem.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
    }
    pem
}

/// Makes `ring` the process-wide rustls provider (reqwest is built without
/// one of its own). Idempotent.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    /// The SDK parses the bundle with `pem_slice_iter` and panics on a
    /// certificate `RootCertStore::add` refuses: every root must survive
    /// the round trip and be accepted.
    #[test]
    fn every_root_survives_the_pem_bundle_and_is_a_valid_anchor() {
        let all: Vec<&Der> = trust_roots().iter().collect();
        let parsed: Vec<Der> = Der::pem_slice_iter(&pem_bundle(&all))
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert!(parsed.len() > 100, "Mozilla's set has well over 100 roots");
        assert_eq!(parsed.as_slice(), trust_roots());
        let mut store = rustls::RootCertStore::empty();
        for der in parsed {
            store.add(der).expect("a usable trust anchor");
        }
        assert_eq!(store.len(), trust_roots().len());
    }

    /// Amazon Root CA 1, 2, 3, 4 and Starfield Services Root G2: if a
    /// release of `webpki-root-certs` drops or renames one, this says so
    /// before the SDK stops trusting AWS's endpoints.
    #[test]
    fn the_aws_roots_are_the_five_amazon_trust_services_roots() {
        let roots = aws_roots();
        assert_eq!(roots.len(), 5);
        for n in 1..=4 {
            let name = format!("Amazon Root CA {n}");
            assert!(
                roots
                    .iter()
                    .any(|d| d.windows(name.len()).any(|w| w == name.as_bytes())),
                "{name} missing"
            );
        }
    }
}
