//! Entry metadata: reading it from tar headers and PAX records, and setting it on disk
//! (ownership, mode, times, xattrs) through descriptors.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd};

use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid};

use crate::error::{Error, Result};
use crate::tar_read::TarHeader;

/// Metadata of one tar entry, PAX overrides applied.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: Timespec,
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// The metadata of `h`; overlayfs xattrs are refused because they would steer overlay
/// lookups once the tree is used as a lower directory.
pub(crate) fn meta_of(h: &TarHeader, with_xattrs: bool) -> Result<Meta> {
    if let Some(name) = h
        .xattrs
        .keys()
        .find(|k| k.starts_with("trusted.overlay.") || k.starts_with("user.overlay."))
    {
        return Err(Error::invalid(
            &h.path,
            format!("overlayfs xattr {name} in a layer"),
        ));
    }
    Ok(Meta {
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtime: Timespec {
            tv_sec: h.mtime,
            tv_nsec: h.mtime_nsec as _,
        },
        xattrs: if with_xattrs {
            h.xattrs.clone()
        } else {
            BTreeMap::new()
        },
    })
}

pub(crate) fn times(t: Timespec) -> Timestamps {
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

pub(crate) fn ids(m: &Meta, raw: &[u8]) -> Result<(Uid, Gid)> {
    let uid = u32::try_from(m.uid).map_err(|_| Error::invalid(raw, "uid out of range"))?;
    let gid = u32::try_from(m.gid).map_err(|_| Error::invalid(raw, "gid out of range"))?;
    Ok((Uid::from_raw(uid), Gid::from_raw(gid)))
}

pub(crate) fn mode(m: &Meta) -> Mode {
    Mode::from_raw_mode(m.mode)
}

/// Set xattrs on an open file or directory.
pub(crate) fn set_xattrs_fd(fd: impl AsFd, m: &Meta, raw: &[u8]) -> Result<()> {
    for (name, value) in &m.xattrs {
        rustix::fs::fsetxattr(&fd, name.as_str(), value, rustix::fs::XattrFlags::empty())
            .map_err(|e| xattr_err(raw, name, e))?;
    }
    Ok(())
}

/// Set xattrs on `name` in `dir` without following it (symlinks, device nodes).
pub(crate) fn set_xattrs_at(dir: impl AsFd, name: &[u8], m: &Meta, raw: &[u8]) -> Result<()> {
    if m.xattrs.is_empty() {
        return Ok(());
    }
    // There is no lsetxattrat: address the entry through the directory descriptor's
    // /proc link, which pins the already-verified directory.
    let mut path = format!("/proc/self/fd/{}/", dir.as_fd().as_raw_fd()).into_bytes();
    path.extend_from_slice(name);
    for (key, value) in &m.xattrs {
        rustix::fs::lsetxattr(
            path.as_slice(),
            key.as_str(),
            value,
            rustix::fs::XattrFlags::empty(),
        )
        .map_err(|e| xattr_err(raw, key, e))?;
    }
    Ok(())
}

fn xattr_err(raw: &[u8], name: &str, e: rustix::io::Errno) -> Error {
    if e == rustix::io::Errno::PERM
        || e == rustix::io::Errno::NOTSUP
        || e == rustix::io::Errno::ACCESS
    {
        Error::NotPermitted {
            entry: crate::error::display_name(raw),
            message: format!(
                "cannot set xattr {name}: {e} (apply with xattrs disabled to skip them)"
            ),
        }
    } else {
        Error::invalid(raw, format!("cannot set xattr {name}: {e}"))
    }
}

fn set_err(raw: &[u8], what: &str, e: rustix::io::Errno) -> Error {
    if e == rustix::io::Errno::PERM {
        Error::NotPermitted {
            entry: crate::error::display_name(raw),
            message: format!("cannot set {what}: {e}"),
        }
    } else {
        let source = std::io::Error::from_raw_os_error(e.raw_os_error());
        Error::io(
            crate::error::display_name(raw),
            std::io::Error::new(source.kind(), format!("cannot set {what}: {source}")),
        )
    }
}

/// chown, xattrs, chmod, utimes on `name` in `dir` without following symlinks (chmod is
/// skipped for symlinks, whose mode Linux ignores). The order matters: chown drops
/// `security.capability` and setuid bits, so xattrs and mode come after it.
pub(crate) fn set_at(
    dir: impl AsFd,
    name: &[u8],
    m: &Meta,
    raw: &[u8],
    chown: bool,
    symlink: bool,
) -> Result<()> {
    let fail = |what: &str, e: rustix::io::Errno| set_err(raw, what, e);
    if chown {
        let (u, g) = ids(m, raw)?;
        rustix::fs::chownat(&dir, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| fail("owner", e))?;
    }
    set_xattrs_at(&dir, name, m, raw)?;
    if !symlink {
        rustix::fs::chmodat(&dir, name, mode(m), AtFlags::empty()).map_err(|e| fail("mode", e))?;
    }
    rustix::fs::utimensat(&dir, name, &times(m.mtime), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| fail("mtime", e))?;
    Ok(())
}

/// chown, xattrs, chmod, utimes on an open file or directory (order as for [`set_at`]).
pub(crate) fn set_fd(fd: impl AsFd, m: &Meta, raw: &[u8], chown: bool) -> Result<()> {
    let fail = |what: &str, e: rustix::io::Errno| set_err(raw, what, e);
    if chown {
        let (u, g) = ids(m, raw)?;
        rustix::fs::fchown(&fd, Some(u), Some(g)).map_err(|e| fail("owner", e))?;
    }
    set_xattrs_fd(&fd, m, raw)?;
    rustix::fs::fchmod(&fd, mode(m)).map_err(|e| fail("mode", e))?;
    rustix::fs::futimens(&fd, &times(m.mtime)).map_err(|e| fail("mtime", e))?;
    Ok(())
}
