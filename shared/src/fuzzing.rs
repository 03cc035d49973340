//! The bodies of the `cargo fuzz` targets in `fuzz/`, one function per
//! target, each taking the fuzzer's bytes.
//!
//! They live here, and not in the fuzz crate, so that a normal `cargo test`
//! runs the very same code over the committed seed corpora and the inputs
//! of past findings (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`):
//! a regression then fails CI without a nightly toolchain or sanitizers.
//! This module is compiled only for tests and under `cargo fuzz` (which
//! builds every crate with `--cfg fuzzing`), never into the functions.
//!
//! Every target calls only the public API the Lambda functions and the CLI
//! call, and checks more than "does not panic" where a property is cheap to
//! state: what the sender signs verifies, a configuration that compiles
//! produces requests that can be sent, queue messages round-trip through
//! their JSON, `json_pointer` agrees with `serde_json::Value::pointer`.
//!
//! Input formats are plain text so that seeds can be read and written by
//! hand; see each function.

use crate::endpoint::Endpoint;
use crate::envelope::{
    ATTR_EVENT_TYPE, ATTR_SOURCE, BodyEncoding, ENVELOPE_VERSION, Envelope, OwnedEnvelope,
};
use crate::event::Event;
use crate::job::DeliveryJob;
use crate::js_stringify::{js_stringify, js_stringify_into};
use crate::json_pointer;
use crate::queue::OutgoingMessage;
use crate::retry::MAX_VISIBILITY;
use crate::schemes::keys::KeyConfig;
use crate::schemes::{Scheme, SchemeName, SignError, SignInput, SignatureConfig};
use crate::secrets::FromSecret;
use crate::source::Source;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// A target: its name (the file `fuzz/fuzz_targets/<name>.rs`, the corpus
/// directories) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order `make fuzz` runs them.
pub const TARGETS: &[Target] = &[
    ("verify_header_hmac", verify_header_hmac),
    ("verify_leaddone", verify_leaddone),
    ("verify_standard_webhooks", verify_standard_webhooks),
    ("verify_stripe", verify_stripe),
    ("verify_static", verify_static),
    ("verify_leanbe", verify_leanbe),
    ("sign_verify", sign_verify),
    ("leanbe_body", leanbe_body),
    ("json_pointer", json_pointer),
    ("js_stringify", js_stringify_target),
    ("envelope", envelope),
    ("job", job),
    ("event", event),
    ("source_config", source_config),
    ("endpoint_config", endpoint_config),
];

/// The time seeds are signed at when they carry none (the vectors' `now`).
const DEFAULT_NOW: i64 = 1_700_000_000;

// ---------------------------------------------------------------------------
// Signature verification: what the receiver does with a request.
// ---------------------------------------------------------------------------

/// Input: a request for one scheme family, as text:
///
/// ```text
/// {"scheme":"github","keys":["k"]}      <- the source's SignatureConfig (JSON, one line)
/// 1700000000                            <- now, Unix seconds
/// X-Hub-Signature-256: sha256=...       <- headers, one a line
///                                       <- an empty line
/// {"raw":"body"}                        <- the body, byte for byte
/// ```
///
/// Checks that verification never panics and that a success names a
/// configured key.
fn verify_family(family: &[SchemeName], data: &[u8]) {
    let Some(req) = Request::parse(data) else {
        return;
    };
    let Ok(cfg) = serde_json::from_slice::<SignatureConfig>(req.config) else {
        return;
    };
    if !family.contains(&cfg.scheme) {
        return;
    }
    let Ok(scheme) = Scheme::compile(&cfg) else {
        return;
    };
    if let Ok(v) = scheme.verify(&req.headers, req.body, req.now) {
        let keys = match &v.client_id {
            Some(c) => cfg
                .clients
                .get(c)
                .map_or(cfg.keys.len(), |k| k.len().max(cfg.keys.len())),
            None => cfg.keys.len(),
        };
        assert!(
            v.key_index < keys,
            "verified by key {} of {keys}",
            v.key_index
        );
    }
}

