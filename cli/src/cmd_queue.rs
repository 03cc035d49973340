//! `hookrelay publish`, `hookrelay queue peek|purge`, `hookrelay dlq list|redrive`.

use crate::context::Context;
use crate::input::read_body;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use clap::{Args, Subcommand};
use hookrelay_shared::event::Event;
use hookrelay_shared::job::{ATTR_ENDPOINT, ATTR_EVENT_TYPE, DeliveryJob};
use hookrelay_shared::queue::{OutgoingMessage, Queue, SqsQueue};
use serde_json::value::RawValue;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PublishArgs {
    /// Deliver to this endpoint directly (a job on the outbound queue).
    /// Without it, the event goes to the events queue and the router fans it
    /// out to every subscribed endpoint.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Event type, e.g. order.created.
    #[arg(long = "event")]
    pub event_type: String,
    /// Id: the job id with --endpoint, else the event id (jobs derive theirs from it).
    #[arg(long)]
    pub id: Option<String>,
    /// Queue URL instead of OUTBOUND_QUEUE_URL / EVENTS_QUEUE_URL.
    #[arg(long = "queue-url")]
    pub queue_url: Option<String>,
    /// JSON payload; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Show messages, leaving them on the queue. Peeking is a receive: each
    /// message's receive count goes up by one, and on the outbound queue that
    /// count is the attempt number of the retry schedule (so peeking there
    /// needs --force).
    Peek(PeekArgs),
    /// Delete every message of a queue.
    Purge {
        /// inbound, outbound, events (each optionally -dlq), or a queue URL.
        #[arg(long, default_value = "inbound")]
        queue: String,
        /// Required: purging cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args)]
pub struct PeekArgs {
    /// inbound, outbound, events (each optionally -dlq), or a queue URL.
    #[arg(long, default_value = "inbound")]
    pub queue: String,
    /// At most this many messages.
    #[arg(long, default_value_t = 10)]
    pub max: usize,
    /// Print whole bodies (default: the first 2000 characters).
    #[arg(long)]
    pub full: bool,
    /// Peek at the outbound queue anyway: every peeked job counts one
    /// attempt more against its retry schedule.
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand)]
pub enum DlqCommand {
    /// Show parked messages with the reason they were parked.
    List {
        /// The queue whose dead-letter queue to show: outbound, inbound, events.
        #[arg(long, default_value = "outbound")]
        queue: String,
        /// At most this many messages.
        #[arg(long, default_value_t = 10)]
        max: usize,
    },
    /// Move parked messages back to their source queue.
    Redrive {
        /// The queue whose dead-letter queue to empty into it: outbound, inbound, events.
        #[arg(long, default_value = "outbound")]
        queue: String,
        /// Move message by message (receive, send, delete) instead of SQS's
        /// StartMessageMoveTask; used automatically where that API is missing.
        /// FIFO queues keep each message's group (one per endpoint).
        #[arg(long)]
        manual: bool,
    },
}

async fn sqs(ctx: &Context) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&ctx.sdk().await)
}

fn sdk_err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_sqs::error::SdkError<E, R>,
) -> String {
    DisplayErrorContext(&e).to_string()
}

