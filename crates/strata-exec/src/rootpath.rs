//! Path resolution confined to a root filesystem.
//!
//! An image's root filesystem may hold symlinks such as `/app -> /etc`. Before the container
//! starts, the executor looks inside the rootfs from the host (reading `/etc/passwd`, creating
//! the working directory, noting which mount points runc will have to create). Joining
//! `rootfs + path` naively would follow an absolute symlink out to the host's `/etc`; these
//! helpers resolve every symlink as if `root` were `/`, the way the container will see it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Linux's own limit on symlink hops during one lookup.
const MAX_SYMLINK_HOPS: usize = 40;

/// A path resolved inside a root: the part that exists and the part that does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The existing prefix, relative to the root, symlinks already resolved.
    pub existing: PathBuf,
    /// Names below `existing` that do not exist yet, outermost first.
    pub missing: Vec<OsString>,
}

/// Resolve `path` (absolute or relative to `/`) inside `root`, following symlinks without ever
/// leaving `root` (`..` at the top stays at the top, absolute link targets restart at `root`).
pub(crate) fn resolve_in_root(root: &Path, path: &str) -> io::Result<Resolved> {
    let mut queue: VecDeque<OsString> = components(Path::new(path)).collect();
    let mut existing: Vec<OsString> = Vec::new();
    let mut missing: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            if missing.pop().is_none() {
                existing.pop();
            }
            continue;
        }
        if !missing.is_empty() {
            missing.push(name);
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&existing);
        candidate.push(&name);
        match std::fs::symlink_metadata(&candidate) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(name),
            Err(e) => return Err(e),
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(io::Error::from_raw_os_error(libc_eloop()));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    existing.clear();
                }
                for (i, c) in components(&target).enumerate() {
                    queue.insert(i, c);
                }
            }
            Ok(_) => existing.push(name),
        }
    }
    Ok(Resolved {
        existing: existing.iter().collect(),
        missing,
    })
}

/// Create `path` and its missing parents inside `root` as directories with `mode`.
/// Returns the created directories relative to `root`, outermost first.
pub(crate) fn mkdir_all_in_root(root: &Path, path: &str, mode: u32) -> io::Result<Vec<PathBuf>> {
    use std::os::unix::fs::DirBuilderExt;
    let resolved = resolve_in_root(root, path)?;
    let mut rel = resolved.existing.clone();
    let mut created = Vec::new();
    for name in &resolved.missing {
        rel.push(name);
        std::fs::DirBuilder::new()
            .mode(mode)
            .create(root.join(&rel))?;
        created.push(rel.clone());
    }
    Ok(created)
}

/// Read a file inside `root` after confined resolution; `Ok(None)` when it does not exist.
pub(crate) fn read_in_root(root: &Path, path: &str) -> io::Result<Option<Vec<u8>>> {
    let resolved = resolve_in_root(root, path)?;
    if !resolved.missing.is_empty() {
        return Ok(None);
    }
    std::fs::read(root.join(&resolved.existing)).map(Some)
}

/// Normal and `..` components of a path as names; `/` and `.` are dropped.
fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

fn libc_eloop() -> i32 {
    rustix::io::Errno::LOOP.raw_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../../etc", r.join("usr/up")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        dir
    }

    #[test]
    fn existing_and_missing_parts() {
        let d = tree();
        let r = resolve_in_root(d.path(), "/lib/x/y").unwrap();
        assert_eq!(r.existing, PathBuf::from("usr/lib"));
        assert_eq!(r.missing, vec![OsString::from("x"), OsString::from("y")]);
    }

    #[test]
    fn absolute_symlink_stays_inside_root() {
        let d = tree();
        let r = resolve_in_root(d.path(), "/abs/passwd").unwrap();
        assert_eq!(r.existing, PathBuf::from("etc/passwd"));
        assert!(r.missing.is_empty());
        let r = resolve_in_root(d.path(), "/usr/up/passwd").unwrap();
        assert_eq!(r.existing, PathBuf::from("etc/passwd"));
        let r = resolve_in_root(d.path(), "/../../etc/../../etc/passwd").unwrap();
        assert_eq!(r.existing, PathBuf::from("etc/passwd"));
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let d = tree();
        let err = resolve_in_root(d.path(), "/loop1/x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc_eloop()));
    }

    #[test]
    fn mkdir_all_creates_only_missing_dirs() {
        let d = tree();
        let created = mkdir_all_in_root(d.path(), "/lib/a/b", 0o755).unwrap();
        assert_eq!(
            created,
            vec![PathBuf::from("usr/lib/a"), PathBuf::from("usr/lib/a/b")]
        );
        assert!(d.path().join("usr/lib/a/b").is_dir());
        assert!(mkdir_all_in_root(d.path(), "/lib/a/b", 0o755)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn read_in_root_follows_confined_links() {
        let d = tree();
        let data = read_in_root(d.path(), "/abs/passwd").unwrap().unwrap();
        assert!(data.starts_with(b"root:"));
        assert!(read_in_root(d.path(), "/etc/group").unwrap().is_none());
    }
}
