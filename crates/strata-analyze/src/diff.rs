//! File-level difference between two merged filesystems (`strata image diff A B`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::filesystem::{FileMeta, Filesystem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Removed => 'D',
            ChangeKind::Changed => 'M',
        }
    }
}

/// One path that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathChange {
    pub path: String,
    pub kind: ChangeKind,
    /// What differs for a changed path: `type`, `size`, `mode`, `owner`, `content`, `link`.
    pub fields: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<FileMeta>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<FileMeta>,
}

/// Counts per directory (the changed path's parent, at most two levels deep).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirSummary {
    pub dir: String,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    /// Bytes after minus bytes before, over the paths counted here.
    pub size_delta: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageDiff {
    pub changes: Vec<PathChange>,
    pub directories: Vec<DirSummary>,
}

impl ImageDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

fn fields(a: &FileMeta, b: &FileMeta) -> Vec<&'static str> {
    let mut f = Vec::new();
    if a.kind != b.kind {
        f.push("type");
    }
    if a.size != b.size {
        f.push("size");
    }
    if a.mode != b.mode {
        f.push("mode");
    }
    if a.uid != b.uid || a.gid != b.gid {
        f.push("owner");
    }
    if a.digest != b.digest {
        f.push("content");
    }
    if a.link != b.link {
        f.push("link");
    }
    f
}

/// Every path added, removed or changed from `a` to `b`, sorted by path.
pub fn diff(a: &Filesystem, b: &Filesystem) -> ImageDiff {
    let mut changes = Vec::new();
    let mut ia = a.iter().peekable();
    let mut ib = b.iter().peekable();
    loop {
        let next = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((pa, _)), Some((pb, _))) => pa.cmp(pb),
        };
        match next {
            std::cmp::Ordering::Less => {
                let (p, m) = ia.next().expect("peeked");
                changes.push(PathChange {
                    path: p.clone(),
                    kind: ChangeKind::Removed,
                    fields: vec![],
                    before: Some(m.clone()),
                    after: None,
                });
            }
            std::cmp::Ordering::Greater => {
                let (p, m) = ib.next().expect("peeked");
                changes.push(PathChange {
                    path: p.clone(),
                    kind: ChangeKind::Added,
                    fields: vec![],
                    before: None,
                    after: Some(m.clone()),
                });
            }
            std::cmp::Ordering::Equal => {
                let (p, ma) = ia.next().expect("peeked");
                let (_, mb) = ib.next().expect("peeked");
                let f = fields(ma, mb);
                if !f.is_empty() {
                    changes.push(PathChange {
                        path: p.clone(),
                        kind: ChangeKind::Changed,
                        fields: f,
                        before: Some(ma.clone()),
                        after: Some(mb.clone()),
                    });
                }
            }
        }
    }
    let mut dirs: BTreeMap<String, DirSummary> = BTreeMap::new();
    for c in &changes {
        let parent = c.path.rsplit_once('/').map_or("", |(p, _)| p);
        let dir: Vec<&str> = parent
            .split('/')
            .filter(|s| !s.is_empty())
            .take(2)
            .collect();
        let dir = format!("/{}", dir.join("/"));
        let s = dirs.entry(dir.clone()).or_insert_with(|| DirSummary {
            dir,
            ..Default::default()
        });
        match c.kind {
            ChangeKind::Added => s.added += 1,
            ChangeKind::Removed => s.removed += 1,
            ChangeKind::Changed => s.changed += 1,
        }
        let before = c.before.as_ref().map_or(0, |m| m.size as i64);
        let after = c.after.as_ref().map_or(0, |m| m.size as i64);
        s.size_delta += after - before;
    }
    ImageDiff {
        changes,
        directories: dirs.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{FileKind, LayerEntry, LayerScan};

    fn file(path: &str, size: u64, digest: u8, uid: u64) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            kind: FileKind::File,
            typeflag: b'0',
            size,
            mode: 0o644,
            uid,
            gid: 0,
            link: String::new(),
            digest: Some([digest; 32]),
        }
    }

    fn fs(entries: Vec<LayerEntry>) -> Filesystem {
        let mut f = Filesystem::new();
        f.apply(0, &LayerScan { size: 0, entries });
        f
    }

    #[test]
    fn added_removed_and_changed_paths_with_what_changed() {
        let a = fs(vec![
            file("app/same", 3, 1, 0),
            file("app/content", 3, 1, 0),
            file("app/owner", 3, 1, 0),
            file("gone", 9, 1, 0),
        ]);
        let b = fs(vec![
            file("app/same", 3, 1, 0),
            file("app/content", 4, 2, 0),
            file("app/owner", 3, 1, 1000),
            file("app/new", 5, 3, 0),
        ]);
        let d = diff(&a, &b);
        let got: Vec<(&str, char, Vec<&str>)> = d
            .changes
            .iter()
            .map(|c| (c.path.as_str(), c.kind.letter(), c.fields.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("app/content", 'M', vec!["size", "content"]),
                ("app/new", 'A', vec![]),
                ("app/owner", 'M', vec!["owner"]),
                ("gone", 'D', vec![]),
            ]
        );
        assert_eq!(
            d.directories,
            vec![
                DirSummary {
                    dir: "/".into(),
                    added: 0,
                    removed: 1,
                    changed: 0,
                    size_delta: -9
                },
                DirSummary {
                    dir: "/app".into(),
                    added: 1,
                    removed: 0,
                    changed: 2,
                    size_delta: 6
                },
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }
}