pub async fn publish(ctx: &Context, args: PublishArgs) -> Result<ExitCode, String> {
    let body = read_body(args.file.as_ref())?;
    let text = String::from_utf8(body).map_err(|_| "the payload is not UTF-8".to_string())?;
    let payload: Box<RawValue> =
        serde_json::from_str(text.trim()).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let client = sqs(ctx).await;
    // (queue, message, description); the message carries the FIFO group and
    // deduplication id, used when the queue is FIFO.
    let (queue, message, what) = match &args.endpoint {
        Some(endpoint) => {
            let mut job = DeliveryJob::new(
                endpoint,
                &args.event_type,
                payload,
                time::OffsetDateTime::now_utc(),
            );
            if let Some(id) = &args.id {
                job.id = id.clone();
            }
            let queue = match &args.queue_url {
                Some(u) => u.clone(),
                None => ctx.queue_url("outbound")?,
            };
            let text = serde_json::to_string(&job).map_err(|e| e.to_string())?;
            let mut m = OutgoingMessage::new(text)
                .attribute(ATTR_EVENT_TYPE, args.event_type.clone())
                .attribute(ATTR_ENDPOINT, endpoint.clone());
            // As the router does: one ordered group per endpoint, the job id
            // as deduplication id.
            m.group_id = Some(endpoint.clone());
            m.dedup_id = Some(job.id.clone());
            (queue, m, format!("job {} for endpoint {endpoint}", job.id))
        }
        None => {
            let mut event = Event::new(&args.event_type, payload);
            let id = args
                .id
                .clone()
                .unwrap_or_else(|| format!("evt_{}", uuid::Uuid::new_v4().simple()));
            event.id = Some(id.clone());
            let queue = match &args.queue_url {
                Some(u) => u.clone(),
                None => ctx.queue_url("events")?,
            };
            let text = serde_json::to_string(&event).map_err(|e| e.to_string())?;
            let mut m =
                OutgoingMessage::new(text).attribute(ATTR_EVENT_TYPE, args.event_type.clone());
            m.group_id = Some("events".into());
            m.dedup_id = Some(id.clone());
            (queue, m, format!("event {id} ({})", args.event_type))
        }
    };
    let message_id = SqsQueue::new(client, queue)
        .send(message)
        .await
        .map_err(|e| e.to_string())?;
    println!("queued {what} (message {message_id})");
    Ok(ExitCode::SUCCESS)
}

/// Receives up to `max` messages without hiding them (visibility 0). A
/// receive all the same: each message's ApproximateReceiveCount goes up.
async fn peek_messages(
    client: &aws_sdk_sqs::Client,
    url: &str,
    max: usize,
) -> Result<Vec<Message>, String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for _ in 0..(max / 10 + 3) {
        let resp = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(sdk_err)?;
        let batch = resp.messages.unwrap_or_default();
        let batch_len = batch.len();
        let before = out.len();
        for m in batch {
            if seen.insert(m.message_id.clone().unwrap_or_default()) && out.len() < max {
                out.push(m);
            }
        }
        // Every receive counts against each message it returns, so stop as
        // soon as a receive brings nothing new or the queue seems drained.
        if out.len() >= max || out.len() == before || batch_len < 10 {
            break;
        }
    }
    Ok(out)
}

fn print_message(m: &Message, full: bool) {
    let count = m
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .map(String::as_str)
        .unwrap_or("?");
    println!(
        "message {} (received {count} times)",
        m.message_id().unwrap_or("")
    );
    if let Some(attrs) = m.message_attributes() {
        let sorted: std::collections::BTreeMap<_, _> = attrs.iter().collect();
        for (k, v) in sorted {
            println!("  {k}: {}", v.string_value().unwrap_or(""));
        }
    }
    let body = m.body().unwrap_or("");
    let pretty = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_string());
    let shown: String = if full {
        pretty
    } else {
        pretty.chars().take(2000).collect()
    };
    for line in shown.lines() {
        println!("  | {line}");
    }
}

