//! ADD's local archives: telling a tar from other files, and unpacking one through
//! strata-layer's hardened reader and applier (the one path every untrusted tar takes).

use std::fs;
use std::path::Path;

use crate::error::{BuildError, Result};

/// Whether ADD unpacks `path`: a tar in any dialect (v7 included, which has no magic: the
/// header checksum decides), plain or gzip/zstd compressed. A compressed file that is not a
/// tar is copied as it is, as docker does.
pub(crate) fn is_archive(path: &Path) -> bool {
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
pub(crate) fn unpack_archive(archive: &Path, dest: &Path) -> Result<()> {
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
    Ok(())
}
