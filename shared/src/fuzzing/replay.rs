//! `cargo test` runs every fuzz target over its committed corpus: the seeds
//! (`fuzz/seeds/<target>/`) and the inputs of past findings
//! (`fuzz/regressions/<target>/`). Cheap (a few hundred small inputs, no
//! sanitizer build) and enough for a fixed bug that comes back to fail CI.

use super::TARGETS;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted; none when it is absent.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable corpus directory").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_runs_over_its_seeds_and_regressions() {
    let mut failures = Vec::new();
    for (name, body) in TARGETS {
        let seeds = inputs("seeds", name);
        assert!(
            seeds.len() >= 3,
            "fuzz/seeds/{name} has {} files: every target needs seeds",
            seeds.len()
        );
        for path in seeds.iter().chain(&inputs("regressions", name)) {
            let data = std::fs::read(path).expect("a readable corpus file");
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "fuzz inputs that fail: {failures:#?}");
}

/// Each regression input made its target fail before the fix it is named
/// after; it must be replayed by the test above, so it must sit under a
/// target's name.
#[test]
fn regressions_belong_to_targets() {
    let Ok(dirs) = std::fs::read_dir(fuzz_dir().join("regressions")) else {
        return;
    };
    for dir in dirs {
        let name = dir.expect("readable").file_name();
        let name = name.to_string_lossy();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/regressions/{name} is not a target"
        );
    }
}

/// The fuzz crate (not built by `cargo test`: it needs libFuzzer) has one
/// binary per target of [`TARGETS`], each calling the function of its name.
#[test]
fn the_fuzz_crate_declares_every_target() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut files: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .map(|e| {
            e.expect("readable")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let mut expected: Vec<String> = TARGETS.iter().map(|(n, _)| format!("{n}.rs")).collect();
    expected.sort();
    assert_eq!(
        files, expected,
        "fuzz/fuzz_targets/ against fuzzing::TARGETS"
    );
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        let source = std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs")))
            .expect("target source");
        let function = match *name {
            "js_stringify" => "js_stringify_target",
            other => other,
        };
        assert!(
            source.contains(&format!("fuzzing::{function}(")),
            "fuzz/fuzz_targets/{name}.rs does not call fuzzing::{function}"
        );
    }
}

/// `JSON.stringify(JSON.parse(text))` in Node.js for each input (base64,
/// decoded as strict UTF-8 with a BOM kept, as a fetch body would be);
/// `None` where Node.js throws.
fn node_stringify_all(inputs: &[Vec<u8>]) -> Vec<Option<String>> {
    use base64::Engine as _;
    use std::io::Write;
    use std::process::{Command, Stdio};

    const SCRIPT: &str = r#"
        const inputs = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
        const results = inputs.map((b64) => {
            try {
                return JSON.stringify(JSON.parse(decoder.decode(Buffer.from(b64, "base64"))));
            } catch {
                return null;
            }
        });
        process.stdout.write(JSON.stringify(results));
    "#;
    let encoded: Vec<String> = inputs
        .iter()
        .map(|i| base64::engine::general_purpose::STANDARD.encode(i))
        .collect();
    let mut child = Command::new("node")
        .args(["-e", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("this test needs `node` (v20+) on PATH as ground truth: {e}"));
    let input = serde_json::to_vec(&encoded).expect("serialize corpus");
    let mut stdin = child.stdin.take().expect("node stdin");
    // Written from another thread so that a full stdout pipe cannot deadlock.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("wait for node");
    writer.join().expect("stdin writer").expect("write to node");
    assert!(output.status.success(), "node failed: {}", output.status);
    serde_json::from_slice(&output.stdout).expect("node output is a JSON array")
}

/// The differences `js_stringify` documents: where JavaScript produces text
/// and we refuse (a number beyond f64, a lone surrogate, nesting deeper
/// than serde_json's 128 levels).
fn documented_refusal(error: &str) -> bool {
    [
        "number out of range",
        "lone leading surrogate",
        "unexpected end of hex escape",
        "recursion limit exceeded",
    ]
    .iter()
    .any(|m| error.contains(m))
}

#[test]
fn js_stringify_corpus_matches_node() {
    let paths: Vec<PathBuf> = inputs("seeds", "js_stringify")
        .into_iter()
        .chain(inputs("regressions", "js_stringify"))
        .collect();
    let corpus: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("a readable corpus file"))
        .collect();
    let expected = node_stringify_all(&corpus);
    assert_eq!(expected.len(), corpus.len());
    let mut agreed_on_text = 0;
    for ((path, input), node) in paths.iter().zip(&corpus).zip(expected) {
        let path = path.display();
        match (crate::js_stringify::js_stringify(input), node) {
            (Ok(ours), Some(theirs)) => {
                assert_eq!(ours, theirs, "{path}");
                agreed_on_text += 1;
            }
            (Err(_), None) => {}
            (Ok(ours), None) => panic!("{path}: Node.js refuses it, we gave {ours:?}"),
            (Err(e), Some(theirs)) => assert!(
                documented_refusal(&e.to_string()),
                "{path}: we refuse it ({e}), Node.js gives {theirs:?}"
            ),
        }
    }
    assert!(
        agreed_on_text >= 10,
        "only {agreed_on_text} inputs compared: the corpus is missing"
    );
}