pub fn verify_header_hmac(data: &[u8]) {
    use SchemeName::*;
    verify_family(
        &[Leaflink, Leaftrade, Smarterlaunch, Github, Shopify, Hmac],
        data,
    );
}

pub fn verify_leaddone(data: &[u8]) {
    verify_family(&[SchemeName::Leaddone], data);
}

pub fn verify_standard_webhooks(data: &[u8]) {
    verify_family(&[SchemeName::StandardWebhooks], data);
}

pub fn verify_stripe(data: &[u8]) {
    verify_family(&[SchemeName::Stripe], data);
}

pub fn verify_static(data: &[u8]) {
    verify_family(&[SchemeName::Token, SchemeName::Basic], data);
}

pub fn verify_leanbe(data: &[u8]) {
    verify_family(&[SchemeName::Leanbe], data);
}

/// A request parsed from the text format of [`verify_family`].
struct Request<'a> {
    config: &'a [u8],
    now: OffsetDateTime,
    headers: HeaderMap,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        let (config, rest) = split_line(data)?;
        let (now, mut rest) = split_line(rest).unwrap_or((rest, &[]));
        let now = parse_now(now);
        let mut headers = HeaderMap::new();
        loop {
            let Some((line, after)) = split_line(rest) else {
                // No empty line: everything was headers, the body is empty.
                add_header(&mut headers, rest);
                rest = &[];
                break;
            };
            rest = after;
            if line.is_empty() || line == b"\r" {
                break;
            }
            add_header(&mut headers, line);
        }
        Some(Self {
            config,
            now,
            headers,
            body: rest,
        })
    }
}

fn split_line(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = data.iter().position(|&b| b == b'\n')?;
    Some((&data[..i], &data[i + 1..]))
}

fn parse_now(line: &[u8]) -> OffsetDateTime {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or_else(|| at(DEFAULT_NOW))
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("a representable time")
}

/// `Name: value`, as an HTTP parser would take it (lines that API Gateway
/// could not have passed on are dropped).
fn add_header(headers: &mut HeaderMap, line: &[u8]) {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return;
    };
    let value = line[colon + 1..].trim_ascii();
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(&line[..colon]),
        HeaderValue::from_bytes(value),
    ) {
        headers.append(name, value);
    }
}

// ---------------------------------------------------------------------------
// Signing: what the sender and the CLI do; what they sign must verify.
// ---------------------------------------------------------------------------

/// Input:
///
/// ```text
/// {"scheme":"stripe","keys":["k"]}      <- SignatureConfig (JSON, one line)
/// 1700000000                            <- signing time, Unix seconds
/// job_1                                 <- delivery id
/// order.created                         <- event type (Leanbe puts it in the body)
/// {"payload":1}                         <- the body, to the end
/// ```
///
/// Whatever a configuration that compiles signs, the same configuration
/// verifies at the same time, and the headers it writes can be sent.
pub fn sign_verify(data: &[u8]) {
    let Some((config, rest)) = split_line(data) else {
        return;
    };
    let Some((now, rest)) = split_line(rest) else {
        return;
    };
    let Some((id, rest)) = split_line(rest) else {
        return;
    };
    let Some((event_type, body)) = split_line(rest) else {
        return;
    };
    let Ok(cfg) = serde_json::from_slice::<SignatureConfig>(config) else {
        return;
    };
    let Ok(scheme) = Scheme::compile(&cfg) else {
        return;
    };
    let (Ok(id), Ok(event_type)) = (std::str::from_utf8(id), std::str::from_utf8(event_type))
    else {
        return;
    };
    let now = parse_now(now);
    let input = SignInput {
        id,
        at: now,
        body,
        event_type: Some(event_type),
    };
    let signed = match scheme.sign(&input) {
        Ok(s) => s,
        Err(SignError::PayloadNotJson(_)) => {
            assert!(scheme.name().needs_json() && js_stringify(body).is_err());
            return;
        }
        Err(SignError::InvalidId) => {
            // Refused only where the id would go in a header it cannot be
            // read back from.
            let readable = HeaderValue::from_str(id)
                .is_ok_and(|v| v.to_str().is_ok_and(|t| !t.is_empty() && t.trim() == id));
            assert!(
                scheme.id_header().is_some() && !readable,
                "refused id {id:?}"
            );
            return;
        }
        Err(SignError::NoActiveKey | SignError::NoClientId) => return,
    };
    let headers = sendable_headers(&signed.headers);
    let sent = signed.body_or(body);
    if let Err(e) = scheme.verify(&headers, sent, now) {
        panic!("{} does not verify what it signed: {e}", scheme.name());
    }
}

