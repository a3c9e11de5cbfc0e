//! The Debian fixture: `debootstrap --variant=minbase bookworm`, built once and cached.
//!
//! The root filesystem is kept as `target/fixtures/debian-bookworm-minbase.tar` (a rootfs
//! tarball ready for `strata import`). An exclusive file lock serialises builders, so
//! parallel test binaries wait for one debootstrap run instead of racing; the tarball is
//! written under a temporary name and renamed into place, so a killed build never leaves a
//! truncated fixture behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::dirs::fixtures_dir;

/// File name of the cached tarball inside `target/fixtures/`.
pub const DEBIAN_TARBALL: &str = "debian-bookworm-minbase.tar";

/// Fallback when the machine's apt sources name no Debian mirror.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// The path of the cached Debian minbase rootfs tarball, building it first if needed.
/// Requires root and `debootstrap`; takes minutes the first time.
pub fn debian_rootfs_tarball() -> Result<PathBuf> {
    let dir = fixtures_dir()?;
    let out = dir.join(DEBIAN_TARBALL);
    if out.is_file() {
        return Ok(out);
    }
    let lock_path = dir.join(format!("{DEBIAN_TARBALL}.lock"));
    let lock = File::create(&lock_path)
        .with_context(|| format!("creating lock {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    // Someone else may have finished while we waited for the lock.
    if out.is_file() {
        return Ok(out);
    }
    build(&dir, &out)?;
    Ok(out)
}

fn build(dir: &Path, out: &Path) -> Result<()> {
    let work = dir.join("debian-build");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("removing stale {}", work.display()))?;
    }
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let rootfs = work.join("rootfs");
    let mirror = apt_mirror().unwrap_or_else(|| DEFAULT_MIRROR.to_owned());
    // A second attempt from scratch rides out a mirror that dropped one download.
    // Its chatter goes to a file, so a test's failure message is not buried under it; the
    // tail is quoted when it fails.
    let output = work.join("debootstrap.out");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let out =
            File::create(&output).with_context(|| format!("creating {}", output.display()))?;
        let status = Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&rootfs)
            .arg(&mirror)
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .context("running debootstrap (is it installed, and are we root?)")?;
        if status.success() {
            break;
        }
        if attempt == 2 {
            let text = std::fs::read_to_string(&output).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "debootstrap --variant=minbase bookworm {} {mirror} failed twice, last: {status}; \
                 its output ends:\n{}",
                rootfs.display(),
                tail.join("\n")
            );
        }
        if rootfs.exists() {
            std::fs::remove_dir_all(&rootfs)
                .with_context(|| format!("removing failed {}", rootfs.display()))?;
        }
    }
    let tmp = work.join("rootfs.tar");
    let status = Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--sort=name", "-C"])
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tmp)
        .arg(".")
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("tar of {} failed: {status}", rootfs.display());
    }
    std::fs::rename(&tmp, out)
        .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    Ok(())
}

/// The Debian mirror this machine's apt uses (first `URIs:` / `deb` line ending in
/// `/debian`), so debootstrap goes where the network allows.
pub fn apt_mirror() -> Option<String> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    files
        .iter()
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".list") || name.ends_with(".sources")
        })
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| mirror_in(&text))
}

fn mirror_in(text: &str) -> Option<String> {
    text.lines().map(str::trim).find_map(|line| {
        let words: Vec<&str> = if let Some(rest) = line.strip_prefix("URIs:") {
            rest.split_whitespace().collect()
        } else if line.starts_with("deb ") {
            line.split_whitespace()
                .filter(|w| w.starts_with("http"))
                .collect()
        } else {
            Vec::new()
        };
        words
            .into_iter()
            .map(|w| w.trim_end_matches('/'))
            .find(|w| w.ends_with("/debian"))
            .map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::mirror_in;

    #[test]
    fn finds_mirror_in_deb822_and_one_line_formats() {
        let deb822 = "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n\
                      Types: deb\nURIs: http://mirror.example/debian-security\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://mirror.example/debian")
        );
        let list = "# comment\ndeb [arch=amd64] http://ftp.example/debian bookworm main\n";
        assert_eq!(
            mirror_in(list).as_deref(),
            Some("http://ftp.example/debian")
        );
        assert_eq!(
            mirror_in("deb https://example/security bookworm main"),
            None
        );
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    /// Builds (first time only: minutes) and checks the cached Debian fixture.
    #[test]
    fn debian_fixture_is_a_minbase_rootfs() {
        if !crate::require_root().unwrap() || crate::require_tool("debootstrap").unwrap().is_none()
        {
            return;
        }
        let tarball = debian_rootfs_tarball().unwrap();
        let file = File::open(&tarball).unwrap();
        let mut archive = tar::Archive::new(file);
        let mut seen = (false, false);
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            seen.0 |= path == "./etc/debian_version";
            seen.1 |= path == "./usr/bin/dpkg";
        }
        assert_eq!(
            seen,
            (true, true),
            "{} lacks Debian files",
            tarball.display()
        );
        // Cached: a second call returns the same file without rebuilding it.
        let modified = std::fs::metadata(&tarball).unwrap().modified().unwrap();
        assert_eq!(debian_rootfs_tarball().unwrap(), tarball);
        assert_eq!(
            std::fs::metadata(&tarball).unwrap().modified().unwrap(),
            modified
        );
    }
}
