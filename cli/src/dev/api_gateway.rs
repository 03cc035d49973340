//! A local stand-in for the deployed API Gateway HTTP API in front of the
//! receiver: `POST /webhooks/{source}` becomes the payload format 2.0 event
//! API Gateway would build, the receiver is invoked with it through
//! `cargo lambda watch`'s Invoke API, and its answer goes back as API
//! Gateway would send it.
//!
//! Why not `cargo lambda watch`'s own function URLs: they build the event
//! differently from API Gateway, so the local pipeline answered differently
//! from the deployed one. They pass only the first value of a repeated
//! header (API Gateway joins the values with commas), and they answer 500
//! from the emulator itself, without running the function, for a body that
//! is not UTF-8 under a text content type.
//!
//! What API Gateway does, and where that is from:
//! - Repeated headers: "Duplicate headers are combined with commas and
//!   included in the headers field"; cookies go to `cookies`
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>,
//!   payload format differences).
//! - The body: "If the content type of the request is binary, the body is
//!   base64-encoded" (same page). AWS does not list the text types; they
//!   were measured against real HTTP APIs by two AWS emulators, with the
//!   same result: a UTF-8 string only for `text/*`, `application/json`,
//!   `application/xml` and `application/javascript`, without a charset or
//!   with `charset=utf-8`; base64 for everything else, a missing
//!   Content-Type, `application/x-www-form-urlencoded` and
//!   `text/plain; charset=iso-8859-1` included
//!   (<https://github.com/ministackorg/ministack/pull/766>,
//!   <https://github.com/floci-io/floci/issues/2172> and its test matrix in
//!   <https://github.com/floci-io/floci/pull/2203>).
//! - A body that is not UTF-8 under a text type: no published measurement.
//!   API Gateway treats a text payload as a UTF-8 string, and where it did
//!   so with bytes that were not UTF-8 they arrived with each invalid
//!   sequence replaced by U+FFFD (a text-typed gzip body came through as
//!   `1F EF BF BD 08` for `1F 8B 08`:
//!   <http://sapphirepaw.blogspot.com/2016/12/api-gateway-vs-gzip-errcontentdecodingf.html>).
//!   This stand-in does the same, so such a webhook reaches the receiver
//!   altered and fails verification (401, nothing queued) here as it does
//!   behind API Gateway; the README says to send such bodies with a binary
//!   content type. The JSON event sent to Lambda cannot carry the bytes as
//!   they were: it is either text or base64.
//! - Errors API Gateway writes itself: `{"message":"Not Found"}` (404) for
//!   another route, `{"message":"Internal Server Error"}` (500) when the
//!   function fails, `{"message":"Service Unavailable"}` (503) when it does
//!   not answer within the 30 s integration timeout, and
//!   `{"message":"Request Entity Too Large"}` (413) above the 10 MB payload
//!   limit.

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// HTTP APIs' integration timeout.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP APIs' payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The deployed API's only route (template.yaml).
const ROUTE_KEY: &str = "POST /webhooks/{source}";

pub struct ApiGateway {
    client: reqwest::Client,
    /// `cargo lambda watch`'s Invoke API for the receiver.
    invoke_url: String,
}

impl ApiGateway {
    pub fn new(runtime_api: &str, function: &str) -> Result<Arc<Self>, String> {
        let client = reqwest::Client::builder()
            .timeout(INTEGRATION_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(Self {
            client,
            invoke_url: format!("{runtime_api}/2015-03-31/functions/{function}/invocations"),
        }))
    }

    /// Serves on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let me = Arc::clone(&self);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let me = Arc::clone(&me);
                    async move { Ok::<_, hyper::Error>(me.answer(req, peer).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }

    async fn answer(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let Some(source) = route(&parts.method, parts.uri.path()) else {
            return message(404, "Not Found");
        };
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return message(413, "Request Entity Too Large"),
        };
        let event = v2_event(&parts, &source, &body, peer);
        let invoked = self
            .client
            .post(&self.invoke_url)
            .body(event.to_string())
            .send()
            .await;
        let answer = match invoked {
            Ok(resp) if resp.status().is_success() => resp.bytes().await.ok(),
            Ok(_) => None,
            Err(e) if e.is_timeout() => return message(503, "Service Unavailable"),
            Err(_) => None,
        };
        answer
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .and_then(|v| http_response(&v))
            .unwrap_or_else(|| message(500, "Internal Server Error"))
    }
}

