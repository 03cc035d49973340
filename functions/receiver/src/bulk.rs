//! Bulk bodies (LeadDone): a JSON array whose elements are separate events.
//! Each element becomes its own message (SendMessageBatch, at most 10 and
//! 1 MiB per call);
//! the answer has one result per element in LeadDone's own shape.

use crate::answer::{Answer, Reject, json_response, with_retry_after};
use crate::event::{Event, extract, new_id};
use hookrelay_shared::attributes::{EVENT_TYPE, SOURCE};
use hookrelay_shared::event::Event as RelayEvent;
use hookrelay_shared::json_pointer;
use hookrelay_shared::queue::{OutgoingMessage, Queue, QueueError, send_all};
use hookrelay_shared::source::{BulkConfig, Extract, Source, bulk_element_id};
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
            let own_id = json_pointer::lookup_scalar(el.get(), &bulk.id_pointer)
                .ok()
                .flatten();
            let id = match (own_id, delivery_id) {
                // The element's own id: a platform re-sending the elements a
                // 207 reported as failed, in a new request, gets the same
                // ids, so they are not delivered twice under two ids.
                (Some(own), _) => bulk_element_id(&own, el.get().as_bytes()),
                // Stable ids when the platform names its delivery, so FIFO
                // queues drop a retried bulk request's duplicates.
                (None, Some(d)) => format!("{d}.{i}"),
                (None, None) => new_id(),
            };
            Ok(Event {
                id,
                event_type_signed: event_type.is_some() && source.event_type_signed,
                event_type,
                raw: el.get().as_bytes(),
                bulk_index: Some(i),
            })
        })
        .collect()
}

/// What happened to one element of a bulk body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// On the inbound queue (and on the events queue when the source relays).
    Queued,
    QueueUnavailable,
    QueueRejected,
    /// On the inbound queue but not on the events queue: reported as failed
    /// so the platform sends it again and its fan-out is not lost.
    RelayFailed,
}

impl Outcome {
    fn from_error(e: &QueueError) -> Self {
        match e {
            QueueError::Unavailable(_) => Outcome::QueueUnavailable,
            QueueError::Rejected(_) => Outcome::QueueRejected,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Outcome::Queued => "received",
            Outcome::QueueUnavailable => "queue unavailable, retry this element",
            Outcome::QueueRejected => "rejected by the queue",
            Outcome::RelayFailed => "not relayed for fan-out, retry this element",
        }
    }
}

/// SendMessageBatch calls in flight for one bulk body: a 100-element body
/// costs one round trip, not ten.
const MAX_IN_FLIGHT: usize = 10;

/// Puts every element on the inbound queue.
pub(crate) async fn enqueue(queue: &dyn Queue, messages: Vec<OutgoingMessage>) -> Vec<Outcome> {
    send_all(queue, messages, MAX_IN_FLIGHT)
        .await
        .iter()
        .map(|r| match r {
            Ok(_) => Outcome::Queued,
            Err(e) => Outcome::from_error(e),
        })
        .collect()
}

/// Relay mode: hands the elements the inbound queue accepted (and only
/// those: the platform sends the others again) to the events queue. An
/// element whose relay fails is reported as failed. `relays` has one entry
/// per element; `None` for an element that cannot be relayed (not JSON).
pub(crate) async fn relay(
    queue: &dyn Queue,
    source: &str,
    events: &[Event<'_>],
    relays: Vec<Option<OutgoingMessage>>,
    outcomes: &mut [Outcome],
) {
    let (indices, messages): (Vec<usize>, Vec<OutgoingMessage>) = relays
        .into_iter()
        .enumerate()
        .filter(|(i, _)| outcomes.get(*i) == Some(&Outcome::Queued))
        .filter_map(|(i, m)| m.map(|m| (i, m)))
        .unzip();
    let results = send_all(queue, messages, MAX_IN_FLIGHT).await;
    for (i, result) in indices.into_iter().zip(results) {
        if let Err(e) = result {
            tracing::error!(source, id = events[i].id, error = %e, "event not relayed; element reported as failed");
            outcomes[i] = Outcome::RelayFailed;
        }
    }
}

/// LeadDone's answer: one result per element; 202 when all were queued, 207
/// when some were, 503 when none were (the platform must retry it all).
pub(crate) fn answer(events: &[Event<'_>], outcomes: &[Outcome], bulk: &BulkConfig) -> Answer {
    let results: Vec<ElementResult> = outcomes
        .iter()
        .zip(events)
        .map(|(outcome, event)| {
            let order_id = std::str::from_utf8(event.raw).ok().and_then(|t| {
                json_pointer::lookup_scalar(t, &bulk.id_pointer)
                    .ok()
                    .flatten()
            });
            ElementResult {
                success: *outcome == Outcome::Queued,
                message: outcome.message(),
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
    let mut response = json_response(status, &results);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        with_retry_after(&mut response);
    }
    Answer {
        status,
        response,
        first_id: events.first().map(|e| e.id.clone()),
        event_type: events.first().and_then(|e| e.event_type.clone()),
        events: ok,
        key_index: 0,
    }
}

/// The events-queue message for relay mode.
pub(crate) fn relay_message(
    name: &str,
    event: &Event<'_>,
) -> Result<OutgoingMessage, &'static str> {
    let text = std::str::from_utf8(event.raw).map_err(|_| "body is not UTF-8 JSON")?;
    let payload: Box<RawValue> = serde_json::from_str(text).map_err(|_| "body is not JSON")?;
    let mut e = RelayEvent::new(
        event.event_type.clone().unwrap_or_else(|| name.to_string()),
        payload,
    );
    e.id = Some(format!("{name}:{}", event.id));
    e.source = Some(name.to_string());
    let body = serde_json::to_string(&e).map_err(|_| "event does not serialize")?;
    let mut msg = OutgoingMessage::new(body)
        .attribute(SOURCE, name)
        .attribute(EVENT_TYPE, e.event_type.clone());
    msg.dedup_id = e.id.clone();
    msg.group_id = Some(name.to_string());
    Ok(msg)
}
