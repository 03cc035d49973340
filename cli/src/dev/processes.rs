//! Child processes of the local pipeline (moto server, `cargo lambda
//! watch`), each in its own process group so that stopping one also stops
//! what it started (cargo-lambda runs the functions as its children).

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Managed {
    pub name: &'static str,
    child: Child,
}

impl Managed {
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Result<Self, String> {
        let out = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Self { name, child })
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the whole group, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        let pgid = self.child.id();
        let signal = |sig: &str| {
            // `--` so that the negative process-group id is not read as an option.
            let _ = Command::new("kill")
                .args(["-s", sig, "--", &format!("-{pgid}")])
                .stderr(Stdio::null())
                .status();
        };
        signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal("KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.stop();
        }
    }
}

/// A port: `0` picks a free one.
pub fn port_or_free(port: u16) -> Result<u16, String> {
    if port != 0 {
        return Ok(port);
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Waits until something accepts TCP connections on the port.
pub fn wait_for_port(port: u16, within: Duration, who: &mut Managed) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = who.exited() {
            return Err(format!(
                "{} exited ({status}) before listening on port {port}",
                who.name
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "{} did not listen on port {port} within {within:?}",
        who.name
    ))
}

/// A tool from the project's venv (`make venv`), else from PATH.
pub fn tool(root: &Path, name: &str) -> PathBuf {
    let venv = root.join(".venv/bin").join(name);
    if venv.exists() {
        venv
    } else {
        PathBuf::from(name)
    }
}

/// PATH with the venv first: cargo-lambda finds zig through its python.
pub fn path_with_venv(root: &Path) -> String {
    let venv = root.join(".venv/bin");
    match std::env::var("PATH") {
        Ok(p) => format!("{}:{p}", venv.display()),
        Err(_) => venv.display().to_string(),
    }
}

/// Removes the package variables cargo sets for a running test or binary
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...). A nested `cargo build` that
/// inherits them looks like a different build to the build scripts that
/// watch them (ring's), which would then rebuild on every switch.
pub fn without_package_env(cmd: &mut Command) -> &mut Command {
    const PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_BIN_EXE_", "CARGO_CFG_"];
    const NAMES: &[&str] = &[
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if NAMES.contains(&k.as_str()) || PREFIXES.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(&k);
        }
    }
    cmd
}
