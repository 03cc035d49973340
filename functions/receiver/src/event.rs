//! One event cut out of a request, and reading a value (event type,
//! delivery id) from a request's headers or body.

use crate::answer::Reject;
use hookrelay_shared::json_pointer;
use hookrelay_shared::schemes::HeaderLookup;
use hookrelay_shared::source::Extract;
use lambda_http::http::HeaderMap;

/// One event cut out of a request: its id, type and raw bytes.
pub(crate) struct Event<'a> {
    pub id: String,
    pub event_type: Option<String>,
    /// Whether the signature covers `event_type` (false without one).
    pub event_type_signed: bool,
    pub raw: &'a [u8],
    pub bulk_index: Option<usize>,
}

/// An envelope id for a request whose platform does not name its deliveries.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Reads a header or a JSON pointer. A pointer into a body that is not JSON
/// is the sender's error (400).
pub(crate) fn extract(
    e: &Extract,
    headers: &HeaderMap,
    json: &[u8],
) -> Result<Option<String>, Reject> {
    match e {
        Extract::Header(h) => Ok(headers
            .header(&h.to_ascii_lowercase())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())),
        Extract::JsonPointer(p) => {
            let text = std::str::from_utf8(json).map_err(|_| Reject::MalformedJson)?;
            json_pointer::lookup_scalar(text, p).map_err(|_| Reject::MalformedJson)
        }
    }
}
