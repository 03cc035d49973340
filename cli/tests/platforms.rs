//! The platforms' own sample code (Python, Node.js, PHP, Ruby) against
//! `hookrelay verify` and `hookrelay sign`, in both directions.

use hookrelay_test_support::platforms::{self, PLATFORMS, Sent};
use std::io::Write;
use std::process::{Command, Stdio};

const KEY: &str = "platform-test-key";

fn hookrelay(args: &[String], stdin: &[u8]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hookrelay");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn scheme_args(platform: &str) -> Vec<String> {
    let mut a = vec![
        "--scheme".to_string(),
        platform.to_string(),
        "--key".into(),
        KEY.into(),
    ];
    if platform == "leaddone" {
        a.extend([
            "--client-id".to_string(),
            platforms::LEADDONE_CLIENT.to_string(),
        ]);
    }
    a
}

fn verify_args(platform: &str, sent: &Sent) -> Vec<String> {
    let mut args = vec!["verify".to_string()];
    args.extend(scheme_args(platform));
    for (k, v) in &sent.headers {
        // As received over HTTP: the raw value, which may end in "\n" (Ruby).
        args.extend(["-H".to_string(), format!("{k}: {v}")]);
    }
    args
}

#[test]
fn every_platform_sample_signer_is_accepted_by_hookrelay_verify_and_one_changed_byte_is_not() {
    let mut checked = 0;
    for platform in PLATFORMS {
        for input in platforms::inputs(platform) {
            for (lang, script) in platforms::scripts(platform, "sign") {
                for extra in platforms::sign_variants(platform) {
                    let mut env = vec![("FIXTURE_KEY", KEY)];
                    env.extend(extra);
                    let sent = platforms::sign(&script, &lang, &input, &env);
                    let what = format!("{platform} {lang} {} {env:?}", input.display());
                    let (code, out) =
                        hookrelay(&verify_args(platform, &sent), sent.body.as_bytes());
                    assert_eq!(code, 0, "{what}: {out}");
                    let flipped = platforms::flip_one_byte(&sent.body);
                    let (code, out) = hookrelay(&verify_args(platform, &sent), flipped.as_bytes());
                    assert_eq!(code, 1, "{what} with one changed byte: {out}");
                    assert!(out.starts_with("invalid:"), "{out}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} signer runs");
}

#[test]
fn every_platform_sample_verifier_accepts_hookrelay_sign() {
    for platform in PLATFORMS {
        let input = platforms::input(platform);
        let raw = std::fs::read(&input).unwrap();
        // Serializing platforms send compact JSON (what JSON.stringify gives).
        let body = if input.extension().is_some_and(|e| e == "json") {
            hookrelay_shared::js_stringify::js_stringify(&raw)
                .unwrap()
                .into_bytes()
        } else {
            raw
        };
        let mut args = vec!["sign".to_string()];
        args.extend(scheme_args(platform));
        args.extend(["--event".to_string(), "idea.created".to_string()]);
        let (code, out) = hookrelay(&args, &body);
        assert_eq!(code, 0, "{platform}: {out}");
        let sent = if *platform == "leanbe" {
            Sent {
                body: out.trim_end().to_string(),
                headers: Default::default(),
            }
        } else {
            let headers = out
                .lines()
                .map(|l| {
                    let (k, v) = l.split_once(": ").expect("Name: value");
                    (k.to_string(), v.to_string())
                })
                .collect();
            Sent {
                body: String::from_utf8(body.clone()).unwrap(),
                headers,
            }
        };
        for (lang, script) in platforms::scripts(platform, "verify") {
            let mut env = vec![("FIXTURE_KEY", KEY)];
            env.extend(platforms::verify_env(platform, &lang));
            assert!(
                platforms::verify(&script, &lang, &sent, &env),
                "{platform} {lang} rejected hookrelay sign"
            );
            let tampered = Sent {
                body: platforms::flip_one_byte(&sent.body),
                headers: sent.headers.clone(),
            };
            assert!(
                !platforms::verify(&script, &lang, &tampered, &env),
                "{platform} {lang} accepted a changed body"
            );
        }
    }
}

/// `verify --scheme leaddone --key K -H 'X-Webhook-ClientId: c1' ...`: the
/// key belongs to the client the request names when `--client-id` is not
/// given; without either, the error says that the client is missing.
#[test]
fn leaddone_verify_takes_the_client_from_the_request() {
    let input = platforms::input("leaddone");
    let (lang, script) = platforms::scripts("leaddone", "sign").remove(0);
    let sent = platforms::sign(&script, &lang, &input, &[("FIXTURE_KEY", KEY)]);
    let args = |with_client: bool| {
        let mut a = vec![
            "verify".to_string(),
            "--scheme".into(),
            "leaddone".into(),
            "--key".into(),
            KEY.into(),
        ];
        for (k, v) in &sent.headers {
            if with_client || !k.eq_ignore_ascii_case("x-webhook-clientid") {
                a.extend(["-H".to_string(), format!("{k}: {v}")]);
            }
        }
        a
    };
    let (code, out) = hookrelay(&args(true), sent.body.as_bytes());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("client {}", platforms::LEADDONE_CLIENT)),
        "{out}"
    );

    let (code, out) = hookrelay(&args(false), sent.body.as_bytes());
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("--client-id") && out.contains("X-Webhook-ClientId"),
        "{out}"
    );
    assert!(!out.contains("needs at least one key"), "{out}");
}
