//! `hookrelay publish`, `hookrelay queue peek|purge`, `hookrelay dlq list|redrive`.

use crate::context::Context;
use crate::input::read_body;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName,
    QueueAttributeName,
};
use clap::{Args, Subcommand};
use hookrelay_shared::aws::sqs::SqsQueue;
use hookrelay_shared::event::Event;
use hookrelay_shared::job::{ATTR_ENDPOINT, ATTR_EVENT_TYPE, DeliveryJob};
use hookrelay_shared::queue::{OutgoingMessage, Queue, send_all};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PublishArgs {
    /// Deliver to this endpoint directly (a job on the outbound queue).
    /// Without it, the event goes to the events queue and the router fans it
    /// out to every subscribed endpoint.
    #[arg(long, conflicts_with = "jsonl")]
    pub endpoint: Option<String>,
    /// Event type, e.g. order.created.
    #[arg(
        long = "event",
        required_unless_present = "jsonl",
        conflicts_with = "jsonl"
    )]
    pub event_type: Option<String>,
    /// Id: the job id with --endpoint, else the event id (jobs derive theirs from it).
    #[arg(long, conflicts_with = "jsonl")]
    pub id: Option<String>,
    /// Queue URL instead of OUTBOUND_QUEUE_URL / EVENTS_QUEUE_URL.
    #[arg(long = "queue-url", conflicts_with = "jsonl")]
    pub queue_url: Option<String>,
    /// JSON Lines (`-`: standard input): one delivery job or event a line, in
    /// the message shapes of the README (a line with `endpoint` is a job,
    /// one with `type` an event; `version`, `id` and `created_at` may be
    /// left out). Sent with SendMessageBatch; one result line per line.
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<PathBuf>,
    /// JSON payload; `-` or nothing reads standard input.
    #[arg(conflicts_with = "jsonl")]
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
    /// Show parked messages with the reason they were parked, and how many
    /// there are. Listing receives them (hidden meanwhile, for at most two
    /// minutes) and makes them visible again at once.
    List {
        /// The queue whose dead-letter queue to show: outbound, inbound, events.
        #[arg(long, default_value = "outbound")]
        queue: String,
        /// At most this many messages.
        #[arg(long, alias = "max", default_value_t = 10)]
        limit: usize,
        /// Every message (overrides --limit).
        #[arg(long)]
        all: bool,
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

/// A job as `publish` and the router put it on the outbound queue: one
/// ordered group per endpoint (FIFO), the job id as deduplication id.
fn job_message(job: &DeliveryJob) -> Result<OutgoingMessage, String> {
    let text = serde_json::to_string(job).map_err(|e| e.to_string())?;
    let mut m = OutgoingMessage::new(text)
        .attribute(ATTR_EVENT_TYPE, job.event_type.clone())
        .attribute(ATTR_ENDPOINT, job.endpoint.clone());
    m.group_id = Some(job.endpoint.clone());
    m.dedup_id = Some(job.id.clone());
    Ok(m)
}

/// An event for the events queue, with an id (a new `evt_` one when it has
/// none) that is also its FIFO deduplication id.
fn event_message(event: &mut Event) -> Result<OutgoingMessage, String> {
    let id = event
        .id
        .get_or_insert_with(|| format!("evt_{}", uuid::Uuid::new_v4().simple()))
        .clone();
    let text = serde_json::to_string(&event).map_err(|e| e.to_string())?;
    let mut m = OutgoingMessage::new(text).attribute(ATTR_EVENT_TYPE, event.event_type.clone());
    m.group_id = Some("events".into());
    m.dedup_id = Some(id);
    Ok(m)
}

pub async fn publish(ctx: &Context, args: PublishArgs) -> Result<ExitCode, String> {
    if let Some(path) = &args.jsonl {
        return publish_lines(ctx, path).await;
    }
    let event_type = args.event_type.clone().ok_or("--event is required")?;
    let body = read_body(args.file.as_ref())?;
    let text = String::from_utf8(body).map_err(|_| "the payload is not UTF-8".to_string())?;
    let payload: Box<RawValue> =
        serde_json::from_str(text.trim()).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let client = sqs(ctx).await;
    let queue_or = |role: &str| match &args.queue_url {
        Some(u) => Ok(u.clone()),
        None => ctx.queue_url(role),
    };
    let (queue, message, what) = match &args.endpoint {
        Some(endpoint) => {
            let mut job = DeliveryJob::new(
                endpoint,
                &event_type,
                payload,
                time::OffsetDateTime::now_utc(),
            );
            if let Some(id) = &args.id {
                job.id = id.clone();
            }
            let what = format!("job {} for endpoint {endpoint}", job.id);
            (queue_or("outbound")?, job_message(&job)?, what)
        }
        None => {
            let mut event = Event::new(&event_type, payload);
            event.id = args.id.clone();
            let message = event_message(&mut event)?;
            let what = format!(
                "event {} ({event_type})",
                event.id.as_deref().unwrap_or_default()
            );
            (queue_or("events")?, message, what)
        }
    };
    let message_id = SqsQueue::new(client, queue)
        .send(message)
        .await
        .map_err(|e| e.to_string())?;
    println!("queued {what} (message {message_id})");
    Ok(ExitCode::SUCCESS)
}

/// A delivery job as a JSON line: the README's shape, with `version`, `id`
/// and `created_at` optional (a new id, now).
#[derive(Deserialize)]
struct JobLine {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    endpoint: String,
    event_type: String,
    payload: Box<RawValue>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    created_at: Option<time::OffsetDateTime>,
    #[serde(default)]
    event_id: Option<String>,
}

/// What a JSON line becomes: a message for the outbound (job) or events
/// queue, and how the result line names it.
#[derive(Debug)]
pub struct LineMessage {
    pub to_outbound: bool,
    pub message: OutgoingMessage,
    pub what: String,
}

/// Parses one JSON line: a line with `endpoint` is a job, one without an
/// event (`type`).
pub fn parse_line(line: &str, now: time::OffsetDateTime) -> Result<LineMessage, String> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        endpoint: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let version_ok = |v: Option<u32>, want: u32| match v {
        Some(v) if v != want => Err(format!("version {v} is not supported (only {want})")),
        _ => Ok(()),
    };
    if probe.endpoint.is_some() {
        let j: JobLine = serde_json::from_str(line).map_err(|e| format!("not a job: {e}"))?;
        version_ok(j.version, hookrelay_shared::job::JOB_VERSION)?;
        if !hookrelay_shared::endpoint::valid_endpoint_name(&j.endpoint) {
            return Err(format!("invalid endpoint name {:?}", j.endpoint));
        }
        let mut job = DeliveryJob::new(
            &j.endpoint,
            &j.event_type,
            j.payload,
            j.created_at.unwrap_or(now),
        );
        if let Some(id) = j.id {
            job.id = id;
        }
        job.event_id = j.event_id;
        Ok(LineMessage {
            to_outbound: true,
            message: job_message(&job)?,
            what: format!("job {} for endpoint {}", job.id, job.endpoint),
        })
    } else {
        let mut event: Event =
            serde_json::from_str(line).map_err(|e| format!("not a job or an event: {e}"))?;
        version_ok(Some(event.version), hookrelay_shared::event::EVENT_VERSION)?;
        let message = event_message(&mut event)?;
        Ok(LineMessage {
            to_outbound: false,
            what: format!(
                "event {} ({})",
                event.id.as_deref().unwrap_or_default(),
                event.event_type
            ),
            message,
        })
    }
}

