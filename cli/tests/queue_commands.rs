//! `hookrelay publish`, `queue peek` and `dlq redrive` against moto, through
//! the real binary with a local.env-style settings file.

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use hookrelay_test_support::{moto, unique};
use std::path::PathBuf;
use std::process::Command;

struct Env {
    sqs: aws_sdk_sqs::Client,
    file: PathBuf,
    outbound: String,
    events: String,
    dlq: String,
}

/// FIFO outbound, events and outbound-dlq queues, and a settings file naming them.
async fn fifo_env() -> Env {
    let sqs = moto::sqs().await;
    let outbound = moto::create_queue(&sqs, "outbound", true, &[]).await;
    let events = moto::create_queue(&sqs, "events", true, &[]).await;
    let dlq = moto::create_queue(&sqs, "outbound-dlq", true, &[]).await;
    let file = std::env::temp_dir().join(format!("{}.env", unique("hookrelay-cli")));
    std::fs::write(
        &file,
        format!(
            "AWS_ENDPOINT_URL={}\nAWS_REGION={}\nAWS_ACCESS_KEY_ID=test\nAWS_SECRET_ACCESS_KEY=test\n\
             OUTBOUND_QUEUE_URL={outbound}\nEVENTS_QUEUE_URL={events}\nOUTBOUND_DLQ_URL={dlq}\n",
            moto::endpoint(),
            moto::REGION
        ),
    )
    .unwrap();
    Env {
        sqs,
        file,
        outbound,
        events,
        dlq,
    }
}

impl Env {
    fn cli(&self, args: &[&str], stdin: &str) -> (i32, String) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
            .arg("--env-file")
            .arg(&self.file)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn group(m: &aws_sdk_sqs::types::Message) -> String {
        m.attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .cloned()
            .unwrap_or_default()
    }

    fn receive_count(m: &aws_sdk_sqs::types::Message) -> String {
        m.attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .cloned()
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn publish_works_on_fifo_queues_with_a_group_per_endpoint() {
    let env = fifo_env().await;
    let (code, out) = env.cli(
        &[
            "publish",
            "--endpoint",
            "billing",
            "--event",
            "invoice.paid",
            "--id",
            "job_1",
        ],
        r#"{"invoice":42}"#,
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = env.cli(
        &["publish", "--event", "order.created", "--id", "evt_1"],
        r#"{"order":1}"#,
    );
    assert_eq!(code, 0, "{out}");

    let jobs = moto::drain(&env.sqs, &env.outbound).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(Env::group(&jobs[0]), "billing");
    assert_eq!(
        jobs[0]
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageDeduplicationId))
            .map(String::as_str),
        Some("job_1")
    );
    let events = moto::drain(&env.sqs, &env.events).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].body().unwrap().contains(r#""id":"evt_1""#));
}

#[tokio::test]
async fn peeking_at_the_outbound_queue_needs_force_because_it_counts_as_a_receive() {
    let env = fifo_env().await;
    let (code, out) = env.cli(
        &[
            "publish",
            "--endpoint",
            "billing",
            "--event",
            "t",
            "--id",
            "job_1",
        ],
        "{}",
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = env.cli(&["queue", "peek", "--queue", "outbound"], "");
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("--force") && out.contains("receive count"),
        "{out}"
    );
    let (code, out) = env.cli(&["queue", "peek", "--queue", "outbound", "--force"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("received 1 times"), "{out}");
    // The peek was a receive: the next one is the second.
    let after = moto::drain(&env.sqs, &env.outbound).await;
    assert_eq!(Env::receive_count(&after[0]), "2");
}

#[tokio::test]
async fn manual_redrive_keeps_each_endpoints_group() {
    let env = fifo_env().await;
    for (endpoint, n) in [("billing", 0), ("crm", 1), ("billing", 2)] {
        env.sqs
            .send_message()
            .queue_url(&env.dlq)
            .message_body(format!(r#"{{"n":{n}}}"#))
            .message_group_id(endpoint)
            .message_deduplication_id(format!("d{n}"))
            .message_attributes(
                "hookrelay-reason",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("retries-exhausted")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let (code, out) = env.cli(&["dlq", "redrive", "--queue", "outbound", "--manual"], "");
    assert_eq!(code, 0, "{out}");
    let mut moved: Vec<(String, String)> = moto::drain(&env.sqs, &env.outbound)
        .await
        .iter()
        .map(|m| (Env::group(m), m.body().unwrap().to_string()))
        .collect();
    moved.sort();
    assert_eq!(
        moved,
        vec![
            ("billing".to_string(), r#"{"n":0}"#.to_string()),
            ("billing".to_string(), r#"{"n":2}"#.to_string()),
            ("crm".to_string(), r#"{"n":1}"#.to_string()),
        ]
    );
}
