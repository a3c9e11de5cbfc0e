//! A layer's size as docker reports it (`docker images`, `history`, `inspect .Size`): the
//! sum of the sizes of the non-directory entries of the unpacked layer, each inode counted
//! once. Docker's layer store takes this number from a walk of the layer's diff directory
//! after unpacking it (`lstat` sizes, so a symlink counts the length of its target, a
//! whiteout device or an empty file nothing); tar headers, padding and directory entries
//! never count, so an 11-byte file written by RUN makes an `11B` layer and a WORKDIR `0B`.
//!
//! Two ways to the same number: [`tar_content_size`] reads the layer tar (a hard-link
//! member names an inode counted already), [`dir_content_size`] walks an unpacked layer.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::tar_read::{TarKind, TarReader};

/// docker's size of the layer whose (uncompressed) tar is `tar`.
pub fn tar_content_size<R: Read>(tar: R) -> Result<u64> {
    tar_entries_size(&mut TarReader::new(tar))
}

/// [`tar_content_size`] over a reader the caller keeps (to drain or verify what follows the
/// end-of-archive marker).
pub fn tar_entries_size<R: Read>(reader: &mut TarReader<R>) -> Result<u64> {
    let mut total = 0u64;
    while let Some(h) = reader.next_header()? {
        total += match h.kind {
            TarKind::File | TarKind::Other(_) => h.size,
            TarKind::Symlink => h.link.len() as u64,
            TarKind::HardLink | TarKind::Dir | TarKind::Char | TarKind::Block | TarKind::Fifo => 0,
        };
    }
    Ok(total)
}

/// docker's size of the layer unpacked at `root` (not `root` itself): `lstat` sizes of
/// everything but directories, hard-linked inodes once.
pub fn dir_content_size(root: &Path) -> Result<u64> {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            if meta.len() == 0 || !seen.insert((meta.dev(), meta.ino())) {
                continue;
            }
            total += meta.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{write_tree, WriteOptions};

    #[test]
    fn tar_and_directory_agree_and_count_like_docker() {
        let tmp = std::env::temp_dir().join(format!("strata-csize-{}", std::process::id()));
        let root = tmp.join("root");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/eleven"), b"hello world").unwrap();
        std::fs::write(root.join("empty"), b"").unwrap();
        std::fs::hard_link(root.join("d/eleven"), root.join("link")).unwrap();
        std::os::unix::fs::symlink("d/eleven", root.join("sym")).unwrap();
        // 11 bytes of content once (hard link), 8 for the symlink target, nothing else.
        assert_eq!(dir_content_size(&root).unwrap(), 19);
        let mut tar = Vec::new();
        write_tree(&root, &mut tar, &WriteOptions::default()).unwrap();
        assert_eq!(tar_content_size(&tar[..]).unwrap(), 19);
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn an_empty_layer_is_zero() {
        let tar = [0u8; 1024];
        assert_eq!(tar_content_size(&tar[..]).unwrap(), 0);
    }
}
