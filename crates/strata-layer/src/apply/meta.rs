//! Entry metadata: reading it from tar headers and PAX records, and setting it on disk
//! (ownership, mode, times, xattrs) through descriptors.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};

use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid};

use crate::error::{Error, Result};

/// Metadata of one tar entry, PAX overrides applied.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: Timespec,
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

pub(crate) fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>, raw: &[u8]) -> Result<Meta> {
    let h = entry.header();
    let bad = |what: &str, e: std::io::Error| Error::invalid(raw, format!("bad {what}: {e}"));
    let mode = h.mode().map_err(|e| bad("mode", e))? & 0o7777;
    let uid = h.uid().map_err(|e| bad("uid", e))?;
    let gid = h.gid().map_err(|e| bad("gid", e))?;
    let mut mtime = Timespec { tv_sec: h.mtime().map_err(|e| bad("mtime", e))? as i64, tv_nsec: 0 };
    let mut xattrs = BTreeMap::new();
    if let Some(pax) = entry.pax_extensions().map_err(|e| bad("pax header", e))? {
        for rec in pax {
            let rec = rec.map_err(|e| bad("pax record", e))?;
            let key = rec.key_bytes();
            if key == b"mtime" {
                mtime = parse_pax_time(rec.value_bytes())
                    .ok_or_else(|| Error::invalid(raw, "bad pax mtime"))?;
            } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                let name = std::str::from_utf8(name)
                    .map_err(|_| Error::invalid(raw, "non-UTF-8 xattr name"))?;
                if name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") {
                    // These steer overlayfs lookups of the unpacked tree; a layer may not set them.
                    return Err(Error::invalid(raw, format!("overlayfs xattr {name} in a layer")));
                }
                xattrs.insert(name.to_owned(), rec.value_bytes().to_vec());
            } else if key.starts_with(b"GNU.sparse.") {
                return Err(Error::Unsupported {
                    what: format!("PAX sparse file entry {:?}", crate::error::display_name(raw)),
                });
            }
            // Other keys (atime, ctime, comments, vendor records) carry nothing a root
            // filesystem keeps; path, linkpath, size, uid and gid the tar reader applied.
        }
    }
    Ok(Meta { mode, uid, gid, mtime, xattrs })
}

/// `"<seconds>[.<fraction>]"`, seconds possibly negative.
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?;
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = sec.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut tv_nsec: i64 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    for _ in digits.len()..9 {
        tv_nsec *= 10;
    }
    if sec.starts_with('-') && tv_nsec > 0 {
        // -1.5 is 1.5 s before the epoch: -2 s + 0.5 s.
        return Some(Timespec { tv_sec: tv_sec - 1, tv_nsec: 1_000_000_000 - tv_nsec });
    }
    Some(Timespec { tv_sec, tv_nsec })
}

pub(crate) fn times(t: Timespec) -> Timestamps {
    Timestamps { last_access: t, last_modification: t }
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
        rustix::fs::lsetxattr(path.as_slice(), key.as_str(), value, rustix::fs::XattrFlags::empty())
            .map_err(|e| xattr_err(raw, key, e))?;
    }
    Ok(())
}

fn xattr_err(raw: &[u8], name: &str, e: rustix::io::Errno) -> Error {
    if e == rustix::io::Errno::PERM || e == rustix::io::Errno::NOTSUP || e == rustix::io::Errno::ACCESS {
        Error::NotPermitted {
            entry: crate::error::display_name(raw),
            message: format!("cannot set xattr {name}: {e} (apply with xattrs disabled to skip them)"),
        }
    } else {
        Error::invalid(raw, format!("cannot set xattr {name}: {e}"))
    }
}

/// chown + chmod + utimes on `name` in `dir` without following symlinks (chmod is skipped
/// for symlinks, whose mode Linux ignores).
pub(crate) fn set_at(
    dir: impl AsFd,
    name: &[u8],
    m: &Meta,
    raw: &[u8],
    chown: bool,
    symlink: bool,
) -> Result<()> {
    let fail = |what: &str, e: rustix::io::Errno| Error::invalid(raw, format!("cannot set {what}: {e}"));
    if chown {
        let (u, g) = ids(m, raw)?;
        rustix::fs::chownat(&dir, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| fail("owner", e))?;
    }
    if !symlink {
        rustix::fs::chmodat(&dir, name, mode(m), AtFlags::empty()).map_err(|e| fail("mode", e))?;
    }
    rustix::fs::utimensat(&dir, name, &times(m.mtime), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| fail("mtime", e))?;
    Ok(())
}

/// chown + chmod + utimes on an open file or directory.
pub(crate) fn set_fd(fd: impl AsFd, m: &Meta, raw: &[u8], chown: bool) -> Result<()> {
    let fail = |what: &str, e: rustix::io::Errno| Error::invalid(raw, format!("cannot set {what}: {e}"));
    if chown {
        let (u, g) = ids(m, raw)?;
        rustix::fs::fchown(&fd, Some(u), Some(g)).map_err(|e| fail("owner", e))?;
    }
    // After chown, which clears setuid/setgid bits.
    rustix::fs::fchmod(&fd, mode(m)).map_err(|e| fail("mode", e))?;
    rustix::fs::futimens(&fd, &times(m.mtime)).map_err(|e| fail("mtime", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        let t = |s: &str| parse_pax_time(s.as_bytes()).map(|t| (t.tv_sec, t.tv_nsec));
        assert_eq!(t("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(t("1.5"), Some((1, 500_000_000)));
        assert_eq!(t("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(t("12.1234567891"), Some((12, 123_456_789)));
        assert_eq!(t("x"), None);
    }
}
