//! `hookrelay env --stack NAME` against moto's CloudFormation: a stack with
//! the outputs template.yaml declares becomes the settings file the other
//! commands read.

use hookrelay_test_support::{moto, unique};
use std::process::Command;

fn cli(env_file: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .arg("--env-file")
        .arg(env_file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A stack shaped like hookrelay's (its outputs; a queue and a topic as
/// resources), created in moto.
async fn stack(name: &str, with_table_output: bool) {
    let cf = aws_sdk_cloudformation::Client::new(&moto::sdk_config().await);
    let mut outputs = serde_json::json!({
        "ApiUrl": {"Value": "https://abc123.execute-api.us-east-1.amazonaws.com/webhooks/"},
        "InboundQueueUrl": {"Value": {"Ref": "Inbound"}},
        "InboundDeadLetterQueueUrl": {"Value": {"Ref": "InboundDlq"}},
        "OutboundQueueUrl": {"Value": {"Ref": "Outbound"}},
        "OutboundDeadLetterQueueUrl": {"Value": {"Ref": "OutboundDlq"}},
        "EventsQueueUrl": {"Value": {"Ref": "Events"}},
        "EventsDeadLetterQueueUrl": {"Value": {"Ref": "EventsDlq"}},
        "NoticeTopicArn": {"Value": {"Ref": "Notices"}},
        "SecretsPrefix": {"Value": format!("hookrelay-prod-{name}")}
    });
    if with_table_output {
        outputs["StateTableName"] = serde_json::json!({"Value": "hookrelay-StateTable-1"});
    }
    let queue = |q: &str| serde_json::json!({"Type": "AWS::SQS::Queue", "Properties": {"QueueName": format!("{name}-{q}")}});
    let template = serde_json::json!({
        "Resources": {
            "Inbound": queue("inbound"), "InboundDlq": queue("inbound-dlq"),
            "Outbound": queue("outbound"), "OutboundDlq": queue("outbound-dlq"),
            "Events": queue("events"), "EventsDlq": queue("events-dlq"),
            "Notices": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": format!("{name}-notices")}}
        },
        "Outputs": outputs
    });
    cf.create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
}

fn moto_env() -> std::path::PathBuf {
    let file = std::env::temp_dir().join(format!("{}.env", unique("hookrelay-env")));
    std::fs::write(
        &file,
        format!(
            "AWS_ENDPOINT_URL={}\nAWS_REGION={}\nAWS_ACCESS_KEY_ID=test\nAWS_SECRET_ACCESS_KEY=test\n",
            moto::endpoint(),
            moto::REGION
        ),
    )
    .unwrap();
    file
}

#[tokio::test]
async fn the_stacks_outputs_become_the_cli_settings() {
    let name = unique("hookrelay");
    stack(&name, true).await;
    let out_file = std::env::temp_dir()
        .join(unique("hookrelay-aws"))
        .join("aws.env");
    let (code, out) = cli(
        &moto_env(),
        &["env", "--stack", &name, "-o", out_file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    let var = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing from {text}"))
            .to_string()
    };
    assert!(var("OUTBOUND_QUEUE_URL").ends_with(&format!("/{name}-outbound")));
    assert!(var("OUTBOUND_DLQ_URL").ends_with(&format!("/{name}-outbound-dlq")));
    assert!(var("EVENTS_QUEUE_URL").ends_with(&format!("/{name}-events")));
    assert!(var("INBOUND_DLQ_URL").ends_with(&format!("/{name}-inbound-dlq")));
    assert!(var("NOTIFY_TOPIC_ARN").ends_with(&format!(":{name}-notices")));
    assert_eq!(var("HOOKRELAY_STATE_TABLE"), "hookrelay-StateTable-1");
    assert_eq!(
        var("HOOKRELAY_SECRETS_PREFIX"),
        format!("hookrelay-prod-{name}")
    );
    assert_eq!(
        var("RECEIVER_URL"),
        "https://abc123.execute-api.us-east-1.amazonaws.com"
    );
    assert_eq!(var("AWS_REGION"), moto::REGION);

    // Without -o: the same lines on standard output. And the settings file
    // can be named by HOOKRELAY_ENV_FILE instead of --env-file.
    let out = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .env("HOOKRELAY_ENV_FILE", moto_env())
        .args(["env", "--stack", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);
}

#[tokio::test]
async fn a_stack_without_the_outputs_or_no_stack_at_all_is_an_error_that_says_so() {
    let name = unique("other");
    stack(&name, false).await;
    let (code, out) = cli(&moto_env(), &["env", "--stack", &name]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("has no output StateTableName"), "{out}");
    let (code, out) = cli(&moto_env(), &["env", "--stack", "no-such-stack"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no-such-stack"), "{out}");
}

/// The README's Deploying section, its CLI part as written: every line of
/// its `sh` blocks from `hookrelay env` on (the tools before it build and
/// deploy; `cargo install` is this test's binary), run in one shell against
/// a stack named `hookrelay` in moto.
#[tokio::test]
async fn the_readme_deploying_commands_run_against_a_stack() {
    let readme =
        std::fs::read_to_string(hookrelay_test_support::repo_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Deploying\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Deploying section");
    let mut script = vec!["set -euo pipefail".to_string()];
    let mut in_sh = false;
    let mut from_env = false;
    for line in section.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh => {
                from_env |= l.starts_with("hookrelay env ");
                if from_env {
                    script.push(l.to_string());
                }
            }
            _ => {}
        }
    }
    assert!(
        script
            .iter()
            .any(|l| l.starts_with("hookrelay sources add"))
            && script
                .iter()
                .any(|l| l.starts_with("hookrelay endpoints add")),
        "{script:?}"
    );

    // The stack `sam deploy` would have made, in moto.
    let cf = aws_sdk_cloudformation::Client::new(&moto::sdk_config().await);
    let _ = cf.delete_stack().stack_name("hookrelay").send().await;
    stack("hookrelay", true).await;
    let prefix = cf
        .describe_stacks()
        .stack_name("hookrelay")
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("SecretsPrefix"))
        .and_then(|o| o.output_value())
        .unwrap()
        .to_string();
    // Secrets of an earlier run against the same server.
    let sm = moto::secretsmanager().await;
    for kind in ["sources/github", "endpoints/billing"] {
        let _ = sm
            .delete_secret()
            .secret_id(format!("{prefix}/{kind}"))
            .force_delete_without_recovery(true)
            .send()
            .await;
    }

    let dir = std::env::temp_dir().join(unique("readme-deploy"));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hookrelay"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Credentials and region as a user's environment has them; the endpoint
    // is moto's.
    let out = Command::new("bash")
        .arg("-c")
        .arg(script.join("\n"))
        .current_dir(&dir)
        .env("PATH", path)
        .env_remove("HOOKRELAY_ENV_FILE")
        .env("AWS_ENDPOINT_URL", moto::endpoint())
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{text}", script.join("\n"));
    assert!(text.contains("source github created"), "{text}");
    assert!(text.contains("endpoint billing created"), "{text}");
    for kind in ["sources/github", "endpoints/billing"] {
        sm.get_secret_value()
            .secret_id(format!("{prefix}/{kind}"))
            .version_stage("AWSCURRENT")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{prefix}/{kind}: {e:?}"));
    }
    std::fs::remove_dir_all(&dir).ok();
}