/// The headers as the sender's HTTP client would send them; panics on one
/// it could not send (the delivery would fail on every attempt).
fn sendable_headers(headers: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|_| panic!("a signature header name cannot be sent: {name:?}"));
        let v = HeaderValue::from_str(value)
            .unwrap_or_else(|_| panic!("the value of {name} cannot be sent: {value:?}"));
        map.append(n, v);
    }
    map
}

// ---------------------------------------------------------------------------
// Leanbe: the signature inside the body.
// ---------------------------------------------------------------------------

/// Input: a body. It is verified as an incoming Leanbe request, and signed
/// as a payload the sender wraps (which must then verify, and carry the
/// payload as `JSON.stringify` writes it).
pub fn leanbe_body(data: &[u8]) {
    let cfg = SignatureConfig::new(
        SchemeName::Leanbe,
        vec![KeyConfig::Plain("leanbe-key".into())],
    );
    let scheme = Scheme::compile(&cfg).expect("a valid configuration");
    let now = at(DEFAULT_NOW);
    let no_headers = HeaderMap::new();
    let _ = scheme.verify(&no_headers, data, now);

    let input = SignInput {
        id: "job_1",
        at: now,
        body: data,
        event_type: Some("idea.created"),
    };
    match scheme.sign(&input) {
        Ok(signed) => {
            let body = signed.body.as_deref().expect("leanbe writes the body");
            scheme
                .verify(&no_headers, body, now)
                .unwrap_or_else(|e| panic!("leanbe does not verify what it signed: {e}"));
            let text = std::str::from_utf8(body).expect("the signed body is UTF-8");
            let payload = json_pointer::lookup(text, "/payload")
                .expect("the signed body is JSON")
                .expect("the signed body has a payload");
            let expected = js_stringify(data).expect("what was signed is JSON");
            assert_eq!(
                payload.get(),
                expected,
                "the payload is not JSON.stringify's"
            );
        }
        Err(SignError::PayloadNotJson(_)) => assert!(js_stringify(data).is_err()),
        Err(e) => panic!("unexpected signing error: {e}"),
    }
}

// ---------------------------------------------------------------------------
// JSON helpers the receiver runs on bodies.
// ---------------------------------------------------------------------------

/// Input: a pointer on the first line, a JSON document after it.
/// `lookup` must agree with `serde_json::Value::pointer` wherever serde_json
/// can build the document.
pub fn json_pointer(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pointer, json) = text.split_once('\n').unwrap_or((text, ""));
    let found = json_pointer::lookup(json, pointer);
    let scalar = json_pointer::lookup_scalar(json, pointer);
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
        return;
    };
    let found = found.unwrap_or_else(|e| panic!("lookup fails on a valid document: {e}"));
    let found: Option<serde_json::Value> =
        found.map(|raw| serde_json::from_str(raw.get()).expect("a found value is JSON"));
    let expected = doc.pointer(pointer);
    assert_eq!(found.as_ref(), expected, "pointer {pointer:?}");
    let scalar = scalar.unwrap_or_else(|e| panic!("lookup_scalar fails on a valid document: {e}"));
    let expected_scalar = match expected {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            Some(v.to_string())
        }
        _ => None,
    };
    // Numbers are returned as written (`1.50`), serde_json prints its own form.
    if let (Some(serde_json::Value::Number(_)), Some(s)) = (expected, &scalar) {
        let n: serde_json::Value = serde_json::from_str(s).expect("a number's text");
        assert_eq!(Some(&n), expected, "pointer {pointer:?}");
    } else {
        assert_eq!(scalar, expected_scalar, "pointer {pointer:?}");
    }
}

