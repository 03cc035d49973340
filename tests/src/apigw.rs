//! API Gateway HTTP API (payload format 2.0) events, as Lambda receives
//! them, for driving the receiver's handler through `lambda_http`'s own
//! request parsing.

use base64::Engine as _;
use serde_json::json;

/// A `POST {path}` event. Bodies that are not UTF-8, or when `force_base64`
/// is set, travel base64-encoded with `isBase64Encoded: true`, as API
/// Gateway sends binary bodies.
pub fn post_event(
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    force_base64: bool,
) -> String {
    let (body, b64) = match std::str::from_utf8(body) {
        Ok(s) if !force_base64 => (s.to_string(), false),
        _ => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let source = path.rsplit('/').next().unwrap_or_default();
    let hdrs: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": "POST /webhooks/{source}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": hdrs,
        "pathParameters": {"source": source},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "test"},
            "requestId": "req",
            "routeKey": "POST /webhooks/{source}",
            "stage": "$default",
            "time": "22/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1_795_000_000_000u64
        },
        "body": body,
        "isBase64Encoded": b64
    })
    .to_string()
}

pub fn request(
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    force_base64: bool,
) -> lambda_http::Request {
    lambda_http::request::from_str(&post_event(path, headers, body, force_base64))
        .expect("valid API Gateway event")
}
