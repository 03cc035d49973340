//! A sender over moto (SQS, Secrets Manager, DynamoDB) with the state
//! table's health and attempt log, driven one exact batch at a time: the
//! rig of the tests about attempts and the edges of delivery. Real SQS's
//! refusals that moto does not make (message size with attributes,
//! characters, the 12-hour visibility limit from the receive) are made by
//! `sqs_rules` layers in front of the real adapters.

#![allow(dead_code, unused_imports)]

#[path = "batch.rs"]
mod batch;

use async_trait::async_trait;
use aws_sdk_sqs::types::Message;
use hookrelay_shared::aws::dynamodb::attempts::DynamoAttempts;
use hookrelay_shared::aws::dynamodb::health::DynamoHealth;
use hookrelay_shared::aws::dynamodb::state_table::StateTable;
use hookrelay_shared::aws::secrets_manager::SecretsManager;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::SystemClock;
use hookrelay_shared::health::LogNotifier;
use hookrelay_shared::outbound::{NetworkPolicy, ReqwestTransport};
use hookrelay_shared::secrets::{SecretError, SecretSource};
use hookrelay_test_support::faults::Faults;
use hookrelay_test_support::sqs_rules::{StrictQueue, StrictVisibility};
use hookrelay_test_support::{moto, unique};
use sender::{Ports, Sender, Settings};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use time::OffsetDateTime;

pub use batch::{event, failed, settle};

/// Secrets Manager that can be switched off: the real adapter, or the real
/// adapter pointed at a port nobody listens on.
pub struct Switchable {
    up: SecretsManager,
    down: SecretsManager,
    pub is_down: AtomicBool,
}

#[async_trait]
impl SecretSource for Switchable {
    async fn fetch(&self, name: &str) -> Result<Option<String>, SecretError> {
        if self.is_down.load(Ordering::SeqCst) {
            self.down.fetch(name).await
        } else {
            self.up.fetch(name).await
        }
    }
}

/// What a rig is built with.
#[derive(Default)]
pub struct Options {
    pub fifo: bool,
    /// Faults in front of the attempt log's DynamoDB calls.
    pub attempt_faults: Option<Arc<Faults>>,
    /// Changes to the sender's settings.
    pub settings: Option<fn(&mut Settings)>,
}

pub struct Rig {
    pub sqs: aws_sdk_sqs::Client,
    pub sm: aws_sdk_secretsmanager::Client,
    pub table: StateTable,
    pub outbound: String,
    pub dlq: String,
    pub prefix: String,
    pub secrets: Arc<Switchable>,
    pub control: Arc<StrictVisibility>,
    pub dead_letters: Arc<StrictQueue>,
    pub sender: Sender,
}

impl Rig {
    pub async fn new(fifo: bool) -> Self {
        Self::with(Options {
            fifo,
            ..Options::default()
        })
        .await
    }

    pub async fn with(o: Options) -> Self {
        let fifo = o.fifo;
        let sqs = moto::sqs().await;
        let sm = moto::secretsmanager().await;
        let ddb = moto::dynamodb().await;
        let table = StateTable::new(ddb.clone(), moto::create_state_table(&ddb).await);
        let attempts_table = match &o.attempt_faults {
            Some(f) => StateTable::new(moto::dynamodb_with(f).await, table.name()),
            None => table.clone(),
        };
        let outbound = moto::create_queue(&sqs, "outbound", fifo, &[]).await;
        let dlq = moto::create_queue(&sqs, "outbound-dlq", false, &[]).await;
        let prefix = unique("hr");
        let secrets = Arc::new(Switchable {
            up: SecretsManager::new(sm.clone()),
            down: SecretsManager::new(aws_sdk_secretsmanager::Client::new(
                &moto::sdk_config_down().await,
            )),
            is_down: AtomicBool::new(false),
        });
        let control = Arc::new(StrictVisibility::new(SqsQueue::new(
            sqs.clone(),
            outbound.clone(),
        )));
        let dead_letters = Arc::new(StrictQueue::new(SqsQueue::new(sqs.clone(), dlq.clone())));
        let network = NetworkPolicy::allowing("127.0.0.0/8").unwrap();
        let mut settings = Settings::new(prefix.clone(), outbound.clone());
        settings.network = network.clone();
        // No secrets cache between batches: an outage is seen at once.
        settings.cache.ttl = std::time::Duration::ZERO;
        if let Some(f) = o.settings {
            f(&mut settings);
        }
        let ports = Ports {
            secrets: secrets.clone(),
            transport: Arc::new(ReqwestTransport::new(network).unwrap()),
            outbound: control.clone(),
            dlq: dead_letters.clone(),
            health: Arc::new(
                DynamoHealth::new(table.clone(), Arc::new(SystemClock))
                    .with_cache_ttl(std::time::Duration::ZERO),
            ),
            notifier: Arc::new(LogNotifier),
            clock: Arc::new(SystemClock),
        };
        let sender = Sender::new(ports, settings)
            .with_jitter(|| 0.0)
            .with_attempt_log(Arc::new(DynamoAttempts::new(
                attempts_table,
                Arc::new(SystemClock),
            )));
        Self {
            sqs,
            sm,
            table,
            outbound,
            dlq,
            prefix,
            secrets,
            control,
            dead_letters,
            sender,
        }
    }

