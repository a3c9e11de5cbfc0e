//! Peer tool detection.
//!
//! Tests that need skopeo, umoci, runc or root call [`require_tool`] / [`require_root`].
//! Outside CI a missing tool means "skip" (`Ok(None)` / `Ok(false)`); with `STRATA_CI=1`
//! it is an error, because the setup script installs every peer and a skip there would
//! hide a broken environment.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// True when running under CI (`STRATA_CI=1`).
pub fn in_ci() -> bool {
    std::env::var("STRATA_CI").is_ok_and(|v| v == "1")
}

/// Find `name` on `PATH` (the equivalent of `which name`).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of peer tool `name`; `Ok(None)` (after a note on stderr) when it is missing
/// outside CI, an error when it is missing under `STRATA_CI=1`.
pub fn require_tool(name: &str) -> Result<Option<PathBuf>> {
    match which(name) {
        Some(path) => Ok(Some(path)),
        None if in_ci() => bail!("peer tool {name} is not installed but STRATA_CI=1 requires it"),
        None => {
            eprintln!(
                "note: {name} not found on PATH; skipping (set STRATA_CI=1 to make this fail)"
            );
            Ok(None)
        }
    }
}

/// A tool the setup script installs into the Python venv under `target/venv` (dive), or
/// else one on `PATH`; missing: as [`require_tool`].
pub fn require_venv_tool(name: &str) -> Result<Option<PathBuf>> {
    // scripts/setup.sh puts it at <workspace>/target/venv whatever CARGO_TARGET_DIR says.
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2);
    let candidate = workspace
        .map(|w| w.join("target/venv/bin").join(name))
        .unwrap_or_default();
    if is_executable(&candidate) {
        return Ok(Some(candidate));
    }
    require_tool(name)
}

/// Whether the process runs as root; an error under `STRATA_CI=1` when it does not.
pub fn require_root() -> Result<bool> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    match (uid == "0", in_ci()) {
        (true, _) => Ok(true),
        (false, true) => bail!("test requires root but STRATA_CI=1 and uid is {uid}"),
        (false, false) => {
            eprintln!("note: not running as root; skipping");
            Ok(false)
        }
    }
}
