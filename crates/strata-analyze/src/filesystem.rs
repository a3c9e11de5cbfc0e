//! The merged filesystem of an image with OCI semantics (whiteouts delete from the layers
//! below, opaque directories hide their lower contents, a non-directory replacing a
//! directory replaces its subtree), and what each layer changed in it.
//!
//! Only metadata is kept per path (type, size, mode, owner, link, content digest), so
//! memory follows the number of paths, not the bytes in the image.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scan::{FileKind, LayerEntry, LayerScan};

/// How many biggest files and directories a layer summary keeps.
pub const BIGGEST: usize = 5;
/// Directories deeper than this are folded into their ancestor for the biggest-directory
/// list, so it names useful places (`usr/share/doc`) rather than one leaf directory.
const DIR_DEPTH: usize = 3;

/// One path of the merged filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileMeta {
    pub kind: FileKind,
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub link: String,
    /// sha256 of a regular file's contents, hex, when the layers were scanned with hashing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Index of the layer that last wrote this path.
    pub layer: usize,
}

impl FileMeta {
    fn of(e: &LayerEntry, layer: usize) -> Self {
        FileMeta {
            kind: e.kind,
            size: e.size,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            link: e.link.clone(),
            digest: e.digest.map(hex::encode),
            layer,
        }
    }

    /// Same type, content and metadata (ignoring which layer wrote it).
    pub fn same_as(&self, other: &FileMeta) -> bool {
        self.kind == other.kind
            && self.size == other.size
            && self.mode == other.mode
            && self.uid == other.uid
            && self.gid == other.gid
            && self.link == other.link
            && self.digest == other.digest
    }
}

/// A path and a byte count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SizedPath {
    pub path: String,
    pub size: u64,
}

/// What one layer did to the filesystem below it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LayerChanges {
    /// Paths that did not exist below.
    pub added: u64,
    /// Paths that existed below and were written again (directories only when their mode or
    /// owner changed, since tars list every parent directory again).
    pub modified: u64,
    /// Paths deleted by whiteouts, opaque directories or replaced directories.
    pub removed: u64,
    pub biggest_files: Vec<SizedPath>,
    pub biggest_dirs: Vec<SizedPath>,
}

/// The merged filesystem, paths relative (`etc/passwd`).
#[derive(Debug, Clone, Default)]
pub struct Filesystem {
    files: BTreeMap<String, FileMeta>,
}

impl Filesystem {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, path: &str) -> Option<&FileMeta> {
        self.files.get(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &FileMeta)> {
        self.files.iter()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Remove `path` and everything below it; returns how many paths went.
    fn remove_tree(&mut self, path: &str) -> u64 {
        let mut n = u64::from(self.files.remove(path).is_some());
        n += self.remove_children(path);
        n
    }

    /// Remove everything below `dir` (`""`: the root); returns how many paths went.
    fn remove_children(&mut self, dir: &str) -> u64 {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &doomed {
            self.files.remove(k);
        }
        doomed.len() as u64
    }

    /// Apply one layer (index `layer`) and report what it changed. Deletions apply to the
    /// layers below only: they run before the layer's own entries are added.
    pub fn apply(&mut self, layer: usize, scan: &LayerScan) -> LayerChanges {
        let mut changes = LayerChanges::default();
        for e in &scan.entries {
            if let Some(dir) = e.opaque_dir() {
                changes.removed += self.remove_children(dir);
            } else if let Some(target) = e.whiteout_target() {
                changes.removed += self.remove_tree(&target);
            }
        }
        let mut files: Vec<SizedPath> = Vec::new();
        let mut dirs: BTreeMap<String, u64> = BTreeMap::new();
        for e in &scan.entries {
            if e.opaque_dir().is_some() || e.whiteout_target().is_some() {
                continue;
            }
            let meta = FileMeta::of(e, layer);
            match self.files.get(&e.path) {
                None => changes.added += 1,
                Some(old) => {
                    if old.kind == FileKind::Dir && meta.kind != FileKind::Dir {
                        changes.removed += self.remove_children(&e.path);
                        changes.modified += 1;
                    } else if meta.kind != FileKind::Dir
                        || old.kind != FileKind::Dir
                        || old.mode != meta.mode
                        || old.uid != meta.uid
                        || old.gid != meta.gid
                    {
                        changes.modified += 1;
                    }
                }
            }
            if e.kind == FileKind::File {
                files.push(SizedPath {
                    path: e.path.clone(),
                    size: e.size,
                });
                let parts: Vec<&str> = e.path.split('/').collect();
                for depth in 1..parts.len().min(DIR_DEPTH + 1) {
                    *dirs.entry(parts[..depth].join("/")).or_default() += e.size;
                }
            }
            self.files.insert(e.path.clone(), meta);
        }
        changes.biggest_files = top(files);
        changes.biggest_dirs = top(dirs
            .into_iter()
            .map(|(path, size)| SizedPath { path, size })
            .collect());
        changes
    }
}

fn top(mut items: Vec<SizedPath>) -> Vec<SizedPath> {
    items.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    items.truncate(BIGGEST);
    items.retain(|i| i.size > 0);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, kind: FileKind, size: u64) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            kind,
            typeflag: b'0',
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            link: String::new(),
            digest: None,
        }
    }

    fn scan(entries: Vec<LayerEntry>) -> LayerScan {
        LayerScan {
            size: entries.iter().map(|e| e.size).sum(),
            entries,
        }
    }

    #[test]
    fn whiteouts_opaque_dirs_and_replacements_follow_oci_semantics() {
        let mut fs = Filesystem::new();
        let c0 = fs.apply(
            0,
            &scan(vec![
                e("d", FileKind::Dir, 0),
                e("d/a", FileKind::File, 10),
                e("d/b", FileKind::File, 20),
                e("o", FileKind::Dir, 0),
                e("o/old", FileKind::File, 5),
                e("r", FileKind::Dir, 0),
                e("r/x", FileKind::File, 1),
            ]),
        );
        assert_eq!((c0.added, c0.modified, c0.removed), (7, 0, 0));
        assert_eq!(c0.biggest_files[0].path, "d/b");
        assert_eq!(
            c0.biggest_dirs[0],
            SizedPath {
                path: "d".into(),
                size: 30
            }
        );
        let c1 = fs.apply(
            1,
            &scan(vec![
                e("d", FileKind::Dir, 0),
                e("d/.wh.a", FileKind::File, 0),
                e("d/b", FileKind::File, 21),
                e("o", FileKind::Dir, 0),
                e("o/.wh..wh..opq", FileKind::File, 0),
                e("o/new", FileKind::File, 3),
                e("r", FileKind::File, 9),
            ]),
        );
        // removed: d/a, o/old, r/x; modified: d/b, r (dir → file); added: o/new.
        assert_eq!((c1.added, c1.modified, c1.removed), (1, 2, 3));
        let paths: Vec<&String> = fs.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, vec!["d", "d/b", "o", "o/new", "r"]);
        assert_eq!(fs.get("d/b").unwrap().layer, 1);
    }
}
