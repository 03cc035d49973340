//! `make dev` wherever cargo puts its output (CARGO_TARGET_DIR), with
//! options for `hookrelay dev up` in ARGS. The scripted counterpart for the
//! other make targets and scripts is `scripts/check-target-paths` (`make
//! lint`).

use hookrelay_test_support::{repo_root, unique};
use std::path::PathBuf;
use std::process::Command;

/// cargo's output directory for this build: the test binary's
/// `hookrelay` is in `<target>/debug/`.
fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hookrelay"))
        .parent()
        .and_then(|debug| debug.parent())
        .expect("<target>/debug/hookrelay")
        .to_path_buf()
}

/// `make` in the repository with `CARGO_TARGET_DIR` set, without what this
/// test process inherited from `make test` and cargo (a nested make must
/// not join the outer one's jobserver; package variables would make build
/// scripts rerun). The venv is taken as made (`make test` made it).
fn make(args: &[&str], target: &std::path::Path) -> (i32, String) {
    let root = repo_root();
    let mut cmd = Command::new("make");
    cmd.current_dir(&root)
        .arg("--no-print-directory")
        .arg("-o")
        .arg(root.join(".venv/.installed"))
        .args(args)
        .env("CARGO_TARGET_DIR", target);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let package =
            k.starts_with("CARGO_") && !matches!(k.as_str(), "CARGO_HOME" | "CARGO_TARGET_DIR");
        if package || matches!(k.as_str(), "MAKEFLAGS" | "MFLAGS" | "MAKELEVEL" | "OUT_DIR") {
            cmd.env_remove(&k);
        }
    }
    let out = cmd.output().expect("run make");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn make_dev_passes_args_to_dev_up_and_names_no_path_under_target() {
    let (code, out) = make(
        &["-n", "dev", "ARGS=--moto-port 0 --lambda-port 0"],
        std::path::Path::new("/nonexistent/cargo-target"),
    );
    assert_eq!(code, 0, "{out}");
    let recipe = out
        .lines()
        .find(|l| l.contains("dev up"))
        .unwrap_or_else(|| panic!("no dev up in: {out}"));
    assert!(
        recipe.ends_with("dev up --moto-port 0 --lambda-port 0"),
        "{recipe}"
    );
    assert!(!out.contains("target/"), "a path under target/: {out}");
}

#[test]
fn make_dev_runs_with_cargo_target_dir_set() {
    // The same build output under another path (no rebuild), so the only
    // way to the binary is to ask cargo where it is.
    let elsewhere = std::env::temp_dir().join(unique("hookrelay-target"));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let link = elsewhere.join("t");
    std::os::unix::fs::symlink(target_dir(), &link).unwrap();
    let (code, out) = make(&["dev", "ARGS=--help"], &link);
    std::fs::remove_file(&link).ok();
    std::fs::remove_dir(&elsewhere).ok();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("--moto-port") && out.contains("--lambda-port"),
        "dev up's help: {out}"
    );
}
