//! `hookrelay env --stack NAME`: the settings the CLI needs for a deployed
//! stack, from its CloudFormation outputs, as the `KEY=value` lines that
//! `--env-file` (or `HOOKRELAY_ENV_FILE`) reads and a shell can source.

use crate::context::Context;
use aws_sdk_cloudformation::error::DisplayErrorContext;
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct EnvArgs {
    /// The CloudFormation stack `sam deploy` created (samconfig.toml's stack_name, `hookrelay` by default).
    #[arg(long)]
    pub stack: String,
    /// Write to this file instead of standard output, e.g. .hookrelay/aws.env.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

/// Which stack output becomes which setting, and whether the CLI cannot
/// do without it.
const OUTPUTS: &[(&str, &str, bool)] = &[
    ("OutboundQueueUrl", "OUTBOUND_QUEUE_URL", true),
    ("OutboundDeadLetterQueueUrl", "OUTBOUND_DLQ_URL", true),
    ("EventsQueueUrl", "EVENTS_QUEUE_URL", true),
    ("EventsDeadLetterQueueUrl", "EVENTS_DLQ_URL", true),
    ("InboundQueueUrl", "INBOUND_QUEUE_URL", true),
    ("InboundDeadLetterQueueUrl", "INBOUND_DLQ_URL", true),
    ("StateTableName", "HOOKRELAY_STATE_TABLE", true),
    ("NoticeTopicArn", "NOTIFY_TOPIC_ARN", true),
    ("SecretsPrefix", "HOOKRELAY_SECRETS_PREFIX", true),
    ("ApiUrl", "RECEIVER_URL", true),
    ("DedicatedApiUrl", "DEDICATED_WEBHOOK_URL", false),
];

/// The settings for a stack's outputs: an error names every output the
/// CLI needs that the stack does not have. `RECEIVER_URL` is the API's
/// base, so that `$RECEIVER_URL/webhooks/<source>` is a source's URL, as
/// with the local pipeline's.
pub fn settings(
    stack: &str,
    region: Option<&str>,
    outputs: &BTreeMap<String, String>,
) -> Result<BTreeMap<&'static str, String>, String> {
    let missing: Vec<&str> = OUTPUTS
        .iter()
        .filter(|(out, _, required)| *required && !outputs.contains_key(*out))
        .map(|(out, _, _)| *out)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "stack {stack} has no output {}: is it a hookrelay stack (template.yaml)?",
            missing.join(", ")
        ));
    }
    let mut vars = BTreeMap::new();
    for (out, var, _) in OUTPUTS {
        if let Some(v) = outputs.get(*out) {
            let v = if *out == "ApiUrl" {
                v.trim_end_matches('/')
                    .trim_end_matches("/webhooks")
                    .to_string()
            } else {
                v.clone()
            };
            vars.insert(*var, v);
        }
    }
    if let Some(r) = region {
        vars.insert("AWS_REGION", r.to_string());
    }
    Ok(vars)
}

/// The file's text: a comment saying where it came from, then `KEY=value`.
pub fn render(stack: &str, vars: &BTreeMap<&'static str, String>) -> String {
    let mut text = format!(
        "# hookrelay env --stack {stack}: the stack's outputs for the hookrelay CLI.\n\
         # Use with `hookrelay --env-file FILE ...`, `export HOOKRELAY_ENV_FILE=FILE`, or `set -a; . FILE; set +a`.\n"
    );
    for (k, v) in vars {
        text.push_str(&format!("{k}={v}\n"));
    }
    text
}

pub async fn env(ctx: &Context, args: EnvArgs) -> Result<ExitCode, String> {
    let sdk = ctx.sdk().await;
    let region = sdk.region().map(|r| r.to_string());
    let cf = aws_sdk_cloudformation::Client::new(&sdk);
    let out = cf
        .describe_stacks()
        .stack_name(&args.stack)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot describe stack {}: {}",
                args.stack,
                DisplayErrorContext(&e)
            )
        })?;
    let stack = out
        .stacks()
        .first()
        .ok_or_else(|| format!("no stack {}", args.stack))?;
    let outputs: BTreeMap<String, String> = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect();
    let text = render(
        &args.stack,
        &settings(&args.stack, region.as_deref(), &outputs)?,
    );
    match &args.output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            std::fs::write(path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!(
                "wrote {}: use it with `export HOOKRELAY_ENV_FILE={}`",
                path.display(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template_outputs() -> BTreeMap<String, String> {
        OUTPUTS
            .iter()
            .filter(|(_, _, required)| *required)
            .map(|(o, _, _)| (o.to_string(), format!("value-of-{o}")))
            .chain([(
                "ApiUrl".to_string(),
                "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/".to_string(),
            )])
            .collect()
    }

    #[test]
    fn every_output_the_cli_reads_becomes_its_setting() {
        let vars = settings("hookrelay", Some("eu-west-1"), &template_outputs()).unwrap();
        assert_eq!(vars["OUTBOUND_QUEUE_URL"], "value-of-OutboundQueueUrl");
        assert_eq!(vars["HOOKRELAY_STATE_TABLE"], "value-of-StateTableName");
        assert_eq!(vars["NOTIFY_TOPIC_ARN"], "value-of-NoticeTopicArn");
        assert_eq!(vars["HOOKRELAY_SECRETS_PREFIX"], "value-of-SecretsPrefix");
        assert_eq!(
            vars["RECEIVER_URL"],
            "https://abc.execute-api.eu-west-1.amazonaws.com"
        );
        assert_eq!(vars["AWS_REGION"], "eu-west-1");
        assert!(!vars.contains_key("DEDICATED_WEBHOOK_URL"));
        // What the CLI reads back is what was written.
        let ctx = Context::from_text(&render("hookrelay", &vars));
        assert_eq!(
            ctx.queue_url("outbound-dlq").unwrap(),
            "value-of-OutboundDeadLetterQueueUrl"
        );
        assert_eq!(ctx.secrets_prefix(), "value-of-SecretsPrefix");
    }

    #[test]
    fn a_stack_without_the_outputs_is_named_with_what_it_lacks() {
        let mut outputs = template_outputs();
        outputs.remove("StateTableName");
        outputs.remove("EventsQueueUrl");
        let e = settings("other", None, &outputs).unwrap_err();
        assert!(
            e.contains("stack other") && e.contains("EventsQueueUrl, StateTableName"),
            "{e}"
        );
    }

    /// Every output the CLI maps is one template.yaml declares.
    #[test]
    fn the_template_declares_every_output() {
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
        )
        .unwrap();
        let outputs = &template[template.find("\nOutputs:").expect("an Outputs section")..];
        for (out, _, _) in OUTPUTS {
            assert!(
                outputs.contains(&format!("\n  {out}:")),
                "template.yaml has no output {out}"
            );
        }
    }
}
