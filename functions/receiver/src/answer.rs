//! What the receiver answers. Error bodies are short, fixed JSON: they
//! never say which key failed or why, and never echo a secret.

use hookrelay_shared::schemes::VerifyError;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// A successful (2xx) answer and what to log about it.
pub struct Answer {
    pub status: StatusCode,
    pub response: Response<Body>,
    pub first_id: Option<String>,
    pub event_type: Option<String>,
    pub events: usize,
    pub key_index: usize,
}

/// Why a request was not accepted. The detail is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum Reject {
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("unknown source")]
    UnknownSource,
    #[error("verification failed: {0}")]
    Unauthorized(VerifyError),
    #[error("body is not the JSON this source needs")]
    MalformedJson,
    #[error("bulk body must be a JSON array")]
    NotAnArray,
    #[error("too many elements in a bulk body")]
    TooManyElements,
    #[error("payload too large")]
    TooLarge,
    #[error("secrets store unavailable: {0}")]
    SecretsUnavailable(String),
    #[error("queue unavailable: {0}")]
    QueueUnavailable(String),
    #[error("queue rejected the message: {0}")]
    QueueRejected(String),
    /// Queued on the inbound queue but not on the events queue: answered
    /// with an error so the platform sends it again and the fan-out is not
    /// lost (the inbound queue then sees it twice).
    #[error("events queue unavailable, event not relayed: {0}")]
    RelayUnavailable(String),
    #[error("events queue rejected the event: {0}")]
    RelayRejected(String),
    #[error("source configuration invalid: {0}")]
    Misconfigured(String),
}

impl Reject {
    pub fn status(&self) -> StatusCode {
        match self {
            Reject::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reject::UnknownSource => StatusCode::NOT_FOUND,
            Reject::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Reject::MalformedJson | Reject::NotAnArray => StatusCode::BAD_REQUEST,
            Reject::TooLarge | Reject::TooManyElements => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::SecretsUnavailable(_)
            | Reject::QueueUnavailable(_)
            | Reject::RelayUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Reject::QueueRejected(_) | Reject::RelayRejected(_) | Reject::Misconfigured(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    pub fn response(&self, max_message_bytes: usize) -> Response<Body> {
        let status = self.status();
        let error = match self {
            Reject::MethodNotAllowed => "method not allowed",
            Reject::UnknownSource => "unknown source",
            Reject::Unauthorized(_) => "invalid signature",
            Reject::MalformedJson => "malformed JSON",
            Reject::NotAnArray => "bulk body must be a JSON array",
            Reject::TooManyElements => "too many elements",
            Reject::TooLarge => "payload too large",
            Reject::SecretsUnavailable(_)
            | Reject::QueueUnavailable(_)
            | Reject::RelayUnavailable(_) => "temporarily unavailable, retry later",
            Reject::QueueRejected(_) | Reject::RelayRejected(_) => "queue rejected the message",
            Reject::Misconfigured(_) => "source misconfigured",
        };
        let mut resp = match self {
            Reject::TooLarge => json_response(
                status,
                &serde_json::json!({ "error": error, "limit_bytes": max_message_bytes }),
            ),
            _ => json_response(status, &serde_json::json!({ "error": error })),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            with_retry_after(&mut resp);
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            resp.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        }
        resp
    }
}

/// Every 503 the receiver writes tells the platform when to retry.
pub fn with_retry_after(resp: &mut Response<Body>) {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}
