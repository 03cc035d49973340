//! Creates the local pipeline's queues and its example sources and endpoints
//! (from `examples/`) on moto server.

use aws_sdk_sqs::types::QueueAttributeName as Q;
use hookrelay_shared::aws::secrets_manager::{ConfigKind, SecretNames, SecretsManager};
use std::collections::BTreeMap;
use std::path::Path;

/// Queue URLs by their local.env names.
pub type Queues = BTreeMap<&'static str, String>;

async fn create(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attrs: &[(Q, String)],
) -> Result<(String, String), String> {
    let mut req = sqs.create_queue().queue_name(name);
    for (k, v) in attrs {
        req = req.attributes(k.clone(), v);
    }
    let url = req.send().await.map_err(|e| {
        format!(
            "create queue {name}: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&e)
        )
    })?;
    let url = url.queue_url.unwrap_or_default();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(Q::QueueArn)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?
        .attributes
        .and_then(|mut a| a.remove(&Q::QueueArn))
        .unwrap_or_default();
    Ok((url, arn))
}

/// A queue and its DLQ, as the SAM template makes them.
async fn pair(
    sqs: &aws_sdk_sqs::Client,
    base: &str,
    visibility: u32,
    max_receives: u32,
) -> Result<(String, String), String> {
    let (dlq, dlq_arn) = create(
        sqs,
        &format!("{base}-dlq"),
        &[(Q::MessageRetentionPeriod, "1209600".into())],
    )
    .await?;
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#);
    let (url, _) = create(
        sqs,
        base,
        &[
            (Q::VisibilityTimeout, visibility.to_string()),
            (Q::RedrivePolicy, redrive),
        ],
    )
    .await?;
    Ok((url, dlq))
}

pub async fn queues(sqs: &aws_sdk_sqs::Client, prefix: &str) -> Result<Queues, String> {
    let mut q = Queues::new();
    let (inbound, inbound_dlq) = pair(sqs, &format!("{prefix}-inbound"), 30, 5).await?;
    // Six times the sender's 30 s timeout, as in template.yaml.
    let (outbound, outbound_dlq) = pair(sqs, &format!("{prefix}-outbound"), 180, 50).await?;
    let (events, events_dlq) = pair(sqs, &format!("{prefix}-events"), 180, 5).await?;
    q.insert("INBOUND_QUEUE_URL", inbound);
    q.insert("INBOUND_DLQ_URL", inbound_dlq);
    q.insert("OUTBOUND_QUEUE_URL", outbound);
    q.insert("OUTBOUND_DLQ_URL", outbound_dlq);
    q.insert("EVENTS_QUEUE_URL", events);
    q.insert("EVENTS_DLQ_URL", events_dlq);
    Ok(q)
}

/// Writes every `examples/<kind>/<name>.json` (`sources`, `endpoints`) as
/// the configuration secret of that name, with `${VAR}` placeholders
/// substituted.
pub async fn secrets(
    sm: &aws_sdk_secretsmanager::Client,
    examples: &Path,
    prefix: &str,
    vars: &BTreeMap<&str, String>,
) -> Result<Vec<String>, String> {
    let sm = SecretsManager::new(sm.clone());
    let names = SecretNames::new(prefix);
    let mut written = Vec::new();
    for (dir, kind) in [
        ("sources", ConfigKind::Source),
        ("endpoints", ConfigKind::Endpoint),
    ] {
        let dir = examples.join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let mut text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            for (k, v) in vars {
                text = text.replace(&format!("${{{k}}}"), v);
            }
            let secret = names.of(kind, &name);
            sm.create_or_put(&secret, &text)
                .await
                .map_err(|e| format!("write {secret}: {e}"))?;
            written.push(secret);
        }
    }
    Ok(written)
}

/// The state table, shaped like the template's.
pub async fn state_table(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
    };
    ddb.create_table()
        .table_name(name)
        .attribute_definitions(attr("pk").map_err(|e| e.to_string())?)
        .attribute_definitions(attr("sk").map_err(|e| e.to_string())?)
        .key_schema(key("pk", KeyType::Hash).map_err(|e| e.to_string())?)
        .key_schema(key("sk", KeyType::Range).map_err(|e| e.to_string())?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| {
            format!(
                "create table {name}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(())
}

/// The notice topic, with a queue subscribed so `dev up` can print notices.
/// Returns (topic ARN, queue URL).
pub async fn notices(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
) -> Result<(String, String), String> {
    let topic = sns
        .create_topic()
        .name(format!("{prefix}-notices"))
        .send()
        .await
        .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(&e).to_string())?
        .topic_arn
        .unwrap_or_default();
    let (queue, arn) = create(sqs, &format!("{prefix}-notices"), &[]).await?;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .map_err(|e| aws_sdk_sns::error::DisplayErrorContext(&e).to_string())?;
    Ok((topic, queue))
}
