//! The transport port (one HTTP POST per attempt) and its reqwest adapter.
//!
//! One `reqwest::Client` is built per process and reused across Lambda
//! invocations, so connections to an endpoint stay pooled between batches.
//! Redirects are never followed (a 3xx is a failed attempt) and the client
//! resolves names through [`GuardedResolver`].

use super::netguard::NetworkPolicy;
use async_trait::async_trait;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Response bodies are read up to this much (per-item results, log snippet).
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

impl HttpRequest {
    /// The name of the first header that cannot be sent as it is (a name
    /// that is not a token, a value with control characters).
    pub fn unsendable_header(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, v)| !header_is_sendable(k, v))
            .map(|(k, _)| k.as_str())
    }
}

/// Whether a header can be sent as it is: HTTP's rules for names, and
/// values without control characters (the client would refuse the request,
/// and that must not count as the endpoint's failure).
pub fn header_is_sendable(name: &str, value: &str) -> bool {
    http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && http::HeaderValue::from_str(value).is_ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub retry_after: Option<String>,
    /// The first [`MAX_RESPONSE_BODY`] bytes of the body.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("destination not allowed: {0}")]
    Refused(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl AttemptError {
    /// Short label for logs and DLQ attributes.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptError::Timeout => "timeout",
            AttemptError::Connect(_) => "connect-error",
            AttemptError::Refused(_) => "refused",
            AttemptError::Other(_) => "request-error",
        }
    }
}

#[async_trait]
pub trait Transport: Send + Sync {
    async fn post(&self, req: HttpRequest) -> Result<HttpResponse, AttemptError>;
}

/// DNS resolution that drops addresses the policy does not permit.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<NetworkPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if allowed.is_empty() {
                let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{host} resolves to non-public addresses only ({})",
                    shown.join(", ")
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
}

impl ReqwestTransport {
    pub fn new(policy: NetworkPolicy) -> Result<Self, String> {
        crate::aws::install_crypto_provider();
        let policy = Arc::new(policy);
        let roots = crate::aws::trust_roots()
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot load the root certificates: {e}"))?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("hookrelay/", env!("CARGO_PKG_VERSION")))
            // Compiled-in roots, not the OS store: see `crate::aws`.
            .tls_certs_only(roots)
            .redirect(reqwest::redirect::Policy::none())
            // HTTPS_PROXY and friends would send requests to a proxy that
            // resolves the name itself, past the guarded resolver.
            .no_proxy()
            .dns_resolver(GuardedResolver {
                policy: Arc::clone(&policy),
            })
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client, policy })
    }
}

/// Full error chain, for logs and the DLQ's `hookrelay-error`. Callers
/// strip the URL first ([`reqwest::Error::without_url`]): its path and
/// query may carry tokens.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn post(&self, req: HttpRequest) -> Result<HttpResponse, AttemptError> {
        // IP literals skip DNS, so the resolver never sees them.
        if let Some(host) = req.url.host_str() {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>()
                && !self.policy.permits(ip)
            {
                return Err(AttemptError::Refused(format!(
                    "{ip} is not a public address"
                )));
            }
        }
        let mut builder = self
            .client
            .post(req.url.clone())
            .timeout(req.timeout)
            .body(req.body);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let mut resp = builder.send().await.map_err(|e| {
            let e = e.without_url();
            let text = chain(&e);
            if e.is_timeout() {
                AttemptError::Timeout
            } else if text.contains("non-public addresses") {
                AttemptError::Refused(text)
            } else if e.is_connect() {
                AttemptError::Connect(text)
            } else {
                AttemptError::Other(text)
            }
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        // Read at most MAX_RESPONSE_BODY; a failure while reading the body
        // does not change the outcome, the status already decided it.
        while body.len() < MAX_RESPONSE_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => body
                    .extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE_BODY - body.len())]),
                _ => break,
            }
        }
        Ok(HttpResponse {
            status,
            retry_after,
            body,
        })
    }
}
