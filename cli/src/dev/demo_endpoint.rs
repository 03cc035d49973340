//! The demo endpoint of the local pipeline: a subscriber on loopback that
//! verifies each delivery's signature with the endpoint's own configuration
//! (as the real subscriber would), prints it, and can be told to fail so a
//! retry can be watched.
//!
//! `POST /<endpoint>` receives deliveries for the endpoint of that name.
//! Control (used by the end-to-end tests and by hand with curl):
//! - `POST /_control/<endpoint>/fail?times=N` fails the next N deliveries (500);
//!   `times=always` fails until `POST /_control/<endpoint>/recover`;
//! - `GET /_control/<endpoint>/deliveries` lists what arrived, as JSON.
//!
//! The example endpoint `flaky` fails the first two attempts of every
//! delivery id, so the retry schedule can be watched without any set-up.

use bytes::Bytes;
use hookrelay_shared::aws::secrets_manager::{ConfigKind, SecretNames, SecretsManager};
use hookrelay_shared::endpoint::Endpoint;
use hookrelay_shared::secrets::{CacheSettings, ConfigCache};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: Option<String>,
    pub answered: u16,
    /// Signature checked with the endpoint's configuration: `None` when it has none.
    pub verified: Option<bool>,
    pub scheme: Option<String>,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub at: String,
}

#[derive(Debug, Clone, Copy)]
enum FailPolicy {
    Never,
    Next(u32),
    Always,
    /// Fail the first N attempts of each delivery id.
    FirstPerId(u32),
}

#[derive(Default)]
struct State {
    policies: HashMap<String, FailPolicy>,
    attempts_per_id: HashMap<(String, String), u32>,
    deliveries: HashMap<String, Vec<Delivery>>,
}

pub struct DemoEndpoint {
    state: Mutex<State>,
    configs: ConfigCache<Endpoint>,
    names: SecretNames,
    quiet: bool,
}

impl DemoEndpoint {
    pub fn new(sm: aws_sdk_secretsmanager::Client, prefix: String, quiet: bool) -> Arc<Self> {
        let settings = CacheSettings {
            ttl: Duration::from_secs(2),
            negative_ttl: Duration::from_secs(2),
            ..CacheSettings::default()
        };
        let configs = ConfigCache::new(
            Arc::new(SecretsManager::new(sm)),
            Arc::new(hookrelay_shared::clock::SystemClock),
            settings,
        );
        let mut state = State::default();
        state
            .policies
            .insert("flaky".into(), FailPolicy::FirstPerId(2));
        Arc::new(Self {
            state: Mutex::new(state),
            configs,
            names: SecretNames::new(&prefix),
            quiet,
        })
    }

    /// Serves on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let me = Arc::clone(&self);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let me = Arc::clone(&me);
                    async move { Ok::<_, hyper::Error>(me.answer(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().trim_matches('/').to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let method = req.method().clone();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if let Some(rest) = path.strip_prefix("_control/") {
            return self.control(&method, rest, &query);
        }
        if method != hyper::Method::POST || path.is_empty() || path.contains('/') {
            return reply(404, "POST /<endpoint-name>");
        }
        self.deliver(&path, headers, &body).await
    }

    async fn deliver(
        &self,
        name: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        let config = self
            .configs
            .get(&self.names.of(ConfigKind::Endpoint, name))
            .await
            .ok()
            .flatten();
        let (verified, scheme) = match config.as_ref().and_then(|c| c.scheme.as_ref()) {
            Some(s) => (
                Some(
                    s.verify(&headers, body, time::OffsetDateTime::now_utc())
                        .is_ok(),
                ),
                Some(s.name().to_string()),
            ),
            None => (None, None),
        };
        let id = config
            .as_ref()
            .and_then(|c| c.config.idempotency_header.clone())
            .or(Some("webhook-id".into()))
            .and_then(|h| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&h))
                    .map(|(_, v)| v.clone())
            });
        let status = {
            let mut st = self.lock();
            let policy = st.policies.get(name).copied().unwrap_or(FailPolicy::Never);
            let (fail, next) = match policy {
                FailPolicy::Never => (false, policy),
                FailPolicy::Always => (true, policy),
                FailPolicy::Next(0) => (false, FailPolicy::Never),
                FailPolicy::Next(n) => (true, FailPolicy::Next(n - 1)),
                FailPolicy::FirstPerId(n) => {
                    let key = (name.to_string(), id.clone().unwrap_or_default());
                    let seen = st.attempts_per_id.entry(key).or_insert(0);
                    *seen += 1;
                    (*seen <= n, policy)
                }
            };
            st.policies.insert(name.to_string(), next);
            if verified == Some(false) {
                401
            } else if fail {
                500
            } else {
                200
            }
        };
        let text = String::from_utf8_lossy(body).into_owned();
        if !self.quiet {
            let sig = match (verified, &scheme) {
                (Some(true), Some(s)) => format!("signature valid ({s})"),
                (Some(false), Some(s)) => format!("SIGNATURE INVALID ({s})"),
                _ => "unsigned".to_string(),
            };
            let shown: String = text.chars().take(160).collect();
            println!(
                "[demo endpoint] /{name} id={} {sig} -> {status}  {shown}",
                id.as_deref().unwrap_or("-")
            );
        }
        let delivery = Delivery {
            id,
            answered: status,
            verified,
            scheme,
            body: text,
            headers,
            at: hookrelay_shared::clock::iso_millis(time::OffsetDateTime::now_utc()),
        };
        self.lock()
            .deliveries
            .entry(name.to_string())
            .or_default()
            .push(delivery);
        match status {
            200 => reply(200, r#"{"ok":true}"#),
            401 => reply(401, r#"{"error":"invalid signature"}"#),
            _ => reply(500, r#"{"error":"demo endpoint told to fail"}"#),
        }
    }

    fn control(&self, method: &hyper::Method, rest: &str, query: &str) -> Response<Full<Bytes>> {
        let (name, action) = rest.split_once('/').unwrap_or((rest, ""));
        let mut st = self.lock();
        match (method.as_str(), action) {
            ("POST", "fail") => {
                let times = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("times="))
                    .unwrap_or("1");
                let policy = match times {
                    "always" => FailPolicy::Always,
                    n => match n.parse() {
                        Ok(n) => FailPolicy::Next(n),
                        Err(_) => return reply(400, r#"{"error":"times=N or times=always"}"#),
                    },
                };
                st.policies.insert(name.to_string(), policy);
                reply(200, &format!(r#"{{"endpoint":"{name}","fail":"{times}"}}"#))
            }
            ("POST", "recover") => {
                st.policies.insert(name.to_string(), FailPolicy::Never);
                reply(200, &format!(r#"{{"endpoint":"{name}","fail":"never"}}"#))
            }
            ("GET", "deliveries") => {
                let list = st.deliveries.get(name).cloned().unwrap_or_default();
                reply(
                    200,
                    &serde_json::to_string(&list).unwrap_or_else(|_| "[]".into()),
                )
            }
            _ => reply(
                404,
                r#"{"error":"POST fail?times=N|always, POST recover, GET deliveries"}"#,
            ),
        }
    }
}

fn reply(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