/// Once the receiver is warm: a request through the stand-in reaches it
/// (an unknown source is the receiver's 404, not API Gateway's).
pub async fn check(receiver_url: &str) -> Result<(), String> {
    let resp = reqwest::Client::new()
        .post(format!("{receiver_url}/webhooks/_warmup"))
        .send()
        .await
        .map_err(|e| format!("the local API Gateway did not answer: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status != 404 || !text.contains("unknown source") {
        return Err(format!(
            "the local API Gateway answered {status} {text} to a warm-up request"
        ));
    }
    Ok(())
}

/// The `{source}` of `POST /webhooks/{source}`, the only route.
fn route(method: &hyper::Method, path: &str) -> Option<String> {
    let source = path.strip_prefix("/webhooks/")?;
    (method == hyper::Method::POST && !source.is_empty() && !source.contains('/'))
        .then(|| source.to_string())
}

/// Whether API Gateway passes a body with this Content-Type as a UTF-8
/// string rather than base64 (see the module notes for the sources).
pub fn is_text_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let mut parts = content_type.split(';').map(str::trim);
    let essence = parts.next().unwrap_or("").to_ascii_lowercase();
    let text = essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        );
    let utf8 = parts.all(|param| match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    });
    text && utf8
}

/// The payload format 2.0 event API Gateway builds for this request.
pub fn v2_event(
    parts: &hyper::http::request::Parts,
    source: &str,
    body: &[u8],
    peer: SocketAddr,
) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies: Vec<String> = Vec::new();
    for name in parts.headers.keys() {
        let values: Vec<String> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if name == hyper::header::COOKIE {
            cookies.extend(
                values
                    .iter()
                    .flat_map(|v| v.split("; "))
                    .map(str::to_string),
            );
            continue;
        }
        // Repeated headers: one value, joined with commas.
        headers.insert(name.as_str().to_string(), json!(values.join(",")));
    }
    let content_type = headers.get("content-type").and_then(Value::as_str);
    let (body, base64) = if body.is_empty() {
        (None, false)
    } else if is_text_content_type(content_type) {
        // What is not UTF-8 becomes U+FFFD, as API Gateway passes it.
        (Some(String::from_utf8_lossy(body).into_owned()), false)
    } else {
        (
            Some(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        )
    };
    let ip = peer.ip().to_string();
    headers
        .entry("x-forwarded-for")
        .or_insert_with(|| json!(ip));
    headers
        .entry("x-forwarded-proto")
        .or_insert_with(|| json!("http"));
    let user_agent = headers
        .get("user-agent")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let host = headers
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or("127.0.0.1")
        .to_string();
    let now = time::OffsetDateTime::now_utc();
    let path = parts.uri.path();
    let mut event = json!({
        "version": "2.0",
        "routeKey": ROUTE_KEY,
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "pathParameters": {"source": source},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": ip,
                "userAgent": user_agent,
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": ROUTE_KEY,
            "stage": "$default",
            "time": now
                .format(time::macros::format_description!(
                    "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
                ))
                .unwrap_or_default(),
            "timeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
        },
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// The HTTP response for a payload format 2.0 answer.
fn http_response(answer: &Value) -> Option<Response<Full<Bytes>>> {
    let status = u16::try_from(answer.get("statusCode")?.as_u64()?).ok()?;
    let mut resp = Response::builder().status(status);
    if let Some(headers) = answer.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            resp = resp.header(name, value.as_str()?);
        }
    }
    if let Some(headers) = answer.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in headers {
            for value in values.as_array()? {
                resp = resp.header(name, value.as_str()?);
            }
        }
    }
    for cookie in answer
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        resp = resp.header(hyper::header::SET_COOKIE, cookie.as_str()?);
    }
    let body = answer.get("body").and_then(Value::as_str).unwrap_or("");
    let body = if answer.get("isBase64Encoded") == Some(&Value::Bool(true)) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?
    } else {
        body.as_bytes().to_vec()
    };
    resp.body(Full::new(Bytes::from(body))).ok()
}

