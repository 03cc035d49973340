//! `hookrelay endpoints add|update` against moto's Secrets Manager, through
//! the real binary: flags change only the fields they name.

use hookrelay_test_support::{moto, unique};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

struct Env {
    sm: aws_sdk_secretsmanager::Client,
    file: PathBuf,
    prefix: String,
}

async fn env() -> Env {
    let sm = moto::secretsmanager().await;
    let prefix = unique("cfg");
    let file = std::env::temp_dir().join(format!("{}.env", unique("hookrelay-cli")));
    std::fs::write(
        &file,
        format!(
            "AWS_ENDPOINT_URL={}\nAWS_REGION={}\nAWS_ACCESS_KEY_ID=test\nAWS_SECRET_ACCESS_KEY=test\n\
             HOOKRELAY_SECRETS_PREFIX={prefix}\n",
            moto::endpoint(),
            moto::REGION
        ),
    )
    .unwrap();
    Env { sm, file, prefix }
}

impl Env {
    fn cli(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
            .arg("--env-file")
            .arg(&self.file)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    async fn endpoint(&self, name: &str) -> Value {
        let text = self
            .sm
            .get_secret_value()
            .secret_id(format!("{}/endpoints/{name}", self.prefix))
            .version_stage("AWSCURRENT")
            .send()
            .await
            .unwrap()
            .secret_string
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

#[tokio::test]
async fn the_smarter_launch_schedule_is_set_with_flags_and_update_keeps_what_it_is_not_given() {
    let env = env().await;
    let (code, out) = env.cli(&[
        "endpoints",
        "add",
        "sl",
        "--url",
        "https://sl.example/hooks",
        "--scheme",
        "smarterlaunch",
        "--generate-key",
        "--retry",
        "10s,100s",
        "--jitter",
        "0",
        "--timeout-secs",
        "20",
    ]);
    assert_eq!(code, 0, "{out}");
    let added = env.endpoint("sl").await;
    assert_eq!(
        added["retry"],
        serde_json::json!({"delays": ["10s", "1m 40s"], "jitter": 0.0})
    );

    // --retry alone: the jitter of 0 stays.
    let (code, out) = env.cli(&["endpoints", "update", "sl", "--retry", "10s,100s,1000s"]);
    assert_eq!(code, 0, "{out}");
    let after = env.endpoint("sl").await;
    assert_eq!(
        after["retry"],
        serde_json::json!({"delays": ["10s", "1m 40s", "16m 40s"], "jitter": 0.0})
    );
    // --jitter alone: the delays stay.
    let (code, out) = env.cli(&["endpoints", "update", "sl", "--jitter", "0.1"]);
    assert_eq!(code, 0, "{out}");
    let after = env.endpoint("sl").await;
    assert_eq!(
        after["retry"],
        serde_json::json!({"delays": ["10s", "1m 40s", "16m 40s"], "jitter": 0.1})
    );
    // Nothing else moved.
    for member in ["url", "signature", "timeout_secs"] {
        assert_eq!(after[member], added[member], "{member}");
    }
}
