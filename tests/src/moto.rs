//! moto server: the AWS-compatible server tests run against.
//!
//! `make test` starts one and exports `HOOKRELAY_TEST_AWS_ENDPOINT`. A bare
//! `cargo test` starts one per test binary from `.venv/bin/moto_server`
//! (created by `make venv`) or `PATH`, on a free loopback port, behind a
//! shell that kills it when the test process's pipe closes, so no server
//! outlives the tests.

use aws_config::{Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

struct Server {
    url: String,
    _child: Option<Child>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// Base URL of a running moto server.
pub fn endpoint() -> &'static str {
    &SERVER.get_or_init(start).url
}

fn start() -> Server {
    if let Ok(url) = std::env::var("HOOKRELAY_TEST_AWS_ENDPOINT")
        && !url.is_empty()
    {
        return Server { url, _child: None };
    }
    let port = free_port();
    let venv = crate::repo_root().join(".venv/bin/moto_server");
    let bin = if venv.exists() {
        venv.display().to_string()
    } else {
        "moto_server".to_string()
    };
    // The shell waits on stdin; when this process exits, the pipe closes
    // and the shell kills moto.
    let script = format!(
        "'{bin}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid"
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .spawn()
        .expect("could not start moto_server: run `make venv` or install moto[server]");
    let url = format!("http://127.0.0.1:{port}");
    wait_until_up(&url);
    Server {
        url,
        _child: Some(child),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_until_up(url: &str) {
    let addr = url.trim_start_matches("http://").to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
            use std::io::Write;
            let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\n\r\n");
            let mut buf = [0u8; 12];
            if s.read(&mut buf).map(|n| n > 0).unwrap_or(false) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto_server did not come up at {url} (is it installed? run `make venv`)");
}

/// SDK configuration pointed at `url` with dummy credentials.
pub async fn sdk_config_for(url: &str) -> SdkConfig {
    hookrelay_shared::aws::loader()
        .endpoint_url(url)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "hookrelay-tests",
        ))
        .load()
        .await
}

pub async fn sdk_config() -> SdkConfig {
    sdk_config_for(endpoint()).await
}

/// SDK configuration for a server that is down: a loopback port nobody
/// listens on, with short timeouts and no retries so tests stay fast.
pub async fn sdk_config_down() -> SdkConfig {
    let url = format!("http://127.0.0.1:{}", free_port());
    let base = sdk_config_for(&url).await;
    base.into_builder()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .build()
}

pub async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk_config().await)
}

pub async fn secretsmanager() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&sdk_config().await)
}

/// Creates a queue with a unique name; `attrs` such as
/// `("MaximumMessageSize", "1024")`. Returns its URL.
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    fifo: bool,
    attrs: &[(&str, &str)],
) -> String {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut name = crate::unique(prefix);
    let mut req = sqs.create_queue();
    if fifo {
        name.push_str(".fifo");
        req = req.attributes(A::FifoQueue, "true");
    }
    for (k, v) in attrs {
        req = req.attributes(A::from(*k), *v);
    }
    req.queue_name(name)
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

/// Receives everything currently visible on a queue (several polls), with
/// attributes, and deletes nothing.
pub async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .visibility_timeout(60)
            .send()
            .await
            .expect("receive");
        let batch = out.messages.unwrap_or_default();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

/// Creates (or overwrites) a secret with `value`.
pub async fn put_secret(sm: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    let created = sm
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await;
    if created.is_err() {
        sm.put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .expect("put secret value");
    }
}

pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// A DynamoDB client whose calls go through `faults` (SDK retries off, so
/// each injected fault is one failed call).
pub async fn dynamodb_with(
    faults: &std::sync::Arc<crate::faults::Faults>,
) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config().await)
        .interceptor(faults.layer())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// An SQS client whose calls of one operation `captured` keeps.
pub async fn sqs_capturing(
    captured: &std::sync::Arc<crate::capture::Captured>,
) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(&sdk_config().await)
        .interceptor(captured.layer())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

pub async fn sns() -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&sdk_config().await)
}

/// Creates a state table shaped like the template's (pk/sk strings,
/// on-demand); returns its name.
pub async fn create_state_table(ddb: &aws_sdk_dynamodb::Client) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let name = crate::unique("state");
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    ddb.create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    name
}

/// An SNS topic with an SQS queue subscribed to it (raw delivery), so tests
/// can read what was published. Returns (topic ARN, queue URL).
pub async fn topic_with_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
) -> (String, String) {
    let topic = sns
        .create_topic()
        .name(crate::unique("notices"))
        .send()
        .await
        .expect("topic")
        .topic_arn
        .expect("arn");
    let queue = create_queue(sqs, "notices", false, &[]).await;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("queue arn");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("subscribe");
    (topic, queue)
}
