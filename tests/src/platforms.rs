//! The platforms' own sample code, run in its own language.
//!
//! Contract (see `tests/fixtures/platforms/README.md`): `sign.<ext> INPUT`
//! with `FIXTURE_KEY` (and `FIXTURE_CLIENT_ID`, `FIXTURE_EVENT`,
//! `FIXTURE_PRETTY`, `FIXTURE_HEADER`) prints `{"body": ..., "headers": {...}}`;
//! `verify.<ext> SENT_JSON` exits 0 when the doc's check accepts.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sent {
    pub body: String,
    pub headers: BTreeMap<String, String>,
}

impl Sent {
    /// Header values as an HTTP client would send them: trimmed (a raw
    /// newline cannot travel in a header).
    pub fn http_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_string()))
            .collect()
    }
}

pub fn dir(platform: &str) -> PathBuf {
    crate::fixtures_dir().join("platforms").join(platform)
}

fn interpreter(ext: &str) -> &'static str {
    match ext {
        "py" => "python3",
        "js" => "node",
        "php" => "php",
        "rb" => "ruby",
        other => panic!("no interpreter for .{other}"),
    }
}

/// Scripts of one kind (`sign` or `verify`) the platform's doc gives, as
/// (language extension, path).
pub fn scripts(platform: &str, kind: &str) -> Vec<(String, PathBuf)> {
    let mut found: Vec<_> = std::fs::read_dir(dir(platform))
        .unwrap_or_else(|e| panic!("fixtures for {platform}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_stem().and_then(|s| s.to_str()) == Some(kind))
        .filter_map(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .map(|e| (e.to_string(), p.clone()))
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no {kind} scripts for {platform}");
    found
}

/// The sample input for a platform (`input.json` or `input.txt`).
pub fn input(platform: &str) -> PathBuf {
    for name in ["input.json", "input.txt"] {
        let p = dir(platform).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("no sample input for {platform}");
}

fn run(
    script: &PathBuf,
    ext: &str,
    arg: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = Command::new(interpreter(ext));
    cmd.arg(script).arg(arg);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {} ({e}): `make test` installs python3, node, php and ruby",
            interpreter(ext)
        )
    })
}

/// Runs a platform's signer.
pub fn sign(script: &PathBuf, ext: &str, input: &std::path::Path, env: &[(&str, &str)]) -> Sent {
    let out = run(script, ext, input, env);
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}): {}",
            script.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs a platform's verifier on what was sent; true when it accepts.
pub fn verify(script: &PathBuf, ext: &str, sent: &Sent, env: &[(&str, &str)]) -> bool {
    let file = std::env::temp_dir().join(format!("{}.json", crate::unique("sent")));
    std::fs::write(&file, serde_json::to_vec(sent).expect("json")).expect("write temp file");
    let out = run(script, ext, &file, env);
    let _ = std::fs::remove_file(&file);
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!(
            "{} crashed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The five platforms whose docs are the seeds of hookrelay's schemes.
pub const PLATFORMS: &[&str] = &[
    "leaflink",
    "leaftrade",
    "leaddone",
    "smarterlaunch",
    "leanbe",
];

/// The client id the LeadDone fixtures use by default (the doc's placeholder).
pub const LEADDONE_CLIENT: &str = "your-client-id";

/// hookrelay's signature configuration for a platform, as a receiver source
/// (verify) would have it.
pub fn verify_config(platform: &str, key: &str) -> String {
    match platform {
        "leaddone" => {
            format!(r#"{{"scheme":"leaddone","clients":{{"{LEADDONE_CLIENT}":["{key}"]}}}}"#)
        }
        p => format!(r#"{{"scheme":"{p}","keys":["{key}"]}}"#),
    }
}

/// hookrelay's signature configuration for a platform, as an endpoint
/// (sign) would have it.
pub fn sign_config(platform: &str, key: &str) -> String {
    match platform {
        "leaddone" => {
            format!(r#"{{"scheme":"leaddone","client_id":"{LEADDONE_CLIENT}","keys":["{key}"]}}"#)
        }
        p => format!(r#"{{"scheme":"{p}","keys":["{key}"]}}"#),
    }
}

/// Every sample input of a platform (`input*.json`, `input*.txt`).
pub fn inputs(platform: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir(platform))
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("input"))
        })
        .collect();
    found.sort();
    found
}

/// Signer variants worth running: Leanbe also pretty-printed, so the
/// receiver's re-serialization path is exercised.
pub fn sign_variants(platform: &str) -> Vec<Vec<(&'static str, &'static str)>> {
    if platform == "leanbe" {
        vec![vec![], vec![("FIXTURE_PRETTY", "1")]]
    } else {
        vec![vec![]]
    }
}

/// Environment for a platform's verifier. Smarter Launch's doc verifiers
/// hash a re-serialization of the parsed body; Python's `json.dumps` puts
/// spaces where `JSON.stringify` does not, so the doc's Python check can
/// never accept a body Smarter Launch (JavaScript) sent: that verifier runs
/// in `raw` mode, the doc's same call over the raw body received.
pub fn verify_env(platform: &str, lang: &str) -> Vec<(&'static str, &'static str)> {
    match (platform, lang) {
        ("smarterlaunch", "py") => vec![("FIXTURE_VERIFY", "raw")],
        _ => vec![],
    }
}

/// The same body with one byte changed, keeping it valid JSON: the case of
/// the first letter of the first string value is flipped (falling back to
/// the first letter after the first `:` for bodies without one).
pub fn flip_one_byte(body: &str) -> String {
    let mut bytes = body.as_bytes().to_vec();
    let string_value = (1..bytes.len()).find(|&i| {
        bytes[i - 1] == b'"'
            && bytes[i].is_ascii_alphabetic()
            && bytes[..i - 1]
                .iter()
                .rev()
                .find(|b| !b.is_ascii_whitespace())
                == Some(&b':')
    });
    let start = body.find(':').unwrap_or(0);
    let pos = string_value
        .or_else(|| (start..bytes.len()).find(|&i| bytes[i].is_ascii_alphabetic()))
        .expect("a letter to flip");
    bytes[pos] ^= 0x20;
    String::from_utf8(bytes).expect("still UTF-8")
}
