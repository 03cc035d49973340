//! Second stage: the jobs [`Ready`] to deliver are grouped into units (one
//! job, or several jobs for a `batch` endpoint), each unit's signed request
//! is built ([`build`]; a unit that cannot be signed never reaches the
//! endpoint), sent ([`send`]), and its answer classified, one result per
//! job. One log line per attempt.

use crate::prepare::Ready;
use hookrelay_shared::clock::Clock;
use hookrelay_shared::endpoint::Endpoint;
use hookrelay_shared::outbound::{AttemptError, HttpRequest, HttpResponse, Transport};
use hookrelay_shared::retry::parse_retry_after;
use hookrelay_shared::schemes::SignInput;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use time::OffsetDateTime;

/// Jobs delivered by one HTTP request.
pub(crate) struct Unit<'a> {
    pub records: Vec<Ready<'a>>,
    pub endpoint: Arc<Endpoint>,
}

/// A unit whose request cannot be made: the configuration's fault (no
/// active key, a payload the scheme cannot carry), not the endpoint's, and
/// retrying would not change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CannotSign(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptResult {
    Delivered {
        status: u16,
    },
    Failed {
        status: String,
        retry_after: Option<Duration>,
        gone: bool,
        error: String,
    },
}

/// Groups records: one unit per record, except that records for an endpoint
/// with `batch` travel together, up to its `max_items`.
pub(crate) fn units(ready: Vec<Ready<'_>>) -> Vec<Unit<'_>> {
    let mut units = Vec::new();
    let mut batches: BTreeMap<String, Vec<Ready<'_>>> = BTreeMap::new();
    for r in ready {
        if r.endpoint.config.batch.is_some() {
            batches.entry(r.job.endpoint.clone()).or_default().push(r);
        } else {
            let endpoint = Arc::clone(&r.endpoint);
            units.push(Unit {
                records: vec![r],
                endpoint,
            });
        }
    }
    for (_, mut records) in batches {
        let max = records[0]
            .endpoint
            .config
            .batch
            .as_ref()
            .map(|b| b.max_items)
            .unwrap_or(1)
            .max(1);
        while !records.is_empty() {
            let rest = records.split_off(records.len().min(max));
            let endpoint = Arc::clone(&records[0].endpoint);
            units.push(Unit { records, endpoint });
            records = rest;
        }
    }
    units
}

/// The body and idempotency id of a unit: the payload itself, or for a
/// batch a JSON array of the payloads with an id derived from the job ids.
fn body_and_id(unit: &Unit<'_>) -> (Vec<u8>, String, String) {
    if let [only] = unit.records.as_slice() {
        return (
            only.job.payload.get().as_bytes().to_vec(),
            only.job.id.clone(),
            only.job.event_type.clone(),
        );
    }
    let mut body = Vec::from(&b"["[..]);
    let mut h = Sha256::new();
    for (i, r) in unit.records.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(r.job.payload.get().as_bytes());
        h.update(r.job.id.as_bytes());
        h.update([0]);
    }
    body.push(b']');
    let first_type = &unit.records[0].job.event_type;
    let event_type = if unit.records.iter().all(|r| &r.job.event_type == first_type) {
        first_type.clone()
    } else {
        "batch".into()
    };
    (
        body,
        format!("batch_{}", &hex::encode(h.finalize())[..24]),
        event_type,
    )
}

/// The unit's signed request.
pub(crate) fn build(unit: &Unit<'_>, now: OffsetDateTime) -> Result<HttpRequest, CannotSign> {
    let endpoint = &unit.endpoint;
    let name = unit.records[0].job.endpoint.as_str();
    let (payload, id, event_type) = body_and_id(unit);

    let signed = match &endpoint.scheme {
        Some(scheme) => match scheme.sign(&SignInput {
            id: &id,
            at: now,
            body: &payload,
            event_type: Some(&event_type),
        }) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(job_id = id, endpoint = name, error = %e, "cannot sign");
                return Err(CannotSign(e.to_string()));
            }
        },
        None => None,
    };
    let body = signed
        .as_ref()
        .map(|s| s.body_or(&payload).to_vec())
        .unwrap_or(payload);
    // An endpoint's own Content-Type (a charset, a vendor type) replaces ours
    // rather than doubling it.
    let mut headers: Vec<(String, String)> = Vec::new();
    if !endpoint
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    let signature_headers = signed.map(|s| s.headers).unwrap_or_default();
    if let Some(h) = &endpoint.config.idempotency_header
        && !signature_headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(h))
    {
        headers.push((h.clone(), id.clone()));
    }
    headers.extend(endpoint.headers.iter().cloned());
    headers.extend(signature_headers);
    let request = HttpRequest {
        url: endpoint.url.clone(),
        headers,
        body,
        timeout: endpoint.timeout,
    };
    // Configuration and job intake check what goes into headers; this is
    // the last guard: a request the HTTP client would refuse is never an
    // attempt, so it never counts against the endpoint.
    if let Some(header) = request.unsendable_header() {
        tracing::error!(
            job_id = id,
            endpoint = name,
            header,
            "request cannot be sent"
        );
        return Err(CannotSign(format!(
            "the {header:?} header would not be a valid header value"
        )));
    }
    Ok(request)
}

