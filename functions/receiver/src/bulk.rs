//! Bulk bodies (LeadDone): a JSON array whose elements are separate events.
//! Each element becomes its own message (SendMessageBatch, chunks of 10);
//! the answer has one result per element in LeadDone's own shape.

use crate::answer::{Answer, json_response};
use crate::{Event, Reject, extract, new_id};
use hookrelay_shared::event::Event as RelayEvent;
use hookrelay_shared::json_pointer;
use hookrelay_shared::queue::{MAX_BATCH, OutgoingMessage, Queue, QueueError};
use hookrelay_shared::source::{BulkConfig, Extract, Source};
use lambda_http::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::value::RawValue;

/// One element's result, as LeadDone answers bulk requests.
#[derive(Debug, Serialize)]
struct ElementResult {
    success: bool,
    message: &'static str,
    order_id: Option<String>,
    internal_id: String,
}

pub(crate) fn split<'a>(
    source: &Source,
    bulk: &BulkConfig,
    headers: &HeaderMap,
    body: &'a [u8],
    delivery_id: Option<&str>,
) -> Result<Vec<Event<'a>>, Reject> {
    let text = std::str::from_utf8(body).map_err(|_| Reject::MalformedJson)?;
    let elements: Vec<&'a RawValue> = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) if e.is_data() => return Err(Reject::NotAnArray),
        Err(_) => return Err(Reject::MalformedJson),
    };
    if elements.len() > bulk.max_elements {
        return Err(Reject::TooManyElements);
    }
    // A header event type applies to every element; a pointer is read per element.
    let header_type = match &source.event_type {
        Some(e @ Extract::Header(_)) => extract(e, headers, body)?,
        _ => None,
    };
    elements
        .into_iter()
        .enumerate()
        .map(|(i, el)| {
            let event_type = match &source.event_type {
                Some(Extract::JsonPointer(p)) => {
                    json_pointer::lookup_scalar(el.get(), p).map_err(|_| Reject::MalformedJson)?
                }
                _ => header_type.clone(),
            };
            let id = match delivery_id {
                // Stable ids when the platform names its delivery, so FIFO
                // queues drop a retried bulk request's duplicates.
                Some(d) => format!("{d}.{i}"),
                None => new_id(),
            };
            Ok(Event {
                id,
                event_type,
                raw: el.get().as_bytes(),
                bulk_index: Some(i),
            })
        })
        .collect()
}

pub(crate) async fn send_all(
    queue: &dyn Queue,
    events: &[Event<'_>],
    messages: Vec<OutgoingMessage>,
    bulk: &BulkConfig,
    _body: &[u8],
) -> Answer {
    let mut chunks = Vec::new();
    let mut messages = messages.into_iter();
    loop {
        let chunk: Vec<_> = messages.by_ref().take(MAX_BATCH).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    // Chunks go out concurrently: a 100-element body costs one round trip, not ten.
    let outcomes = futures::future::join_all(chunks.into_iter().map(|chunk| async move {
        let n = chunk.len();
        match queue.send_batch(chunk).await {
            Ok(results) => results,
            Err(e) => vec![Err(e); n],
        }
    }))
    .await;
    let results: Vec<ElementResult> = outcomes
        .into_iter()
        .flatten()
        .zip(events)
        .map(|(outcome, event)| {
            let order_id = std::str::from_utf8(event.raw).ok().and_then(|t| {
                json_pointer::lookup_scalar(t, &bulk.id_pointer)
                    .ok()
                    .flatten()
            });
            let (success, message) = match outcome {
                Ok(_) => (true, "received"),
                Err(QueueError::Unavailable(_)) => (false, "queue unavailable, retry this element"),
                Err(QueueError::Rejected(_)) => (false, "rejected by the queue"),
            };
            ElementResult {
                success,
                message,
                order_id,
                internal_id: event.id.clone(),
            }
        })
        .collect();
    let ok = results.iter().filter(|r| r.success).count();
    let status = if ok == results.len() {
        StatusCode::ACCEPTED
    } else if ok == 0 {
        // Nothing was queued: the platform must retry the whole request.
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::MULTI_STATUS
    };
    if ok < results.len() {
        tracing::warn!(
            failed = results.len() - ok,
            total = results.len(),
            "bulk elements not queued"
        );
    }
    Answer {
        status,
        response: json_response(status, &results),
        first_id: events.first().map(|e| e.id.clone()),
        event_type: events.first().and_then(|e| e.event_type.clone()),
        events: ok,
        key_index: 0,
    }
}

/// The events-queue message for relay mode.
pub(crate) fn relay_message(
    source: &Source,
    name: &str,
    event: &Event<'_>,
) -> Result<OutgoingMessage, &'static str> {
    let text = std::str::from_utf8(event.raw).map_err(|_| "body is not UTF-8 JSON")?;
    let payload: Box<RawValue> = serde_json::from_str(text).map_err(|_| "body is not JSON")?;
    let _ = source;
    let mut e = RelayEvent::new(
        event.event_type.clone().unwrap_or_else(|| name.to_string()),
        payload,
    );
    e.id = Some(format!("{name}:{}", event.id));
    e.source = Some(name.to_string());
    let body = serde_json::to_string(&e).map_err(|_| "event does not serialize")?;
    let mut msg = OutgoingMessage::new(body)
        .attribute("source", name)
        .attribute("event-type", e.event_type.clone());
    msg.dedup_id = e.id.clone();
    msg.group_id = Some(name.to_string());
    Ok(msg)
}
