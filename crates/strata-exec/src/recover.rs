//! Recovering from runs whose process died (SIGKILL, power loss) before cleaning up.
//!
//! A bundle's name starts with the owning process id (`strata-<pid>-...`). A bundle whose
//! owner is gone may still have a runc container, an overlay and tmpfs mounts; recovery
//! deletes the container, detaches every mount below the bundle and removes it. The upper
//! dir of such a run is left as it is: its step never finished, so callers discard it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::mount::UnmountFlags;

use crate::error::{errno, ExecError};
use crate::RuncExecutor;

impl RuncExecutor {
    /// Clean up bundles left by processes that no longer exist; returns how many were
    /// removed. Bundles of live processes (including this one) are left alone, so this is
    /// safe to call at start-up while other strata processes share the state dir.
    pub fn recover_stale(&self) -> Result<usize, ExecError> {
        let bundles = self.state_dir.join("bundles");
        let entries =
            std::fs::read_dir(&bundles).map_err(|e| ExecError::io("read", &bundles, e))?;
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| ExecError::io("read", &bundles, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = owner_pid(&name) else {
                continue;
            };
            if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            let _ = Command::new(&self.runtime)
                .arg("--root")
                .arg(self.runc_root())
                .args(["delete", "--force", &name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let bundle = entry.path();
            for mountpoint in mounts_below(&bundle)? {
                rustix::mount::unmount(&mountpoint, UnmountFlags::DETACH)
                    .map_err(|e| ExecError::mount("unmount", &mountpoint, errno(e)))?;
            }
            std::fs::remove_dir_all(&bundle)
                .map_err(|e| ExecError::io("remove bundle", &bundle, e))?;
            removed += 1;
        }
        Ok(removed)
    }
}

/// The pid in `strata-<pid>-<n>-<nonce>`.
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix("strata-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Mount points strictly below `dir`, deepest first.
fn mounts_below(dir: &Path) -> Result<Vec<PathBuf>, ExecError> {
    let info = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(info).map_err(|e| ExecError::io("read", info, e))?;
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir) && p != dir)
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    Ok(found)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_owner_and_escapes() {
        assert_eq!(owner_pid("strata-123-4-0abc"), Some(123));
        assert_eq!(owner_pid("other"), None);
        assert_eq!(owner_pid("strata-x-1"), None);
        assert_eq!(unescape_mountinfo("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape_mountinfo("/tail\\04"), "/tail\\04");
    }
}
