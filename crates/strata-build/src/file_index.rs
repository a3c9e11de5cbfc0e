//! The content index a COPY from the context leaves beside its snapshot, so the next build
//! of the same COPY can hard-link every file whose content and metadata did not change
//! instead of copying it again.
//!
//! On disk, `snapshots/<chain-id>/files-v1`: a sequence of records sorted by path, each
//! `u32 path length (little endian) | path bytes | 32 bytes sha256`, where the path is
//! relative to the snapshot root. The index is a hint: a missing, short or malformed file
//! means "reuse nothing", and every reuse is re-checked against the old file's metadata.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// File name of the index inside a snapshot directory.
pub const INDEX_FILE: &str = "files-v1";

/// Content digests of regular files in a snapshot, by path.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileIndex {
    /// Sorted by path, no duplicates.
    entries: Vec<(Box<str>, [u8; 32])>,
}

impl FileIndex {
    /// Build from unsorted `(path, digest)` pairs; a later duplicate path wins.
    pub fn from_pairs(mut pairs: Vec<(String, [u8; 32])>) -> Self {
        pairs.reverse();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|a, b| a.0 == b.0);
        FileIndex {
            entries: pairs
                .into_iter()
                .map(|(p, d)| (p.into_boxed_str(), d))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, path: &str) -> Option<&[u8; 32]> {
        self.entries
            .binary_search_by(|(p, _)| (**p).cmp(path))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Read an index; anything unreadable gives `None`.
    pub fn read(path: &Path) -> Option<Self> {
        let bytes = fs::read(path).ok()?;
        let mut rest = &bytes[..];
        let mut entries = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let name = std::str::from_utf8(rest.get(4..4 + len)?).ok()?;
            let digest: [u8; 32] = rest.get(4 + len..4 + len + 32)?.try_into().ok()?;
            if entries
                .last()
                .is_some_and(|(p, _): &(Box<str>, _)| **p >= *name)
            {
                return None;
            }
            entries.push((name.into(), digest));
            rest = &rest[4 + len + 32..];
        }
        Some(FileIndex { entries })
    }

    /// Write atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut out = io::BufWriter::new(fs::File::create(&tmp)?);
        for (p, d) in &self.entries {
            out.write_all(&(p.len() as u32).to_le_bytes())?;
            out.write_all(p.as_bytes())?;
            out.write_all(d)?;
        }
        out.into_inner().map_err(|e| e.into_error())?;
        fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let idx = FileIndex::from_pairs(vec![
            ("b/x".into(), [2; 32]),
            ("a".into(), [1; 32]),
            ("b/x".into(), [3; 32]),
        ]);
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.get("b/x"), Some(&[3; 32]), "the later duplicate wins");
        assert_eq!(idx.get("a"), Some(&[1; 32]));
        assert_eq!(idx.get("c"), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        idx.write(&path).unwrap();
        assert_eq!(FileIndex::read(&path), Some(idx));
        let mut bytes = fs::read(&path).unwrap();
        bytes.pop();
        fs::write(&path, &bytes).unwrap();
        assert_eq!(FileIndex::read(&path), None, "a truncated index is ignored");
    }
}
