//! Mount stubs: the empty files and directories the runtime creates in the root filesystem
//! as mount points (`/proc`, `/etc/hosts` in a `FROM scratch` image, `/run/secrets/<id>`).
//!
//! They are artefacts of running, not changes made by the step, so they must not reach the
//! layer. Before the run we note, for every mount destination, which path components do not
//! exist yet; after the run (overlay unmounted) we remove those from the upper dir if they
//! are still empty. Directories that existed below (e.g. `/run` from the image) were copied
//! up only because a stub was created inside them; they are removed from the upper dir too
//! when empty, not opaque, and with unchanged mode and ownership, so the lower version
//! shows through unchanged.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::rootpath::resolve_in_root;

#[derive(Debug, Default)]
pub(crate) struct Stubs {
    /// Paths (relative to the root) that did not exist before the run.
    created: Vec<PathBuf>,
    /// Existing directories above a created stub, with (mode, uid, gid) before the run.
    ancestors: Vec<(PathBuf, u32, u32, u32)>,
}

impl Stubs {
    /// Record what is missing for each destination in the mounted root `rootfs`.
    /// Destinations inside an earlier destination are skipped: their stubs land in that
    /// mount (a tmpfs, proc...), not in the root filesystem.
    pub fn record(rootfs: &Path, destinations: &[&str]) -> io::Result<Self> {
        let mut stubs = Stubs::default();
        for (i, dest) in destinations.iter().enumerate() {
            let inside_earlier = destinations[..i].iter().any(|d| is_below(dest, d));
            if inside_earlier {
                continue;
            }
            let resolved = resolve_in_root(rootfs, dest)?;
            if resolved.missing.is_empty() {
                continue;
            }
            let mut rel = resolved.existing.clone();
            for name in &resolved.missing {
                rel.push(name);
                stubs.created.push(rel.clone());
            }
            let mut anc = PathBuf::new();
            for comp in resolved.existing.iter() {
                anc.push(comp);
                let meta = std::fs::metadata(rootfs.join(&anc))?;
                stubs
                    .ancestors
                    .push((anc.clone(), meta.mode(), meta.uid(), meta.gid()));
            }
        }
        stubs.created.sort();
        stubs.created.dedup();
        stubs.ancestors.sort();
        stubs.ancestors.dedup();
        Ok(stubs)
    }

    /// Remove the recorded stubs from `upper`, deepest first (see the module docs).
    pub fn clean(&self, upper: &Path) -> io::Result<()> {
        let mut created = self.created.clone();
        created.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for rel in &created {
            let path = upper.join(rel);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                if is_empty_dir(&path)? {
                    std::fs::remove_dir(&path)?;
                }
            } else if meta.is_file() && meta.len() == 0 {
                std::fs::remove_file(&path)?;
            }
        }
        let mut ancestors = self.ancestors.clone();
        ancestors.sort_by_key(|a| std::cmp::Reverse(a.0.components().count()));
        for (rel, mode, uid, gid) in &ancestors {
            let path = upper.join(rel);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let unchanged = meta.is_dir()
                && meta.mode() == *mode
                && meta.uid() == *uid
                && meta.gid() == *gid
                && !is_opaque(&path)
                && is_empty_dir(&path)?;
            if unchanged {
                std::fs::remove_dir(&path)?;
            }
        }
        Ok(())
    }
}

/// `a` is strictly below `b` as literal absolute paths.
fn is_below(a: &str, b: &str) -> bool {
    let b = b.trim_end_matches('/');
    a.len() > b.len() && a.starts_with(b) && a.as_bytes()[b.len()] == b'/'
}

fn is_empty_dir(path: &Path) -> io::Result<bool> {
    Ok(std::fs::read_dir(path)?.next().is_none())
}

/// An overlayfs opaque directory replaces, rather than merges with, the lower one.
fn is_opaque(path: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(
        rustix::fs::lgetxattr(path, "trusted.overlay.opaque", &mut buf),
        Ok(1) if buf[0] == b'y'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below() {
        assert!(is_below("/dev/shm", "/dev"));
        assert!(!is_below("/devices", "/dev"));
        assert!(!is_below("/dev", "/dev"));
    }

    #[test]
    fn records_and_cleans_only_empty_stubs() {
        // One tree plays both roles (merged root before the run, upper after it).
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("run")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        let stubs = Stubs::record(
            r,
            &[
                "/proc",
                "/dev",
                "/dev/shm",
                "/run/secrets/a",
                "/etc/hosts",
                "/data/x",
            ],
        )
        .unwrap();
        assert!(!stubs.created.iter().any(|p| p.starts_with("dev/shm")));
        // What the runtime would create:
        for d in ["proc", "dev", "run/secrets", "data/x"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(r.join("run/secrets/a"), "").unwrap();
        std::fs::write(r.join("etc/hosts"), "").unwrap();
        // ...and a real change by the step inside a stub directory:
        std::fs::write(r.join("data/keep"), "x").unwrap();
        stubs.clean(r).unwrap();
        for gone in ["proc", "dev", "run", "etc/hosts", "data/x"] {
            assert!(!r.join(gone).exists(), "{gone} should be removed");
        }
        assert!(r.join("data/keep").exists());
        // `etc` was an existing ancestor, now empty and unchanged: removed too.
        assert!(!r.join("etc").exists());
    }

    #[test]
    fn changed_ancestor_is_kept() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("run")).unwrap();
        let stubs = Stubs::record(r, &["/run/s"]).unwrap();
        std::fs::write(r.join("run/s"), "").unwrap();
        std::fs::set_permissions(r.join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
        stubs.clean(r).unwrap();
        assert!(r.join("run").is_dir());
        assert!(!r.join("run/s").exists());
    }
}