    pub async fn add_endpoint(&self, name: &str, config: &str) {
        moto::put_secret(
            &self.sm,
            &format!("{}/endpoints/{name}", self.prefix),
            config,
        )
        .await;
    }

    /// A job whose payload is `{"n": n}`, in the endpoint's FIFO group.
    pub async fn publish(&self, endpoint: &str, n: u32) {
        self.publish_with(endpoint, n, &[]).await;
    }

    /// A job whose payload is `{"n": n}` with these message attributes.
    pub async fn publish_with(&self, endpoint: &str, n: u32, attributes: &[(&str, &str)]) {
        let id = format!("job_{}", unique("t"));
        self.publish_job(endpoint, &id, n, attributes).await;
    }

    /// A job with this id, whose payload is `{"n": n}`.
    pub async fn publish_job(&self, endpoint: &str, id: &str, n: u32, attributes: &[(&str, &str)]) {
        let job = serde_json::json!({
            "version": 1, "id": id, "endpoint": endpoint, "event_type": "t",
            "payload": {"n": n}, "created_at": "2026-11-22T10:00:00.000Z"
        });
        self.publish_body(endpoint, &job.to_string(), attributes)
            .await;
    }

    /// Any body (in the endpoint's group on a FIFO queue).
    pub async fn publish_body(&self, group: &str, body: &str, attributes: &[(&str, &str)]) {
        let mut req = self
            .sqs
            .send_message()
            .queue_url(&self.outbound)
            .message_body(body);
        for (k, v) in attributes {
            req = req.message_attributes(
                *k,
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(*v)
                    .build()
                    .unwrap(),
            );
        }
        if self.outbound.ends_with(".fifo") {
            req = req
                .message_group_id(group)
                .message_deduplication_id(unique("d"));
        }
        req.send().await.unwrap();
    }

    /// One batch of exactly `want` messages through the handler; returns
    /// the messages and the ids reported as failed.
    pub async fn round(&self, want: usize) -> (Vec<Message>, Vec<String>) {
        let msgs = self.receive(want).await;
        let response = self.sender.handle(batch::event(&msgs)).await;
        batch::settle(&self.sqs, &self.outbound, &msgs, &response).await;
        (msgs, batch::failed(&response))
    }

    /// Receives exactly `want` messages (and tells the visibility rules
    /// when they were received).
    pub async fn receive(&self, want: usize) -> Vec<Message> {
        let msgs = batch::receive(&self.sqs, &self.outbound, want, 60).await;
        let now = OffsetDateTime::now_utc();
        for m in &msgs {
            self.control.received(m.receipt_handle().unwrap(), now);
        }
        msgs
    }

    /// The visibility timeouts the sender asked for.
    pub fn changes(&self) -> Vec<i32> {
        self.control
            .changes
            .lock()
            .unwrap()
            .iter()
            .map(|(_, s, _)| *s)
            .collect()
    }

    pub async fn dead(&self) -> Vec<Message> {
        moto::drain(&self.sqs, &self.dlq).await
    }
}

pub fn attr(m: &Message, name: &str) -> String {
    m.message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .unwrap_or_default()
        .to_string()
}

pub fn payload_n(m: &Message) -> u64 {
    let job: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
    job["payload"]["n"].as_u64().unwrap()
}

pub fn receive_count(m: &Message) -> u32 {
    m.attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
        })
        .and_then(|v| v.parse().ok())
        .unwrap()
}

pub fn endpoint(url: &str, delays: &str) -> String {
    format!(
        r#"{{"url":"{url}","allow_http":true,"retry":{{"delays":{delays},"jitter":0}},"health":{{"consecutive_days":0,"rate_min_attempts":0}}}}"#
    )
}
