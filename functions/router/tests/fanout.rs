//! The router against moto (SQS, Secrets Manager, DynamoDB): fan-out to
//! exactly the subscribed endpoints, filters, retries without duplicates;
//! switched-off and misconfigured endpoints still get their jobs; jobs carry
//! the event's arrival time.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use hookrelay_cli::local_esm::{Invoke, Poller};
use hookrelay_shared::aws::dynamodb::state_table::StateTable;
use hookrelay_shared::aws::secrets_manager::SecretsManager;
use hookrelay_shared::aws::sns::SnsNotifier;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::{Clock, ManualClock, SystemClock};
use hookrelay_shared::job::DeliveryJob;
use hookrelay_shared::metrics::{Lines, Metrics};
use hookrelay_shared::queue::{MAX_BATCH_BYTES, OutgoingMessage, Queue, QueueError};
use hookrelay_shared::secrets::CacheSettings;
use hookrelay_test_support::emf_spec;
use hookrelay_test_support::{moto, unique};
use router::{Ports, Router, SecretsManagerNames, Settings};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

struct World {
    sqs: aws_sdk_sqs::Client,
    sm: aws_sdk_secretsmanager::Client,
    events: String,
    outbound: String,
    dlq: String,
    prefix: String,
    router: Arc<Router>,
    /// The EMF lines the router wrote.
    metrics: Lines,
    /// A queue subscribed to the notice topic (operational events).
    notices: String,
}

/// Invokes the router in-process and keeps every event it was given, so a
/// test can hand the same batch to it again (a Lambda retry).
struct Recording(Arc<Router>, Mutex<Vec<SqsEvent>>);

#[async_trait]
impl Invoke for Recording {
    async fn invoke(&self, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        self.1.lock().unwrap().push(event.clone());
        Ok(self.0.handle(event).await)
    }
}

async fn world() -> World {
    world_with_clock(Arc::new(SystemClock)).await
}

async fn world_with_clock(clock: Arc<dyn Clock>) -> World {
    world_with(clock, |q| q).await
}

/// Wraps the real outbound queue: counts the SendMessageBatch calls the
/// router makes and their sizes, and can refuse the jobs of chosen
/// endpoints (as SQS does per entry) while passing the rest to moto.
#[derive(Default)]
struct Spy {
    inner: OnceLock<Arc<dyn Queue>>,
    batches: Mutex<Vec<usize>>,
    refuse: Mutex<BTreeSet<String>>,
    /// Drop the last result of each call (an adapter breaking its contract).
    lose_last_result: Mutex<bool>,
}

#[async_trait]
impl Queue for Spy {
    async fn send(&self, msg: OutgoingMessage) -> Result<String, QueueError> {
        self.inner.get().unwrap().send(msg).await
    }

    async fn send_batch(
        &self,
        msgs: Vec<OutgoingMessage>,
    ) -> Result<Vec<Result<String, QueueError>>, QueueError> {
        self.batches.lock().unwrap().push(msgs.len());
        let refuse = self.refuse.lock().unwrap().clone();
        let endpoint = |m: &OutgoingMessage| {
            m.attributes
                .iter()
                .find(|(k, _)| k == "endpoint")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (refused, passed): (Vec<bool>, Vec<OutgoingMessage>) = {
            let flags: Vec<bool> = msgs.iter().map(|m| refuse.contains(&endpoint(m))).collect();
            let passed = msgs
                .into_iter()
                .zip(&flags)
                .filter(|(_, r)| !**r)
                .map(|(m, _)| m)
                .collect();
            (flags, passed)
        };
        let mut sent = self
            .inner
            .get()
            .unwrap()
            .send_batch(passed)
            .await?
            .into_iter();
        let mut results: Vec<_> = refused
            .into_iter()
            .map(|r| {
                if r {
                    Err(QueueError::Unavailable("refused by the test".into()))
                } else {
                    sent.next().unwrap()
                }
            })
            .collect();
        if *self.lose_last_result.lock().unwrap() {
            results.pop();
        }
        Ok(results)
    }
}

async fn world_with(
    clock: Arc<dyn Clock>,
    wrap: impl FnOnce(Arc<dyn Queue>) -> Arc<dyn Queue>,
) -> World {
    let sqs = moto::sqs().await;
    let sm = moto::secretsmanager().await;
    let ddb = moto::dynamodb().await;
    let events = moto::create_queue(&sqs, "events", false, &[]).await;
    let outbound = moto::create_queue(&sqs, "outbound", false, &[]).await;
    let dlq = moto::create_queue(&sqs, "events-dlq", false, &[]).await;
    let table = moto::create_state_table(&ddb).await;
    let prefix = unique("hr");
    let settings = Settings {
        secrets_prefix: prefix.clone(),
        outbound_queue_url: outbound.clone(),
        dlq_url: dlq.clone(),
        state_table: Some(table.clone()),
        concurrency: 4,
        cache: CacheSettings::default(),
        directory_ttl: Duration::from_secs(60),
        metrics_namespace: "hookrelay-test".into(),
        notify_topic_arn: None,
    };
    let ports = Ports {
        names: Arc::new(SecretsManagerNames::new(sm.clone(), &prefix)),
        secrets: Arc::new(SecretsManager::new(sm.clone())),
        outbound: wrap(Arc::new(SqsQueue::new(sqs.clone(), outbound.clone()))),
        dlq: Arc::new(SqsQueue::new(sqs.clone(), dlq.clone())),
        markers: Some(StateTable::new(ddb, table)),
        clock,
    };
    let (metrics, lines) = Metrics::in_memory("hookrelay-test");
    let (topic, notices) = moto::topic_with_queue(&moto::sns().await, &sqs).await;
    let notifier = Arc::new(SnsNotifier::new(moto::sns().await, topic));
    World {
        router: Arc::new(
            Router::new(ports, settings)
                .with_metrics(metrics)
                .with_notifier(notifier),
        ),
        metrics: lines,
        notices,
        sqs,
        sm,
        events,
        outbound,
        dlq,
        prefix,
    }
}

impl World {
    async fn endpoint(&self, name: &str, extra: &str) {
        let cfg = format!(r#"{{"url":"https://{name}.example.com/hook"{extra}}}"#);
        moto::put_secret(&self.sm, &format!("{}/endpoints/{name}", self.prefix), &cfg).await;
    }

    async fn event(&self, json: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.events)
            .message_body(json)
            .send()
            .await
            .unwrap();
    }