/// Sends the unit's request and returns one result per record of the unit.
pub(crate) async fn send(
    transport: &dyn Transport,
    clock: &dyn Clock,
    unit: &Unit<'_>,
    request: HttpRequest,
) -> Vec<AttemptResult> {
    let n = unit.records.len();
    let name = unit.records[0].job.endpoint.as_str();
    let started = Instant::now();
    let outcome = transport.post(request).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    // The receive count: the attempt number is logged with the verdict.
    let receives: Vec<u32> = unit.records.iter().map(|r| r.rec.receives).collect();
    let job_ids: Vec<&str> = unit.records.iter().map(|r| r.job.id.as_str()).collect();

    match outcome {
        Ok(resp) => {
            let snippet = snippet(&resp.body);
            tracing::info!(
                job_id = job_ids.join(","),
                endpoint = name,
                receives = receives.iter().max().copied().unwrap_or(1),
                status = resp.status,
                duration_ms,
                response = snippet,
                "delivery attempt"
            );
            classify(&resp, n, clock.now())
        }
        Err(e) => {
            tracing::info!(
                job_id = job_ids.join(","),
                endpoint = name,
                receives = receives.iter().max().copied().unwrap_or(1),
                status = e.label(),
                duration_ms,
                error = %e,
                "delivery attempt"
            );
            let gone = false;
            let error = e.to_string();
            let status = match &e {
                AttemptError::Refused(_) => "refused".to_string(),
                other => other.label().to_string(),
            };
            vec![
                AttemptResult::Failed {
                    status,
                    retry_after: None,
                    gone,
                    error
                };
                n
            ]
        }
    }
}

/// At most 1 KiB of the response for the log line, as text.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(1024)]);
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// One result per job of the unit; `now` reads a `Retry-After` date.
fn classify(resp: &HttpResponse, n: usize, now: OffsetDateTime) -> Vec<AttemptResult> {
    let status = resp.status;
    if (200..300).contains(&status) {
        if n > 1
            && let Some(items) = per_item_results(&resp.body, n)
        {
            return items
                .into_iter()
                .map(|ok| {
                    if ok {
                        AttemptResult::Delivered { status }
                    } else {
                        AttemptResult::Failed {
                            status: format!("{status}-item-failed"),
                            retry_after: None,
                            gone: false,
                            error: "the endpoint reported this item as failed".into(),
                        }
                    }
                })
                .collect();
        }
        return vec![AttemptResult::Delivered { status }; n];
    }
    let retry_after = if status == 429 || status == 503 {
        resp.retry_after
            .as_deref()
            .and_then(|v| parse_retry_after(v, SystemTime::from(now)))
    } else {
        None
    };
    let error = if (300..400).contains(&status) {
        "redirects are not followed".to_string()
    } else {
        snippet(&resp.body).chars().take(200).collect()
    };
    vec![
        AttemptResult::Failed {
            status: status.to_string(),
            retry_after,
            gone: status == 410,
            error
        };
        n
    ]
}

