//! The layer entry model shared by the writers: one [`Entry`] becomes one tar member.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a regular file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileData {
    /// Exactly `size` bytes read from `path` at write time; a file that shrank meanwhile is
    /// an error rather than a silently short layer.
    Path {
        path: PathBuf,
        size: u64,
    },
    Bytes(Vec<u8>),
}

impl FileData {
    pub fn size(&self) -> u64 {
        match self {
            FileData::Path { size, .. } => *size,
            FileData::Bytes(b) => b.len() as u64,
        }
    }
}

/// The type of a tar member and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File(FileData),
    Dir,
    /// Symlink target, verbatim.
    Symlink(Vec<u8>),
    /// Path (inside the layer) of an earlier entry this one is a hard link to.
    HardLink(Vec<u8>),
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Fifo,
}

/// One member of a layer tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the layer, relative, `/`-separated, without trailing slash.
    pub path: Vec<u8>,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the Unix epoch.
    pub mtime: i64,
    /// Extended attributes by full name (`user.foo`, `security.capability`).
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

impl Entry {
    /// An entry owned by root with mtime 0 and no xattrs.
    pub fn new(path: impl Into<Vec<u8>>, kind: EntryKind, mode: u32) -> Self {
        Entry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: BTreeMap::new(),
        }
    }
}

/// Layer order: paths compared component by component, each by bytes. This is a depth-first
/// walk with siblings sorted by name, so a directory always precedes its contents.
pub fn path_order(a: &[u8], b: &[u8]) -> Ordering {
    a.split(|&c| c == b'/').cmp(b.split(|&c| c == b'/'))
}

/// Sort entries into layer order (see [`path_order`]).
pub fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by(|a, b| path_order(&a.path, &b.path));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_precede_children_and_siblings_sort_by_bytes() {
        let mut paths: Vec<&[u8]> = vec![b"a.txt", b"a/b", b"a", b"B", b"a/a"];
        paths.sort_by(|a, b| path_order(a, b));
        assert_eq!(paths, vec![&b"B"[..], b"a", b"a/a", b"a/b", b"a.txt"]);
    }
}