fn message(status: u16, text: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({ "message": text }).to_string(),
        )))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> hyper::http::request::Parts {
        let mut req = hyper::Request::builder()
            .method("POST")
            .uri("/webhooks/leaflink?x=1");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }

    #[test]
    fn text_types_are_the_measured_ones() {
        for t in [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON; CHARSET=UTF-8",
            "text/plain",
            "text/csv",
            "application/xml",
            "application/javascript",
        ] {
            assert!(is_text_content_type(Some(t)), "{t}");
        }
        for t in [
            "application/octet-stream",
            "application/x-www-form-urlencoded",
            "text/plain; charset=iso-8859-1",
            "application/vnd.api+json",
            "image/png",
            "",
        ] {
            assert!(!is_text_content_type(Some(t)), "{t}");
        }
        assert!(!is_text_content_type(None), "no Content-Type is binary");
    }

    #[test]
    fn repeated_headers_are_joined_with_commas_and_cookies_split_off() {
        let p = parts(&[
            ("LL-Signature", "valid"),
            ("ll-signature", "bogus"),
            ("content-type", "application/json"),
            ("cookie", "a=1; b=2"),
        ]);
        let e = v2_event(&p, "leaflink", b"{}", peer());
        assert_eq!(e["headers"]["ll-signature"], "valid,bogus");
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(e["pathParameters"]["source"], "leaflink");
        assert_eq!(e["rawPath"], "/webhooks/leaflink");
        assert_eq!(e["rawQueryString"], "x=1");
        assert_eq!(e["routeKey"], ROUTE_KEY);
        // And lambda_http reads it as the receiver will.
        let req = lambda_http::request::from_str(&e.to_string()).unwrap();
        assert_eq!(req.headers().get_all("ll-signature").iter().count(), 1);
    }

    #[test]
    fn bodies_are_text_base64_or_absent_as_api_gateway_passes_them() {
        let bytes = b"{\"a\":\"\xff\xfe\"}";
        let e = v2_event(
            &parts(&[("content-type", "application/json")]),
            "s",
            bytes,
            peer(),
        );
        assert_eq!(e["isBase64Encoded"], false);
        assert_eq!(
            e["body"], "{\"a\":\"\u{fffd}\u{fffd}\"}",
            "invalid UTF-8 replaced"
        );

        let e = v2_event(
            &parts(&[("content-type", "application/octet-stream")]),
            "s",
            bytes,
            peer(),
        );
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(e["body"].as_str().unwrap())
                .unwrap(),
            bytes
        );
        let e = v2_event(&parts(&[]), "s", b"{}", peer());
        assert_eq!(e["isBase64Encoded"], true, "no Content-Type");

        let e = v2_event(&parts(&[("content-type", "text/plain")]), "s", b"", peer());
        assert!(e.get("body").is_none());
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn only_the_deployed_route_is_served() {
        assert_eq!(
            route(&hyper::Method::POST, "/webhooks/github").as_deref(),
            Some("github")
        );
        assert_eq!(route(&hyper::Method::GET, "/webhooks/github"), None);
        assert_eq!(route(&hyper::Method::POST, "/webhooks/"), None);
        assert_eq!(route(&hyper::Method::POST, "/webhooks/a/b"), None);
        assert_eq!(route(&hyper::Method::POST, "/lambda-url/receiver"), None);
    }

    #[tokio::test]
    async fn answers_become_http_responses() {
        let resp = http_response(&json!({
            "statusCode": 503,
            "headers": {"content-type": "application/json", "retry-after": "5"},
            "multiValueHeaders": {},
            "body": "{\"error\":\"x\"}",
            "isBase64Encoded": false,
            "cookies": []
        }))
        .unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "5");
        let resp =
            http_response(&json!({"statusCode": 200, "body": "aGk=", "isBase64Encoded": true}))
                .unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hi");
        assert!(http_response(&json!({"errorMessage": "boom"})).is_none());
    }
}
