//! ADD's local archives: detection and safe extraction.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::{BuildError, Result};

/// Whether ADD unpacks `path`: a tar in any dialect (v7 included, which has no magic: the
/// header checksum decides), plain or gzip/zstd compressed. A compressed file that is not a
/// tar is copied as it is, as docker does.
pub(super) fn is_archive(path: &Path) -> bool {
    let Ok(file) = strata_layer::open_regular(path) else {
        return false;
    };
    let Ok(mut plain) = strata_layer::decompress(file, None) else {
        return false;
    };
    let mut head = [0u8; 512];
    std::io::Read::read_exact(&mut plain, &mut head).is_ok()
        && strata_layer::tar_read::is_tar_header(&head)
}

/// ADD's archive extraction: a plain, gzip or zstd tar unpacked under `dest` through
/// strata-layer's hardened reader and applier. An entry that would leave `dest` (`..`, a
/// hard link out of it) fails the step with the entry named, as docker refuses it; symlinks
/// the archive plants are followed inside `dest` only, as docker's chrooted unpack does.
/// Entries keep the archive's owners unless `--chown` gave `owner`, which applies to
/// everything ADD creates, extracted entries included.
pub(super) fn unpack_archive(archive: &Path, dest: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    fs::create_dir_all(dest)?;
    let file = fs::File::open(archive)?;
    let opts = strata_layer::ApplyOptions {
        // Not a layer: `.wh.*` entries are files like any other.
        whiteouts: strata_layer::WhiteoutMode::Literal,
        symlinks: strata_layer::SymlinkPolicy::FollowInRoot,
        // ADD keeps the archive's owners (when running as root), as docker does.
        ownership: strata_layer::Ownership::Auto,
        xattrs: false,
        ..Default::default()
    };
    strata_layer::apply_layer(
        std::io::BufReader::with_capacity(1 << 20, file),
        dest,
        &opts,
    )
    .map_err(|e| BuildError::internal(format!("cannot extract {}: {e}", archive.display())))?;
    if let Some((uid, gid)) = owner {
        chown_tree(dest, uid, gid)?;
    }
    Ok(())
}

/// `lchown` everything under `dir` (not `dir` itself: its owner is decided by the caller),
/// putting back setuid/setgid bits that chown clears.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry.map_err(|e| BuildError::internal(format!("{}: {e}", dir.display())))?;
        let meta = entry.path().symlink_metadata()?;
        std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid))?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o6000 != 0 && !meta.file_type().is_symlink() {
            fs::set_permissions(entry.path(), fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}
