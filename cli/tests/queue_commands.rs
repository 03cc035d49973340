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
    env_with(true).await
}

/// Outbound, events and outbound-dlq queues (FIFO or standard), and a
/// settings file naming them.
async fn env_with(fifo: bool) -> Env {
    let sqs = moto::sqs().await;
    let outbound = moto::create_queue(&sqs, "outbound", fifo, &[]).await;
    let events = moto::create_queue(&sqs, "events", fifo, &[]).await;
    let dlq = moto::create_queue(&sqs, "outbound-dlq", fifo, &[]).await;
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

#[tokio::test]
async fn publish_jsonl_sends_jobs_and_events_in_the_readme_shapes_with_a_result_per_line() {
    let env = env_with(false).await;
    let input = [
        r#"{"version":1,"id":"job_a","endpoint":"billing","event_type":"invoice.paid","payload":{"invoice": 42.0},"created_at":"2026-11-22T10:00:00.000Z"}"#,
        r#"{"endpoint":"crm","event_type":"order.created","payload":[1,2]}"#,
        "",
        r#"{"version":1,"id":"evt_1","type":"order.created","payload":{"id":7}}"#,
        r#"{"type":"order.updated","payload":{}}"#,
        r#"{"endpoint":"billing","event_type":"x","payload":{"#,
        r#"{"version":2,"type":"t","payload":1}"#,
        r#"{"payload":1}"#,
    ]
    .join("\n");
    let (code, out) = env.cli(&["publish", "--jsonl", "-"], &input);
    assert_eq!(code, 1, "some lines were refused: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("line 1: queued job job_a for endpoint billing (message "),
        "{out}"
    );
    assert!(lines[1].starts_with("line 2: queued job job_"), "{out}");
    assert!(
        lines[2].starts_with("line 4: queued event evt_1 (order.created)"),
        "{out}"
    );
    assert!(lines[3].starts_with("line 5: queued event evt_"), "{out}");
    assert!(lines[4].starts_with("line 6: not queued: "), "{out}");
    assert!(
        lines[5].starts_with("line 7: not queued: version 2"),
        "{out}"
    );
    assert!(lines[6].starts_with("line 8: not queued: "), "{out}");
    assert_eq!(lines[7], "4 of 7 line(s) queued", "{out}");

    let jobs = moto::drain(&env.sqs, &env.outbound).await;
    let mut bodies: Vec<serde_json::Value> = jobs
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    bodies.sort_by_key(|b| b["endpoint"].as_str().unwrap().to_string());
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["id"], "job_a");
    assert_eq!(bodies[0]["created_at"], "2026-11-22T10:00:00.000Z");
    assert_eq!(bodies[1]["endpoint"], "crm");
    let job_a = jobs
        .iter()
        .find(|m| m.body().unwrap().contains("job_a"))
        .unwrap();
    assert!(
        job_a
            .body()
            .unwrap()
            .contains(r#""payload":{"invoice": 42.0}"#),
        "payload bytes kept: {}",
        job_a.body().unwrap()
    );
    let attr = |m: &aws_sdk_sqs::types::Message, k: &str| {
        m.message_attributes()
            .and_then(|a| a.get(k))
            .and_then(|v| v.string_value())
            .map(str::to_string)
    };
    assert_eq!(attr(job_a, "endpoint").as_deref(), Some("billing"));
    assert_eq!(attr(job_a, "event-type").as_deref(), Some("invoice.paid"));

    let events = moto::drain(&env.sqs, &env.events).await;
    assert_eq!(events.len(), 2);
    assert!(
        events.iter().all(
            |m| serde_json::from_str::<serde_json::Value>(m.body().unwrap()).unwrap()["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("evt_"))
        ),
        "every event has an id"
    );
}

#[tokio::test]
async fn publish_jsonl_keeps_the_files_order_on_a_fifo_queue() {
    let env = fifo_env().await;
    let file = std::env::temp_dir().join(format!("{}.jsonl", unique("jobs")));
    let text: String = (0..25)
        .map(|n| {
            format!(
                r#"{{"id":"job_{n}","endpoint":"billing","event_type":"t","payload":{{"n":{n}}}}}"#
            ) + "\n"
        })
        .collect();
    std::fs::write(&file, text).unwrap();
    let (code, out) = env.cli(&["publish", "--jsonl", file.to_str().unwrap()], "");
    std::fs::remove_file(&file).ok();
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("25 of 25 line(s) queued\n"), "{out}");
    // A FIFO group gives its next messages only once the earlier ones are
    // deleted: receive and delete, batch after batch.
    let mut order: Vec<i64> = Vec::new();
    loop {
        let batch = moto::drain(&env.sqs, &env.outbound).await;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let body: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
            order.push(body["payload"]["n"].as_i64().unwrap());
            env.sqs
                .delete_message()
                .queue_url(&env.outbound)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(order, (0..25).collect::<Vec<_>>());
}

#[tokio::test]
async fn dlq_list_pages_with_limit_and_all_prints_the_total_and_leaves_the_messages() {
    let env = env_with(false).await;
    for n in 0..23 {
        env.sqs
            .send_message()
            .queue_url(&env.dlq)
            .message_body(format!(r#"{{"n":{n}}}"#))
            .send()
            .await
            .unwrap();
    }
    let shown = |out: &str| out.matches("\nmessage ").count();
    let (code, out) = env.cli(&["dlq", "list"], "");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("10 of 23 message(s) parked in outbound-dlq"),
        "{out}"
    );
    assert_eq!(shown(&out), 10);
    let (code, out) = env.cli(&["dlq", "list", "--limit", "15"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("15 of 23 message(s)"), "{out}");
    assert_eq!(shown(&out), 15);
    let (code, out) = env.cli(&["dlq", "list", "--all"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("23 of 23 message(s)"), "{out}");
    let mut seen: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("  | "))
        .filter(|l| l.contains("\"n\""))
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 23, "every message once: {out}");
    // Listing hid nothing for longer than it took.
    assert_eq!(moto::drain(&env.sqs, &env.dlq).await.len(), 23);
}
