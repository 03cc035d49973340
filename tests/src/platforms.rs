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
