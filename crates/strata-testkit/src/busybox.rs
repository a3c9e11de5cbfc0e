//! The busybox fixture: a `FROM scratch` style image root filesystem.
//!
//! Built from Debian's `busybox-static` (`/bin/busybox`): the binary, one relative symlink
//! per applet in `/bin` (`sh`, `ls`, `cat`, `echo`, `find`, `wc`, ...), `/etc/passwd` and
//! `/etc/group` with `root` and `nobody`, and the usual empty directories.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::dirs::TempRoot;
use crate::layer_tar::write_layer_tar;

/// Where Debian's busybox-static puts its binary.
pub const BUSYBOX_BIN: &str = "/bin/busybox";

/// Applets linked even if `busybox --list` cannot be run (they are what tests rely on).
const CORE_APPLETS: &[&str] = &[
    "sh",
    "ls",
    "cat",
    "echo",
    "find",
    "wc",
    "mkdir",
    "rm",
    "cp",
    "mv",
    "touch",
    "true",
    "false",
    "test",
    "env",
    "sleep",
    "id",
    "grep",
    "sed",
    "head",
    "tail",
    "sort",
    "stat",
    "chmod",
    "ln",
    "pwd",
    "uname",
    "printf",
    "tar",
    "sha256sum",
];

/// A busybox root filesystem and its layer tar, in a temporary directory removed on drop.
pub struct BusyboxFixture {
    tmp: TempRoot,
    /// The root filesystem directory.
    pub rootfs: PathBuf,
    /// A deterministic tar of `rootfs` (a single uncompressed layer).
    pub layer_tar: PathBuf,
}

impl BusyboxFixture {
    /// The scratch directory holding the fixture, for tests to put more files in.
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }
}

/// Build the busybox fixture. Fails when `busybox-static` is not installed.
pub fn busybox() -> Result<BusyboxFixture> {
    let tmp = TempRoot::new()?;
    let rootfs = tmp.path().join("rootfs");
    build_rootfs(&rootfs)?;
    let layer_tar = tmp.path().join("busybox-layer.tar");
    write_layer_tar(&rootfs, &layer_tar)?;
    Ok(BusyboxFixture {
        tmp,
        rootfs,
        layer_tar,
    })
}

/// Populate `rootfs` (created if missing) with busybox, its applet links and /etc files.
pub fn build_rootfs(rootfs: &Path) -> Result<()> {
    let busybox = Path::new(BUSYBOX_BIN);
    if !busybox.is_file() {
        bail!("{BUSYBOX_BIN} not found; install the busybox-static package");
    }
    for dir in [
        "bin", "etc", "root", "tmp", "var", "home", "dev", "proc", "sys",
    ] {
        let path = rootfs.join(dir);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        let mode = match dir {
            "tmp" => 0o1777,
            "root" => 0o700,
            _ => 0o755,
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    }
    std::fs::set_permissions(rootfs, std::fs::Permissions::from_mode(0o755))?;
    let dest = rootfs.join("bin/busybox");
    std::fs::copy(busybox, &dest)
        .with_context(|| format!("copying busybox to {}", dest.display()))?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;

    for applet in applets()? {
        if applet == "busybox" {
            continue;
        }
        let link = rootfs.join("bin").join(&applet);
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink("busybox", &link)
                .with_context(|| format!("linking {}", link.display()))?;
        }
    }

    write_file(
        rootfs,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    write_file(
        rootfs,
        "etc/group",
        "root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n",
    )?;
    Ok(())
}

fn write_file(rootfs: &Path, rel: &str, contents: &str) -> Result<()> {
    let path = rootfs.join(rel);
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    Ok(())
}

/// The applet names this busybox provides (its `--list`), plus the core set.
fn applets() -> Result<Vec<String>> {
    let mut names: Vec<String> = CORE_APPLETS.iter().map(|s| s.to_string()).collect();
    let out = Command::new(BUSYBOX_BIN)
        .arg("--list")
        .output()
        .with_context(|| format!("running {BUSYBOX_BIN} --list"))?;
    if out.status.success() {
        names.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.contains('/'))
                .map(str::to_owned),
        );
    }
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_fixture_has_shell_and_users() {
        if !Path::new(BUSYBOX_BIN).exists() && !crate::in_ci() {
            eprintln!("note: busybox-static missing; skipping");
            return;
        }
        let fx = busybox().unwrap();
        assert_eq!(
            std::fs::read_link(fx.rootfs.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        let passwd = std::fs::read_to_string(fx.rootfs.join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"));
        assert!(passwd.contains("nobody:x:65534"));

        // The tar lists the shell link and is byte-for-byte reproducible.
        let bytes = std::fs::read(&fx.layer_tar).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.iter().any(|n| n == "bin/sh"), "{names:?}");
        assert!(names.iter().any(|n| n == "etc/group"));
        let again = fx.dir().join("again.tar");
        write_layer_tar(&fx.rootfs, &again).unwrap();
        assert_eq!(std::fs::read(again).unwrap(), bytes);
    }
}