/// Input: any bytes. `js_stringify` accepts exactly what serde_json
/// accepts, its output is a fixed point (`JSON.stringify(JSON.parse(s))` of
/// its own output is itself), and both entry points agree. (The comparison
/// with Node.js itself runs over this target's corpus in a test.)
pub fn js_stringify_target(data: &[u8]) {
    let ours = js_stringify(data);
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "js_stringify: {ours:?}, serde_json: {theirs:?}"
    );
    let mut buf = b"prefix".to_vec();
    let into = js_stringify_into(data, &mut buf);
    assert_eq!(into.is_ok(), ours.is_ok());
    if let Ok(out) = ours {
        assert_eq!(&buf[b"prefix".len()..], out.as_bytes());
        let again = js_stringify(out.as_bytes()).expect("our output parses");
        assert_eq!(again, out, "not a fixed point");
    } else {
        assert_eq!(buf, b"prefix", "the buffer was written on error");
    }
}

// ---------------------------------------------------------------------------
// Queue messages.
// ---------------------------------------------------------------------------

/// Text SQS accepts in a message body and in attribute values.
fn sqs_accepts(text: &str) -> bool {
    text.chars().all(crate::dead_letter::sqs_allows)
}

/// Input: any bytes, used twice.
///
/// As the text of an inbound message, a consumer's view: parsing never
/// panics, and a parsed envelope serializes and parses back to the same
/// text from the second round on (the first may drop sub-millisecond
/// digits of `received_at`).
///
/// As a request the receiver turns into an envelope and queues (first line
/// the delivery id, second line the event type, both as `json_pointer` may
/// have decoded them from a verified body; the rest the raw body): the
/// message body and attributes are text SQS accepts, and the envelope gives
/// back the exact body, id and event type.
pub fn envelope(data: &[u8]) {
    if let Ok(env) = serde_json::from_slice::<OwnedEnvelope>(data) {
        let _ = env.body_bytes();
        let once = serde_json::to_string(&env).expect("an envelope serializes");
        let back: OwnedEnvelope = serde_json::from_str(&once)
            .unwrap_or_else(|e| panic!("a serialized envelope does not parse: {e}: {once}"));
        let twice = serde_json::to_string(&back).expect("an envelope serializes");
        assert_eq!(once, twice);
    }

    let (id, rest) = split_line(data).unwrap_or((b"evt_1", data));
    let (event_type, raw) = split_line(rest).unwrap_or((b"", rest));
    let id = String::from_utf8_lossy(id);
    let event_type = String::from_utf8_lossy(event_type);
    let (body, body_encoding) = Envelope::encode_body(raw);
    let env = Envelope {
        version: ENVELOPE_VERSION,
        id: id.as_ref().into(),
        source: "fuzz".into(),
        event_type: (!event_type.is_empty()).then(|| event_type.as_ref().into()),
        event_type_signed: !event_type.is_empty(),
        received_at: at(DEFAULT_NOW),
        headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
        body,
        body_encoding,
        bulk_index: None,
    };
    // As the receiver queues it (functions/receiver/src/lib.rs, `message`).
    let text = serde_json::to_string(&env).expect("an envelope serializes");
    let msg = OutgoingMessage::new(text)
        .attribute(ATTR_SOURCE, "fuzz")
        .attribute(ATTR_EVENT_TYPE, event_type.as_ref());
    assert!(
        sqs_accepts(&msg.body),
        "SQS would refuse this envelope: {:?}",
        msg.body
    );
    for (name, value) in &msg.attributes {
        assert!(
            sqs_accepts(value),
            "SQS would refuse attribute {name}: {value:?}"
        );
    }
    let back: OwnedEnvelope = serde_json::from_str(&msg.body).expect("parses back");
    assert_eq!(&*back.body_bytes().expect("decodes"), raw);
    assert_eq!(back.id, env.id);
    assert_eq!(back.event_type, env.event_type);
    if std::str::from_utf8(raw).is_ok_and(|s| !s.contains(['\u{fffe}', '\u{ffff}'])) {
        assert_eq!(back.body_encoding, BodyEncoding::Utf8);
    }
}

