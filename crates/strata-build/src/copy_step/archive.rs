//! ADD's local archives: detection and safe extraction.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use filetime::FileTime;

use super::clean_rel;
use crate::error::{BuildError, Result};

/// Whether `path` is a tar (plain, gzip or zstd) that ADD extracts.
pub(super) fn is_archive(path: &Path) -> bool {
    let mut head = [0u8; 512];
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    if n >= 4 && (head[..2] == [0x1f, 0x8b] || head[..4] == [0x28, 0xb5, 0x2f, 0xfd]) {
        return true;
    }
    n >= 262 && &head[257..262] == b"ustar"
}

/// ADD's archive extraction: a plain, gzip or zstd tar unpacked under `dest` (refusing
/// entries that would leave it). Entries keep the archive's owners unless `--chown` gave
/// `owner`, which applies to everything ADD creates, extracted entries included.
pub(super) fn unpack_archive(archive: &Path, dest: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    fs::create_dir_all(dest)?;
    let file = fs::File::open(archive)?;
    let reader = strata_layer::decompress(file, None)
        .map_err(|e| BuildError::internal(format!("{}: {e}", archive.display())))?;
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_preserve_ownerships(true);
    ar.set_unpack_xattrs(false);
    let bad = |e: std::io::Error| {
        BuildError::internal(format!("cannot extract {}: {e}", archive.display()))
    };
    let mut dirs: Vec<(PathBuf, tar::Header)> = Vec::new();
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let rel = clean_rel(&entry.path().map_err(bad)?.to_string_lossy());
        // `unpack_in` refuses paths that would leave `dest` (it returns false for them).
        if !entry.unpack_in(dest).map_err(bad)? || rel.is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::lchown(&target, Some(uid), Some(gid))?;
            // chown cleared setuid/setgid: put the archive's mode back.
            let mode = entry.header().mode().map_err(bad)? & 0o7777;
            if mode & 0o6000 != 0 && !entry.header().entry_type().is_symlink() {
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
            }
        }
        if entry.header().entry_type().is_dir() {
            dirs.push((target, entry.header().clone()));
        }
    }
    // Directory mtimes last: extracting their contents changed them.
    for (dir, header) in dirs.iter().rev() {
        if let Ok(t) = header.mtime() {
            let t = FileTime::from_unix_time(t as i64, 0);
            filetime::set_symlink_file_times(dir, t, t)?;
        }
    }
    Ok(())
}
