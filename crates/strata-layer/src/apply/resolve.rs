//! Turning tar paths into locations under the root without ever leaving it.
//!
//! Entry names are cleaned lexically (leading `/` and `.` dropped, `..` popped, popping past
//! the root refused), then directories are opened one component at a time relative to a
//! file descriptor of the root with `O_NOFOLLOW`, so neither a symlink planted by an earlier
//! entry or layer nor a concurrent rename can redirect a write. All later operations are
//! `*at` calls on the returned directory descriptor.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use crate::error::{Error, Result};

/// Longest single name Linux accepts.
const NAME_MAX: usize = 255;
/// Longest path Linux accepts.
const PATH_MAX: usize = 4095;

/// What to do with a symlink in the parent path of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SymlinkPolicy {
    /// Refuse the entry (the default): a layer never writes through a symlink.
    #[default]
    Refuse,
    /// Resolve the symlink as if the root were `/` (docker's chrooted unpack): `bin/sh`
    /// under `bin -> usr/bin` lands in `usr/bin/sh`, and `/` or `..` targets cannot climb
    /// out of the root.
    FollowInRoot,
}

/// A cleaned, relative entry path as its components.
pub(crate) fn clean(raw: &[u8]) -> Result<Vec<&[u8]>> {
    if raw.contains(&0) {
        return Err(Error::invalid(raw, "NUL byte in path"));
    }
    let mut comps: Vec<&[u8]> = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if comps.pop().is_none() {
                    return Err(Error::escape(raw, "'..' climbs above the root"));
                }
            }
            _ if c.len() > NAME_MAX => {
                return Err(Error::invalid(
                    raw,
                    format!("a path component is longer than {NAME_MAX} bytes"),
                ));
            }
            _ => comps.push(c),
        }
    }
    if comps.iter().map(|c| c.len() + 1).sum::<usize>() > PATH_MAX {
        return Err(Error::invalid(
            raw,
            format!("path is longer than {PATH_MAX} bytes"),
        ));
    }
    Ok(comps)
}

pub(crate) fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// Opens directories under a root by descriptor.
pub(crate) struct Resolver {
    pub root: OwnedFd,
    pub root_path: std::path::PathBuf,
    pub policy: SymlinkPolicy,
}

impl Resolver {
    fn io_err(&self, comps: &[&[u8]], e: rustix::io::Errno) -> Error {
        let rel = String::from_utf8_lossy(&join(comps)).into_owned();
        Error::io(self.root_path.join(rel), errno(e))
    }

    /// Open the directory `comps` (relative to the root). With `create`, missing directories
    /// are made (mode 0755, like docker) and reported through `created`; without it a
    /// missing directory gives `Ok(None)`. `entry` names the tar entry in errors.
    pub fn open_dir(
        &self,
        entry: &[u8],
        comps: &[&[u8]],
        create: bool,
        mut created: impl FnMut(&[&[u8]]),
    ) -> Result<Option<OwnedFd>> {
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut cur = rustix::io::dup(&self.root).map_err(|e| self.io_err(&[], e))?;
        for (i, comp) in comps.iter().enumerate() {
            let prefix = &comps[..=i];
            match rustix::fs::openat(&cur, *comp, dir_flags, Mode::empty()) {
                Ok(fd) => cur = fd,
                Err(rustix::io::Errno::NOENT) if !create => return Ok(None),
                Err(rustix::io::Errno::NOENT) => {
                    match rustix::fs::mkdirat(&cur, *comp, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(self.io_err(prefix, e)),
                    }
                    created(prefix);
                    cur = rustix::fs::openat(&cur, *comp, dir_flags, Mode::empty())
                        .map_err(|e| self.io_err(prefix, e))?;
                }
                // ELOOP: the component is a symlink; ENOTDIR: it is something else.
                Err(e @ (rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)) => {
                    let st = rustix::fs::statat(&cur, *comp, AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| self.io_err(prefix, e))?;
                    if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
                        return Err(Error::invalid(
                            entry,
                            format!(
                                "parent {:?} is not a directory",
                                String::from_utf8_lossy(&join(prefix))
                            ),
                        ));
                    }
                    if self.policy == SymlinkPolicy::Refuse {
                        return Err(Error::escape(
                            entry,
                            format!(
                                "parent {:?} is a symlink",
                                String::from_utf8_lossy(&join(prefix))
                            ),
                        ));
                    }
                    // Resolve the whole prefix with the root as "/", in the kernel.
                    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
                    cur = match rustix::fs::openat2(
                        &self.root,
                        join(prefix),
                        dir_flags & !OFlags::NOFOLLOW,
                        Mode::empty(),
                        how,
                    ) {
                        Ok(fd) => fd,
                        Err(rustix::io::Errno::NOENT) if !create => return Ok(None),
                        Err(rustix::io::Errno::NOENT) => {
                            return Err(Error::invalid(
                                entry,
                                format!(
                                    "parent symlink {:?} points to nothing",
                                    String::from_utf8_lossy(&join(prefix))
                                ),
                            ))
                        }
                        Err(_) => return Err(self.io_err(prefix, e)),
                    };
                }
                Err(e) => return Err(self.io_err(prefix, e)),
            }
        }
        Ok(Some(cur))
    }

    /// The type of `name` in `dir`, not following symlinks; `None` when absent.
    pub fn file_type(
        &self,
        dir: impl AsFd,
        comps: &[&[u8]],
        name: &[u8],
    ) -> Result<Option<FileType>> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(self.io_err(comps, e)),
        }
    }

    /// Remove `name` in `dir` and, if it is a directory, everything below it, never
    /// following symlinks. Absent is fine.
    pub fn remove_all(&self, dir: impl AsFd, comps: &[&[u8]], name: &[u8]) -> Result<()> {
        remove_all_at(dir.as_fd(), name).map_err(|e| self.io_err(comps, e))
    }
}

fn remove_all_at(dir: std::os::fd::BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<()> {
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return rustix::fs::unlinkat(dir, name, AtFlags::empty());
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    for child in list_dir(&fd)? {
        remove_all_at(fd.as_fd(), &child)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)
}

/// Names in a directory, without `.` and `..`.
pub(crate) fn list_dir(fd: &OwnedFd) -> rustix::io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for item in rustix::fs::Dir::read_from(fd)? {
        let name = item?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_lexically_and_refuses_escapes() {
        let ok: &[(&[u8], &[u8])] = &[
            (b"/etc/x", b"etc/x"),
            (b"./a//b/./c", b"a/b/c"),
            (b"a/../b", b"b"),
            (b"./", b""),
        ];
        for (raw, want) in ok {
            assert_eq!(join(&clean(raw).unwrap()), *want);
        }
        for raw in [&b"../x"[..], b"a/../../x", b"/../x", b"./.."] {
            let err = clean(raw).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::PathEscape, "{err}");
        }
        assert_eq!(
            clean(&[b'a'; 300]).unwrap_err().kind(),
            crate::ErrorKind::InvalidTar
        );
    }
}
