//! Harness for the sender's tests: moto-backed queues and secrets, the
//! local event-source poller invoking the handler in-process, and a
//! recorder around the real SQS visibility calls.

#![allow(dead_code)]

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use hookrelay_cli::local_esm::{Invoke, PollReport, Poller};
use hookrelay_shared::aws::secrets_manager::SecretsManager;
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::clock::SystemClock;
use hookrelay_shared::health::{EndpointHealth, LogNotifier, NoHealthTracking, Notifier};
use hookrelay_shared::metrics::{Lines, Metrics};
use hookrelay_shared::outbound::{NetworkPolicy, ReqwestTransport};
use hookrelay_shared::queue::{MessageControl, QueueError};
use hookrelay_test_support::{moto, unique};
use sender::{Ports, Sender, Settings};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records every visibility change, then makes it for real.
pub struct RecordingControl {
    inner: SqsQueue,
    pub changes: Mutex<Vec<(String, i32)>>,
}

#[async_trait]
impl MessageControl for RecordingControl {
    async fn change_visibility(&self, receipt: &str, seconds: i32) -> Result<(), QueueError> {
        self.changes
            .lock()
            .unwrap()
            .push((receipt.to_string(), seconds));
        self.inner.change_visibility(receipt, seconds).await
    }
}

pub struct InProcess(pub Arc<Sender>);

#[async_trait]
impl Invoke for InProcess {
    async fn invoke(&self, event: SqsEvent) -> Result<SqsBatchResponse, String> {
        Ok(self.0.handle(event).await)
    }
}

pub struct World {
    pub sqs: aws_sdk_sqs::Client,
    pub sm: aws_sdk_secretsmanager::Client,
    pub outbound: String,
    pub dlq: String,
    pub prefix: String,
    pub control: Arc<RecordingControl>,
    pub sender: Arc<Sender>,
    pub poller: Poller,
    /// The EMF lines the sender wrote.
    pub metrics: Lines,
}

pub struct Options {
    pub network: NetworkPolicy,
    pub health: Arc<dyn EndpointHealth>,
    pub notifier: Arc<dyn Notifier>,
    pub concurrency: usize,
    pub prefix: Option<String>,
    /// Changes to the settings.
    pub settings: Option<fn(&mut Settings)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            network: NetworkPolicy::allowing("127.0.0.0/8,::1").unwrap(),
            health: Arc::new(NoHealthTracking),
            notifier: Arc::new(LogNotifier),
            concurrency: 10,
            prefix: None,
            settings: None,
        }
    }
}

impl World {
    pub async fn new() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(o: Options) -> Self {
        let sqs = moto::sqs().await;
        let sm = moto::secretsmanager().await;
        let outbound =
            moto::create_queue(&sqs, "outbound", false, &[("VisibilityTimeout", "60")]).await;
        let dlq = moto::create_queue(&sqs, "outbound-dlq", false, &[]).await;
        let prefix = o.prefix.unwrap_or_else(|| unique("hr"));
        let control = Arc::new(RecordingControl {
            inner: SqsQueue::new(sqs.clone(), outbound.clone()),
            changes: Mutex::new(vec![]),
        });
        let mut settings = Settings::new(prefix.clone(), outbound.clone());
        settings.concurrency = o.concurrency;
        settings.network = o.network.clone();
        if let Some(change) = o.settings {
            change(&mut settings);
        }
        let ports = Ports {
            secrets: Arc::new(SecretsManager::new(sm.clone())),
            transport: Arc::new(ReqwestTransport::new(o.network).unwrap()),
            outbound: control.clone(),
            dlq: Arc::new(SqsQueue::new(sqs.clone(), dlq.clone())),
            health: o.health,
            notifier: o.notifier,
            clock: Arc::new(SystemClock),
        };
        let (metrics, lines) = Metrics::in_memory("hookrelay-test");
        let sender = Arc::new(
            Sender::new(ports, settings)
                .with_jitter(|| 0.0)
                .with_metrics(metrics),
        );
        let mut poller = Poller::new(sqs.clone(), outbound.clone()).await.unwrap();
        poller.wait_secs = 0;
        Self {
            sqs,
            sm,
            outbound,
            dlq,
            prefix,
            control,
            sender,
            poller,
            metrics: lines,
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

    pub async fn publish(&self, endpoint: &str, event_type: &str, payload: &str) -> String {
        let job = format!(
            r#"{{"version":1,"id":"job_{}","endpoint":"{endpoint}","event_type":"{event_type}","payload":{payload},"created_at":"2026-11-22T10:00:00.000Z"}}"#,
            unique("t")
        );
        let id: serde_json::Value = serde_json::from_str(&job).unwrap();
        self.sqs
            .send_message()
            .queue_url(&self.outbound)
            .message_body(job)
            .send()
            .await
            .unwrap();
        id["id"].as_str().unwrap().to_string()
    }

    /// Puts a job with a given id and creation time on the outbound queue.
    pub async fn publish_job(&self, endpoint: &str, id: &str, created_at: &str, payload: &str) {
        let job = format!(
            r#"{{"version":1,"id":"{id}","endpoint":"{endpoint}","event_type":"t","payload":{payload},"created_at":"{created_at}"}}"#
        );
        self.sqs
            .send_message()
            .queue_url(&self.outbound)
            .message_body(job)
            .send()
            .await
            .unwrap();
    }

    pub async fn poll(&self) -> PollReport {
        self.poller
            .poll_once(&InProcess(self.sender.clone()))
            .await
            .unwrap()
    }

    /// Polls until a batch is received (or `timeout` passes).
    pub async fn poll_until_received(&self, timeout: Duration) -> PollReport {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let r = self.poll().await;
            if r.received > 0 || std::time::Instant::now() > deadline {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn changes(&self) -> Vec<i32> {
        self.control
            .changes
            .lock()
            .unwrap()
            .iter()
            .map(|(_, s)| *s)
            .collect()
    }

    /// Makes the last delayed message visible now instead of after its delay.
    pub async fn fast_forward(&self) {
        let receipt = self
            .control
            .changes
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .0
            .clone();
        self.sqs
            .change_message_visibility()
            .queue_url(&self.outbound)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }

    pub async fn dead_letters(&self) -> Vec<aws_sdk_sqs::types::Message> {
        moto::drain(&self.sqs, &self.dlq).await
    }

    pub async fn outbound_empty(&self) -> bool {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.outbound)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let a = attrs.attributes().unwrap();
        use aws_sdk_sqs::types::QueueAttributeName as Q;
        a[&Q::ApproximateNumberOfMessages] == "0"
            && a[&Q::ApproximateNumberOfMessagesNotVisible] == "0"
    }
}

pub fn attr(m: &aws_sdk_sqs::types::Message, name: &str) -> String {
    m.message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .unwrap_or_default()
        .to_string()
}