/// LeadDone answers a bulk request with one `{"success": bool, ...}` per
/// element: when a 2xx answer has that shape and length, each job gets its
/// own result.
fn per_item_results(body: &[u8], n: usize) -> Option<Vec<bool>> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(body).ok()?;
    if items.len() != n {
        return None;
    }
    items
        .iter()
        .map(|i| i.get("success").and_then(serde_json::Value::as_bool))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Invocation, Record};
    use aws_lambda_events::event::sqs::SqsMessage;
    use hookrelay_shared::secrets::FromSecret;

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn resp(status: u16, retry_after: Option<&str>, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            retry_after: retry_after.map(String::from),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn two_hundreds_deliver_and_other_statuses_fail() {
        assert_eq!(
            classify(&resp(204, None, ""), 1, NOW),
            vec![AttemptResult::Delivered { status: 204 }]
        );
        let AttemptResult::Failed {
            status,
            gone,
            retry_after,
            ..
        } = &classify(&resp(500, Some("5"), "boom"), 1, NOW)[0]
        else {
            panic!()
        };
        assert_eq!(
            (status.as_str(), *gone, *retry_after),
            ("500", false, None),
            "Retry-After only counts on 429/503"
        );
        let AttemptResult::Failed { retry_after, .. } =
            &classify(&resp(429, Some("7"), ""), 1, NOW)[0]
        else {
            panic!()
        };
        assert_eq!(*retry_after, Some(Duration::from_secs(7)));
        let AttemptResult::Failed { gone, .. } = &classify(&resp(410, None, ""), 1, NOW)[0] else {
            panic!()
        };
        assert!(*gone);
        let AttemptResult::Failed { error, .. } = &classify(&resp(302, None, ""), 1, NOW)[0] else {
            panic!()
        };
        assert!(error.contains("redirect"));
    }

    #[test]
    fn per_item_results_apply_to_batches_of_the_same_length() {
        let body = r#"[{"success":true,"order_id":"1"},{"success":false,"order_id":"2"}]"#;
        let r = classify(&resp(200, None, body), 2, NOW);
        assert_eq!(r[0], AttemptResult::Delivered { status: 200 });
        assert!(
            matches!(&r[1], AttemptResult::Failed { status, .. } if status == "200-item-failed")
        );
        // Wrong length or shape: the status decides for all.
        assert_eq!(
            classify(&resp(200, None, body), 3, NOW),
            vec![AttemptResult::Delivered { status: 200 }; 3]
        );
        assert_eq!(
            classify(&resp(200, None, "ok"), 2, NOW),
            vec![AttemptResult::Delivered { status: 200 }; 2]
        );
    }

    fn unit_for<'a>(msg: &'a SqsMessage, job_id: &str, endpoint: Endpoint) -> Unit<'a> {
        let job = serde_json::json!({"id": job_id, "endpoint": "e", "event_type": "t",
            "payload": {}, "created_at": "2026-11-22T10:00:00.000Z"});
        let endpoint = Arc::new(endpoint);
        Unit {
            records: vec![Ready {
                rec: Record::read(
                    msg,
                    &Invocation {
                        started: NOW,
                        batching_window: Duration::ZERO,
                        deadline: None,
                    },
                )
                .unwrap(),
                job: serde_json::from_value(job).unwrap(),
                endpoint: Arc::clone(&endpoint),
            }],
            endpoint,
        }
    }

    #[test]
    fn a_request_the_http_client_would_refuse_is_never_attempted() {
        let mut msg = SqsMessage::default();
        msg.message_id = Some("m".into());
        msg.receipt_handle = Some("r".into());
        let ok = Endpoint::from_secret(r#"{"url":"https://x.io"}"#).unwrap();
        assert!(build(&unit_for(&msg, "job_1", ok.clone()), NOW).is_ok());
        // What intake and configuration checks refuse, if it got this far:
        // a job id for the idempotency header, a header value.
        let Err(CannotSign(e)) = build(&unit_for(&msg, "job\n1", ok.clone()), NOW) else {
            panic!("built")
        };
        assert!(e.contains("webhook-id"), "{e}");
        let mut bad = ok;
        bad.headers.push(("X-Token".into(), "a\u{1}b".into()));
        let Err(CannotSign(e)) = build(&unit_for(&msg, "job_1", bad), NOW) else {
            panic!("built")
        };
        assert!(e.contains("X-Token") && !e.contains("a\u{1}b"), "{e}");
    }

    #[test]
    fn snippets_are_bounded_text() {
        let long = "é".repeat(2000);
        assert!(snippet(long.as_bytes()).len() <= 1024 + 3);
        assert_eq!(snippet(b"a\x00b"), "a b");
    }
}