pub async fn queue(ctx: &Context, cmd: QueueCommand) -> Result<ExitCode, String> {
    let client = sqs(ctx).await;
    match cmd {
        QueueCommand::Peek(a) => {
            let url = ctx.queue_url(&a.queue)?;
            if is_outbound(ctx, &a.queue, &url) && !a.force {
                return Err(
                    "peeking receives the messages: each job's receive count, its attempt \
                     number, goes up by one, shortening its retry schedule. Add --force to peek \
                     at the outbound queue anyway (or look at the outbound-dlq)"
                        .into(),
                );
            }
            let msgs = peek_messages(&client, &url, a.max).await?;
            println!(
                "{} message(s) visible on {} (peeking received them: their receive count went up)",
                msgs.len(),
                a.queue
            );
            for m in &msgs {
                print_message(m, a.full);
            }
        }
        QueueCommand::Purge { queue, yes } => {
            if !yes {
                return Err(format!(
                    "purging {queue} deletes every message in it; add --yes"
                ));
            }
            let url = ctx.queue_url(&queue)?;
            client
                .purge_queue()
                .queue_url(&url)
                .send()
                .await
                .map_err(sdk_err)?;
            println!("purged {queue}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a queue (by role or URL) is the sender's outbound queue.
fn is_outbound(ctx: &Context, queue: &str, url: &str) -> bool {
    queue == "outbound" || ctx.queue_url("outbound").is_ok_and(|o| o == url)
}

fn dlq_of(queue: &str) -> String {
    if queue.ends_with("-dlq") {
        queue.to_string()
    } else {
        format!("{queue}-dlq")
    }
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, String> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(sdk_err)?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| format!("no ARN for {url}"))
}

pub async fn dlq(ctx: &Context, cmd: DlqCommand) -> Result<ExitCode, String> {
    let client = sqs(ctx).await;
    match cmd {
        DlqCommand::List { queue, max } => {
            let url = ctx.queue_url(&dlq_of(&queue))?;
            let msgs = peek_messages(&client, &url, max).await?;
            println!("{} message(s) parked in {}", msgs.len(), dlq_of(&queue));
            for m in &msgs {
                print_message(m, false);
            }
        }
        DlqCommand::Redrive { queue, manual } => {
            let source = queue.trim_end_matches("-dlq").to_string();
            let dlq_url = ctx.queue_url(&dlq_of(&queue))?;
            let dest_url = ctx.queue_url(&source)?;
            if !manual {
                let dlq_arn = queue_arn(&client, &dlq_url).await?;
                let dest_arn = queue_arn(&client, &dest_url).await?;
                match client
                    .start_message_move_task()
                    .source_arn(&dlq_arn)
                    .destination_arn(&dest_arn)
                    .send()
                    .await
                {
                    Ok(out) => {
                        println!(
                            "redrive started with SQS's message move task {} ({} -> {source})",
                            out.task_handle.unwrap_or_default(),
                            dlq_of(&queue)
                        );
                        return Ok(ExitCode::SUCCESS);
                    }
                    Err(e) => eprintln!(
                        "StartMessageMoveTask unavailable here ({}); moving messages one by one",
                        sdk_err(e)
                    ),
                }
            }
            let moved = move_messages(&client, &dlq_url, &dest_url).await?;
            println!(
                "moved {moved} message(s) from {} back to {source}",
                dlq_of(&queue)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Receive, send to the destination without hookrelay's DLQ attributes,
/// then delete: a message is never deleted before its copy is accepted.
pub async fn move_messages(
    client: &aws_sdk_sqs::Client,
    from: &str,
    to: &str,
) -> Result<usize, String> {
    let mut moved = 0;
    loop {
        let resp = client
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .map_err(sdk_err)?;
        let batch = resp.messages.unwrap_or_default();
        if batch.is_empty() {
            return Ok(moved);
        }
        for m in batch {
            let mut req = client
                .send_message()
                .queue_url(to)
                .message_body(m.body().unwrap_or(""));
            for (k, v) in m.message_attributes().into_iter().flatten() {
                if !k.starts_with("hookrelay-") {
                    req = req.message_attributes(k, v.clone());
                }
            }
            if to.ends_with(".fifo") {
                req = req
                    .message_group_id(redrive_group(&m))
                    .message_deduplication_id(m.message_id().unwrap_or("redrive"));
            }
            req.send().await.map_err(sdk_err)?;
            client
                .delete_message()
                .queue_url(from)
                .receipt_handle(m.receipt_handle().unwrap_or(""))
                .send()
                .await
                .map_err(sdk_err)?;
            moved += 1;
        }
    }
}

/// The FIFO group a redriven message goes back to: its own group (the
/// sender and router use one per endpoint, so per-endpoint order holds),
/// else its endpoint, else one shared group.
fn redrive_group(m: &Message) -> String {
    let own = m
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
        .cloned();
    let endpoint = || {
        m.message_attributes()
            .and_then(|a| a.get(ATTR_ENDPOINT))
            .and_then(|v| v.string_value())
            .map(str::to_string)
    };
    own.or_else(endpoint)
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| "redrive".into())
}