/// `publish --jsonl`: every line parsed first; the valid ones sent with
/// SendMessageBatch (ten a call), in the file's order on FIFO queues; one
/// result per line. Exit 1 when any line was not queued.
async fn publish_lines(ctx: &Context, path: &PathBuf) -> Result<ExitCode, String> {
    let text = String::from_utf8(read_body(Some(path))?)
        .map_err(|_| "the JSON Lines input is not UTF-8".to_string())?;
    let now = time::OffsetDateTime::now_utc();
    // (line number, parsed) for every non-blank line.
    let lines: Vec<(usize, Result<LineMessage, String>)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, parse_line(l.trim(), now)))
        .collect();
    let client = sqs(ctx).await;
    // Per line: what was queued (with its message id), or why not.
    let mut results: Vec<Result<String, String>> = lines
        .iter()
        .map(|(_, p)| match p {
            Ok(_) => Err("no answer".to_string()),
            Err(e) => Err(e.clone()),
        })
        .collect();
    for to_outbound in [true, false] {
        let picked: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, (_, p))| p.as_ref().is_ok_and(|m| m.to_outbound == to_outbound))
            .map(|(i, _)| i)
            .collect();
        if picked.is_empty() {
            continue;
        }
        let url = ctx.queue_url(if to_outbound { "outbound" } else { "events" })?;
        let queue = SqsQueue::new(client.clone(), url);
        // One call at a time on a FIFO queue, so the file's order is the queue's.
        let in_flight = if queue.is_fifo() { 1 } else { 4 };
        let messages = picked
            .iter()
            .filter_map(|&i| lines[i].1.as_ref().ok().map(|m| m.message.clone()))
            .collect();
        let sent = send_all(&queue, messages, in_flight).await;
        for (&i, r) in picked.iter().zip(sent) {
            let what = lines[i].1.as_ref().map(|m| m.what.as_str()).unwrap_or("");
            results[i] = r
                .map(|id| format!("{what} (message {id})"))
                .map_err(|e| e.to_string());
        }
    }
    let mut queued = 0;
    for ((n, _), result) in lines.iter().zip(&results) {
        match result {
            Ok(done) => {
                queued += 1;
                println!("line {n}: queued {done}");
            }
            Err(e) => println!("line {n}: not queued: {e}"),
        }
    }
    println!("{queued} of {} line(s) queued", lines.len());
    Ok(if queued == lines.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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

/// How many messages a queue holds (SQS's approximate count: visible and
/// in flight).
async fn message_count(client: &aws_sdk_sqs::Client, url: &str) -> Result<usize, String> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(sdk_err)?;
    let attrs = out.attributes();
    let get = |k: QueueAttributeName| {
        attrs
            .and_then(|a| a.get(&k))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    Ok(get(QueueAttributeName::ApproximateNumberOfMessages)
        + get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

/// How long listed messages stay hidden while the listing pages on.
const LISTING_VISIBILITY_SECS: i32 = 120;

/// Receives up to `limit` messages (all with `None`), paging by keeping the
/// ones already received hidden, then makes them all visible again. A
/// visibility-0 receive cannot page: it keeps returning the same messages.
async fn list_messages(
    client: &aws_sdk_sqs::Client,
    url: &str,
    limit: Option<usize>,
) -> Result<Vec<Message>, String> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<Message> = Vec::new();
    let listed = async {
        loop {
            let want = limit.map_or(10, |l| l.saturating_sub(out.len()).min(10));
            if want == 0 {
                return Ok::<(), String>(());
            }
            let resp = client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(want as i32)
                .visibility_timeout(LISTING_VISIBILITY_SECS)
                // Long polling: a short poll of a standard queue can come
                // back empty while messages remain.
                .wait_time_seconds(1)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(sdk_err)?;
            let before = out.len();
            for m in resp.messages.unwrap_or_default() {
                if seen.insert(m.message_id.clone().unwrap_or_default()) {
                    out.push(m);
                }
            }
            if out.len() == before {
                return Ok(());
            }
        }
    }
    .await;
    // Visible again, whether or not the listing finished.
    for chunk in out.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(sdk_err)?;
    }
    listed?;
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
        DlqCommand::List { queue, limit, all } => {
            let url = ctx.queue_url(&dlq_of(&queue))?;
            let total = message_count(&client, &url).await?;
            let msgs = list_messages(&client, &url, (!all).then_some(limit)).await?;
            println!(
                "{} of {total} message(s) parked in {}",
                msgs.len(),
                dlq_of(&queue)
            );
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