/// Input: the text of an outbound-queue message. A job that parses
/// serializes to text that parses back to the same job, keeping its
/// payload byte for byte.
pub fn job(data: &[u8]) {
    let Ok(job) = serde_json::from_slice::<DeliveryJob>(data) else {
        return;
    };
    let once = serde_json::to_string(&job).expect("a job serializes");
    let back: DeliveryJob = serde_json::from_str(&once)
        .unwrap_or_else(|e| panic!("a serialized job does not parse: {e}: {once}"));
    assert_eq!(back.payload.get(), job.payload.get());
    assert_eq!(serde_json::to_string(&back).expect("serializes"), once);
}

/// Input: the text of an events-queue message. An event that parses
/// round-trips, and the router's fan-out of it makes jobs that round-trip.
pub fn event(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return;
    };
    let once = serde_json::to_string(&event).expect("an event serializes");
    let back: Event = serde_json::from_str(&once)
        .unwrap_or_else(|e| panic!("a serialized event does not parse: {e}: {once}"));
    assert_eq!(back.payload.get(), event.payload.get());
    assert_eq!(serde_json::to_string(&back).expect("serializes"), once);

    let mut job = DeliveryJob::new(
        "endpoint",
        event.event_type.clone(),
        event.payload.clone(),
        at(DEFAULT_NOW),
    );
    if let Some(id) = &event.id {
        job.id = DeliveryJob::derived_id(id, "endpoint");
        job.event_id = Some(id.clone());
    }
    let text = serde_json::to_string(&job).expect("a job serializes");
    let back: DeliveryJob = serde_json::from_str(&text).expect("a fanned-out job parses");
    assert_eq!(back.payload.get(), event.payload.get());
}

// ---------------------------------------------------------------------------
// Configurations (Secrets Manager secrets).
// ---------------------------------------------------------------------------

/// No compile error quotes a key (errors are logged and copied into
/// dead-letter attributes). `compile` is run again with every key's letters
/// and digits rotated (rot13, digits by 5): an error that contains a key
/// and, the second time, the rotated key, follows the key, so it quotes it.
/// (A key can also be a substring of an error's own words: the first
/// finding of this target was the key "invalid domain charact".) Keys
/// shorter than 8 characters are skipped.
fn assert_no_key_quoted<C: Clone>(
    error: &str,
    config: &C,
    signature: impl Fn(&mut C) -> Option<&mut SignatureConfig>,
    compile: impl Fn(C) -> Result<(), String>,
) {
    let mut rotated = config.clone();
    let Some(sig) = signature(&mut rotated) else {
        return;
    };
    let mut pairs = Vec::new();
    for key in sig
        .keys
        .iter_mut()
        .chain(sig.clients.values_mut().flatten())
    {
        let secret = key.secret().to_string();
        let turned: String = secret.chars().map(rotate).collect();
        *key = match key {
            KeyConfig::Plain(_) => KeyConfig::Plain(turned.clone()),
            KeyConfig::WithExpiry { not_after, .. } => KeyConfig::WithExpiry {
                secret: turned.clone(),
                not_after: *not_after,
            },
        };
        if secret.len() >= 8 && turned != secret && error.contains(&secret) {
            pairs.push((secret, turned));
        }
    }
    if pairs.is_empty() {
        return;
    }
    let Err(second) = compile(rotated) else {
        return;
    };
    for (secret, turned) in pairs {
        assert!(
            !second.contains(&turned),
            "the error quotes a key: {error} / {second} ({secret:?})"
        );
    }
}