    /// Jobs on the outbound queue, by endpoint (taken off the queue).
    async fn jobs(&self) -> BTreeMap<String, Vec<DeliveryJob>> {
        let mut by = BTreeMap::<String, Vec<DeliveryJob>>::new();
        for m in moto::drain(&self.sqs, &self.outbound).await {
            let job: DeliveryJob = serde_json::from_str(m.body().unwrap()).unwrap();
            let attr = m.message_attributes().unwrap()["endpoint"]
                .string_value()
                .unwrap()
                .to_string();
            assert_eq!(attr, job.endpoint);
            by.entry(job.endpoint.clone()).or_default().push(job);
            self.sqs
                .delete_message()
                .queue_url(&self.outbound)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        by
    }

    async fn route_all(&self) -> Recording {
        let rec = Recording(self.router.clone(), Mutex::new(vec![]));
        let mut poller = Poller::new(self.sqs.clone(), self.events.clone())
            .await
            .unwrap();
        poller.wait_secs = 0;
        loop {
            let r = poller.poll_once(&rec).await.unwrap();
            assert!(r.failed.is_empty(), "{r:?}");
            if r.received == 0 {
                return rec;
            }
        }
    }
}

#[tokio::test]
async fn events_fan_out_to_exactly_the_subscribed_endpoints_with_filters() {
    let w = world().await;
    w.endpoint("orders", r#","events":["order.*"]"#).await;
    w.endpoint("ideas", r#","events":["idea.created"]"#).await;
    // Leaf Trade-style: every event, but only settled statuses.
    w.endpoint(
        "erp",
        r#","events":["*"],"filters":[{"pointer":"/status","not_one_of":["Approving"]}]"#,
    )
    .await;
    w.endpoint("paused", r#","events":["*"],"enabled":false"#)
        .await;
    w.endpoint("direct-only", "").await;
    w.event(r#"{"id":"e1","type":"order.updated","payload":{"status":"Approving"}}"#)
        .await;
    w.event(r#"{"id":"e2","type":"order.updated","payload":{"status":"Approved","total":1.50}}"#)
        .await;
    w.event(r#"{"id":"e3","type":"idea.created","payload":{"title":"x"}}"#)
        .await;
    w.route_all().await;

    let jobs = w.jobs().await;
    let routed: BTreeMap<&str, Vec<&str>> = jobs
        .iter()
        .map(|(e, js)| {
            let mut ids: Vec<&str> = js.iter().map(|j| j.event_id.as_deref().unwrap()).collect();
            ids.sort();
            (e.as_str(), ids)
        })
        .collect();
    assert_eq!(
        routed,
        BTreeMap::from([
            ("erp", vec!["e2", "e3"]),
            ("ideas", vec!["e3"]),
            ("orders", vec!["e1", "e2"]),
            // Switched off: the jobs are written, the sender parks them.
            ("paused", vec!["e1", "e2", "e3"]),
        ])
    );
    let e2 = jobs["orders"]
        .iter()
        .find(|j| j.event_id.as_deref() == Some("e2"))
        .unwrap();
    assert_eq!(
        e2.payload.get(),
        r#"{"status":"Approved","total":1.50}"#,
        "payload bytes kept"
    );
    assert_eq!(e2.event_type, "order.updated");
    assert_eq!(e2.id, DeliveryJob::derived_id("e2", "orders"));
}

#[tokio::test]
async fn a_retried_batch_writes_no_job_twice_and_a_bad_event_blocks_nothing() {
    let w = world().await;
    w.endpoint("a", r#","events":["*"]"#).await;
    w.endpoint("b", r#","events":["t.*"]"#).await;
    w.event(r#"{"id":"e1","type":"t.one","payload":{}}"#).await;
    w.event("not an event").await;
    w.event(r#"{"type":"t.two","payload":[1,2]}"#).await;
    let rec = w.route_all().await;
    let first = w.jobs().await;
    assert_eq!(first["a"].len(), 2);
    assert_eq!(first["b"].len(), 2);
    let dead = moto::drain(&w.sqs, &w.dlq).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some("not an event"));
    assert_eq!(
        dead[0].message_attributes().unwrap()["hookrelay-reason"].string_value(),
        Some("invalid-event")
    );
    // The metrics say the same, in EMF the specification accepts.
    let m = emf_spec::validate_log(&w.metrics.take().join("\n")).unwrap();
    assert_eq!(emf_spec::total(&m, "EventsRouted", &[]), 2.0);
    assert_eq!(emf_spec::total(&m, "JobsWritten", &[]), 4.0);
    assert_eq!(emf_spec::total(&m, "EventsDeadLettered", &[]), 1.0);
    assert_eq!(emf_spec::total(&m, "EventsRetried", &[]), 0.0);
    // And the stream has the typed event.
    let events = moto::drain(&w.sqs, &w.notices).await;
    assert_eq!(events.len(), 1);
    let e: serde_json::Value = serde_json::from_str(events[0].body().unwrap()).unwrap();
    assert_eq!(e["type"], "message.dead_lettered");
    assert_eq!(e["version"], 1);
    assert_eq!(e["queue"], "events");
    assert_eq!(e["reason"], "invalid-event");
    assert!(e["error"].as_str().unwrap().starts_with("not an event"));

    // Lambda retries the same batch (e.g. after a timeout): nothing new is written.
    let seen: Vec<SqsEvent> = rec.1.lock().unwrap().clone();
    for event in seen {
        let resp = w.router.handle(event).await;
        assert!(resp.batch_item_failures.is_empty());
    }
    assert!(w.jobs().await.is_empty(), "no duplicate jobs");
    let m = emf_spec::validate_log(&w.metrics.take().join("\n")).unwrap();
    assert_eq!(
        emf_spec::total(&m, "JobsWritten", &[]),
        0.0,
        "none written again"
    );
}

#[tokio::test]
async fn an_endpoint_with_an_invalid_configuration_gets_every_event_unchecked() {
    let w = world().await;
    w.endpoint("good", r#","events":["order.*"]"#).await;
    // Not a valid configuration: its subscription cannot be read.
    moto::put_secret(
        &w.sm,
        &format!("{}/endpoints/broken", w.prefix),
        r#"{"url":"ftp://broken.example.com","events":["order.*"]}"#,
    )
    .await;
    w.event(r#"{"id":"e1","type":"order.created","payload":{}}"#)
        .await;
    w.event(r#"{"id":"e2","type":"idea.created","payload":{}}"#)
        .await;
    w.route_all().await;
    let jobs = w.jobs().await;
    assert_eq!(jobs["good"].len(), 1);
    assert!(!jobs["good"][0].subscription_unchecked);
    let mut broken: Vec<(&str, bool)> = jobs["broken"]
        .iter()
        .map(|j| (j.event_id.as_deref().unwrap(), j.subscription_unchecked))
        .collect();
    broken.sort();
    assert_eq!(
        broken,
        vec![("e1", true), ("e2", true)],
        "not lost: the sender checks the subscription once the configuration is fixed"
    );
    assert!(moto::drain(&w.sqs, &w.dlq).await.is_empty());
}

#[tokio::test]
async fn jobs_are_stamped_with_the_events_arrival_time() {
    // The router's own clock is far from the events' arrival.
    let w = world_with_clock(Arc::new(ManualClock::at_unix(1_000_000_000))).await;
    w.endpoint("a", r#","events":["*"]"#).await;
    for i in 0..3 {
        w.event(&format!(r#"{{"id":"e{i}","type":"t","payload":{{}}}}"#))
            .await;
    }
    let rec = w.route_all().await;
    let sent: BTreeMap<String, i128> = rec
        .1
        .lock()
        .unwrap()
        .iter()
        .flat_map(|e| e.records.clone())
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
            (
                body["id"].as_str().unwrap().to_string(),
                r.attributes["SentTimestamp"].parse().unwrap(),
            )
        })
        .collect();
    let jobs = w.jobs().await;
    assert_eq!(jobs["a"].len(), 3);
    for job in &jobs["a"] {
        let ms = job.created_at.unix_timestamp_nanos() / 1_000_000;
        assert_eq!(ms, sent[job.event_id.as_deref().unwrap()], "{}", job.id);
    }
}

/// A world whose router writes jobs through a [`Spy`] around the real queue.
async fn spied_world() -> (World, Arc<Spy>) {
    let spy = Arc::new(Spy::default());
    let hook = Arc::clone(&spy);
    let w = world_with(Arc::new(SystemClock), move |real| {
        hook.inner.set(real).ok().unwrap();
        hook
    })
    .await;
    (w, spy)
}

/// A batch as Lambda hands it over, straight from event bodies.
fn batch(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some(body.clone());
            m
        })
        .collect();
    event
}

fn failed_ids(resp: &SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = resp
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn ten_events_for_one_endpoint_cost_one_sqs_request() {
    let (w, spy) = spied_world().await;
    w.endpoint("a", r#","events":["*"]"#).await;
    let bodies: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"id":"e{i}","type":"t","payload":{{"n":{i}}}}}"#))
        .collect();
    let resp = w.router.handle(batch(&bodies)).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(*spy.batches.lock().unwrap(), vec![10], "one call, ten jobs");
    let mut ids: Vec<String> = w.jobs().await["a"]
        .iter()
        .map(|j| j.event_id.clone().unwrap())
        .collect();
    ids.sort();
    let want: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn jobs_of_large_events_are_split_by_sqs_byte_limit_not_refused() {
    let (w, spy) = spied_world().await;
    w.endpoint("a", r#","events":["*"]"#).await;
    w.endpoint("b", r#","events":["*"]"#).await;
    // Three events of 400 KB, two endpoints: six jobs, no more than two
    // fit in one 1 MiB request.
    let text = "x".repeat(400_000);
    let bodies: Vec<String> = (0..3)
        .map(|i| format!(r#"{{"id":"big{i}","type":"t","payload":{{"text":"{text}"}}}}"#))
        .collect();
    let resp = w.router.handle(batch(&bodies)).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(*spy.batches.lock().unwrap(), vec![2, 2, 2]);
    let jobs = w.jobs().await;
    for ep in ["a", "b"] {
        assert_eq!(jobs[ep].len(), 3);
        for j in &jobs[ep] {
            assert_eq!(j.payload.get().len(), text.len() + r#"{"text":""}"#.len());
        }
    }
}

#[tokio::test]
async fn a_refused_job_retries_only_its_event_and_the_retry_writes_only_that_job() {
    let (w, spy) = spied_world().await;
    w.endpoint("a", r#","events":["*"]"#).await;
    w.endpoint("flaky", r#","events":["order.*"]"#).await;
    spy.refuse.lock().unwrap().insert("flaky".into());
    let bodies = vec![
        r#"{"id":"e1","type":"order.created","payload":{}}"#.to_string(),
        r#"{"id":"e2","type":"idea.created","payload":{}}"#.to_string(),
    ];
    let resp = w.router.handle(batch(&bodies)).await;
    assert_eq!(
        failed_ids(&resp),
        vec!["m0"],
        "only the event with a refused job"
    );
    let first = w.jobs().await;
    assert_eq!(first["a"].len(), 2);
    assert!(!first.contains_key("flaky"));

    // Lambda hands the failed event back; the queue accepts everything now.
    spy.refuse.lock().unwrap().clear();
    let resp = w.router.handle(batch(&bodies[..1])).await;
    assert!(resp.batch_item_failures.is_empty());
    let second = w.jobs().await;
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        vec!["flaky"],
        "endpoint a already has its job for e1: not written again"
    );
    assert_eq!(second["flaky"][0].event_id.as_deref(), Some("e1"));
}

#[tokio::test]
async fn an_event_whose_jobs_cannot_fit_in_sqs_is_dead_lettered_with_the_reason() {
    let (w, spy) = spied_world().await;
    // A long endpoint name: the job carries it twice (field and attribute).
    let long = "e".repeat(64);
    w.endpoint(&long, r#","events":["*"]"#).await;
    // The event fits in a message, and in the dead-letter queue with the
    // reason attached; its job (the payload plus the job's own fields and
    // attributes) does not.
    let frame = r#"{"id":"huge","type":"t","payload":""}"#.len();
    let huge = format!(
        r#"{{"id":"huge","type":"t","payload":"{}"}}"#,
        "x".repeat(MAX_BATCH_BYTES - 150 - frame)
    );
    assert_eq!(huge.len(), MAX_BATCH_BYTES - 150);
    let small = r#"{"id":"ok","type":"t","payload":{}}"#.to_string();
    let resp = w.router.handle(batch(&[huge.clone(), small])).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(
        *spy.batches.lock().unwrap(),
        vec![1],
        "only the small event's job"
    );
    let jobs = w.jobs().await;
    assert_eq!(jobs[&long].len(), 1);
    assert_eq!(jobs[&long][0].event_id.as_deref(), Some("ok"));
    let dead = moto::drain(&w.sqs, &w.dlq).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some(huge.as_str()));
    let error = dead[0].message_attributes().unwrap()["hookrelay-error"]
        .string_value()
        .unwrap();
    assert!(error.contains("exceed"), "{error}");
}

#[tokio::test]
async fn a_short_batch_answer_counts_none_of_its_jobs_as_written() {
    let (w, spy) = spied_world().await;
    w.endpoint("a", r#","events":["*"]"#).await;
    *spy.lose_last_result.lock().unwrap() = true;
    let bodies: Vec<String> = (0..2)
        .map(|i| format!(r#"{{"id":"e{i}","type":"t","payload":{{}}}}"#))
        .collect();
    let resp = w.router.handle(batch(&bodies)).await;
    // Both jobs were sent, but an answer one result short cannot say which
    // job it left out: both events are retried, neither is marked.
    assert_eq!(failed_ids(&resp), vec!["m0", "m1"]);
    *spy.lose_last_result.lock().unwrap() = false;
    let resp = w.router.handle(batch(&bodies)).await;
    assert!(resp.batch_item_failures.is_empty());
    let mut ids: Vec<String> = w.jobs().await["a"]
        .iter()
        .map(|j| j.event_id.clone().unwrap())
        .collect();
    ids.sort();
    // At least once: each job may now be on the queue twice, never zero times.
    assert_eq!(ids, vec!["e0", "e0", "e1", "e1"]);
}

#[tokio::test]
async fn jobs_carry_the_trace_of_their_event() {
    const TRACE: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let captured = hookrelay_test_support::capture::Captured::new("SendMessageBatch");
    let sqs = moto::sqs_capturing(&captured).await;
    let sm = moto::secretsmanager().await;
    let outbound = moto::create_queue(&sqs, "outbound", false, &[]).await;
    let dlq = moto::create_queue(&sqs, "events-dlq", false, &[]).await;
    let prefix = unique("hr");
    moto::put_secret(
        &sm,
        &format!("{prefix}/endpoints/traced"),
        r#"{"url":"https://traced.example.com/hook","events":["*"]}"#,
    )
    .await;
    let settings = Settings {
        secrets_prefix: prefix.clone(),
        outbound_queue_url: outbound.clone(),
        dlq_url: dlq.clone(),
        state_table: None,
        concurrency: 4,
        cache: CacheSettings::default(),
        directory_ttl: Duration::from_secs(60),
        metrics_namespace: "hookrelay-test".into(),
        notify_topic_arn: None,
    };
    let router = Router::new(
        Ports {
            names: Arc::new(SecretsManagerNames::new(sm.clone(), &prefix)),
            secrets: Arc::new(SecretsManager::new(sm)),
            outbound: Arc::new(SqsQueue::new(sqs.clone(), outbound)),
            dlq: Arc::new(SqsQueue::new(sqs, dlq)),
            markers: None,
            clock: Arc::new(SystemClock),
        },
        settings,
    );
    let mut msg = SqsMessage::default();
    msg.message_id = Some("m-1".into());
    msg.body = Some(r#"{"id":"e-traced","type":"t","payload":{}}"#.into());
    msg.attributes.insert("AWSTraceHeader".into(), TRACE.into());
    let mut event = SqsEvent::default();
    event.records.push(msg);
    assert!(router.handle(event).await.batch_item_failures.is_empty());
    let bodies = captured.bodies();
    assert_eq!(bodies.len(), 1, "one SendMessageBatch");
    let request: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(
        request["Entries"][0]["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"], TRACE,
        "the job joins the event's trace"
    );
}