fn rotate(c: char) -> char {
    let shift = |base: u8, n: u8, by: u8| char::from(base + (c as u8 - base + by) % n);
    match c {
        'a'..='z' => shift(b'a', 26, 13),
        'A'..='Z' => shift(b'A', 26, 13),
        '0'..='9' => shift(b'0', 10, 5),
        other => other,
    }
}

/// Input: a source's secret. Parsing and compiling never panic, an error
/// never quotes a key, and a configuration that compiles survives the CLI's
/// read-modify-write (serialize, parse, compile) unchanged.
pub fn source_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = serde_json::from_str::<crate::source::SourceConfig>(text);
    let source = match Source::from_secret(text) {
        Ok(s) => s,
        Err(e) => {
            if let Ok(cfg) = &parsed {
                assert_no_key_quoted(
                    &e,
                    cfg,
                    |c| Some(&mut c.signature),
                    |c| Source::compile(c).map(drop),
                );
            }
            return;
        }
    };
    let written = serde_json::to_string(&source.config).expect("a source config serializes");
    let again = Source::from_secret(&written)
        .unwrap_or_else(|e| panic!("a written source config no longer compiles: {e}"));
    assert_eq!(again.config, source.config);
    assert_eq!(again.forward_headers, source.forward_headers);
}

/// Input: an endpoint's secret. Besides what [`source_config`] checks, an
/// endpoint that compiles can be delivered to: the request the sender
/// builds (its own headers, the idempotency header, the signature's) has
/// only valid, distinct header names and valid values, and its retry
/// schedule gives waits SQS accepts.
pub fn endpoint_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = serde_json::from_str::<crate::endpoint::EndpointConfig>(text);
    let endpoint = match Endpoint::from_secret(text) {
        Ok(e) => e,
        Err(e) => {
            if let Ok(cfg) = &parsed {
                assert_no_key_quoted(
                    &e,
                    cfg,
                    |c| c.signature.as_mut(),
                    |c| Endpoint::compile(c).map(drop),
                );
            }
            return;
        }
    };
    let written = serde_json::to_string(&endpoint.config).expect("an endpoint serializes");
    let again = Endpoint::from_secret(&written)
        .unwrap_or_else(|e| panic!("a written endpoint config no longer compiles: {e}"));
    assert_eq!(again.config, endpoint.config);

    for attempt in 0..=endpoint.schedule.max_attempts() {
        for unit in [-1.0, 0.0, 1.0] {
            if let Some(d) = endpoint.schedule.delay_after(attempt, unit) {
                assert!(d <= MAX_VISIBILITY);
            }
        }
    }
    for pattern in &endpoint.config.events {
        let _ = endpoint.subscribed(pattern, r#"{"status":"Approved","id":1}"#);
    }

    let headers = sender_headers(&endpoint, "job_0123456789abcdef", at(DEFAULT_NOW));
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    sendable_headers(&headers);
    names.sort();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "a header twice: {headers:?}");
}

/// The headers of one delivery, assembled as the sender assembles them
/// (functions/sender/src/deliver.rs, `build`).
fn sender_headers(endpoint: &Endpoint, id: &str, now: OffsetDateTime) -> Vec<(String, String)> {
    let signed = endpoint.scheme.as_ref().and_then(|s| {
        s.sign(&SignInput {
            id,
            at: now,
            body: br#"{"id":1}"#,
            event_type: Some("order.created"),
        })
        .ok()
    });
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
        headers.push((h.clone(), id.to_string()));
    }
    headers.extend(endpoint.headers.iter().cloned());
    headers.extend(signature_headers);
    headers
}

// ---------------------------------------------------------------------------
// Replaying the corpora in `cargo test`.
// ---------------------------------------------------------------------------

#[cfg(test)]
mod replay;
