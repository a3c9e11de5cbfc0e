//! The explorer's model: for a selected layer, the file tree either of that layer's changes
//! alone or of the whole filesystem up to it, each path marked added / modified / removed,
//! with collapse and expand, a path filter, changes only and sort by size. The terminal UI
//! (in strata-cli) only draws [`TreeView::rows`] and forwards keys.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use crate::filesystem::Filesystem;
use crate::scan::{FileKind, LayerEntry};

/// What the selected layer did to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Unchanged,
    Added,
    Modified,
    Removed,
}

impl Mark {
    pub fn letter(self) -> char {
        match self {
            Mark::Unchanged => ' ',
            Mark::Added => 'A',
            Mark::Modified => 'M',
            Mark::Removed => 'D',
        }
    }
}

/// One path shown in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeItem {
    pub path: String,
    pub kind: FileKind,
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub link: String,
    pub mark: Mark,
    /// The layer whose tar holds this path's content (for viewing and extracting).
    pub layer: usize,
}

/// Layer-only ("changes in this layer") or aggregated ("everything up to here").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Layer,
    Aggregated,
}

/// The items of layer `index` in `scope`, given every layer's entries bottom up.
pub fn items_for(layers: &[Vec<LayerEntry>], index: usize, scope: Scope) -> Vec<TreeItem> {
    let mut below = Filesystem::new();
    for (i, entries) in layers.iter().enumerate().take(index) {
        below.apply(
            i,
            &crate::scan::LayerScan {
                entries: entries.clone(),
                size: 0,
            },
        );
    }
    let mut here = below.clone();
    let this = crate::scan::LayerScan {
        entries: layers[index].clone(),
        size: 0,
    };
    here.apply(index, &this);
    let mut items: BTreeMap<String, TreeItem> = BTreeMap::new();
    let item = |path: &str, m: &crate::filesystem::FileMeta, mark: Mark| TreeItem {
        path: path.to_owned(),
        kind: m.kind,
        size: m.size,
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
        link: m.link.clone(),
        mark,
        layer: m.layer,
    };
    // Removed: in `below`, not in `here`.
    for (p, m) in below.iter() {
        if here.get(p).is_none() {
            items.insert(p.clone(), item(p, m, Mark::Removed));
        }
    }
    let written: BTreeSet<&str> = layers[index]
        .iter()
        .filter(|e| e.whiteout_target().is_none() && e.opaque_dir().is_none())
        .map(|e| e.path.as_str())
        .collect();
    for (p, m) in here.iter() {
        let mark = if !written.contains(p.as_str()) {
            Mark::Unchanged
        } else {
            match below.get(p) {
                None => Mark::Added,
                Some(old) if old.kind == FileKind::Dir && m.kind == FileKind::Dir => {
                    if old.mode != m.mode || old.uid != m.uid || old.gid != m.gid {
                        Mark::Modified
                    } else {
                        Mark::Unchanged
                    }
                }
                Some(_) => Mark::Modified,
            }
        };
        if scope == Scope::Aggregated || written.contains(p.as_str()) {
            items.insert(p.clone(), item(p, m, mark));
        }
    }
    items.into_values().collect()
}

/// One visible row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub depth: usize,
    pub name: String,
    pub path: String,
    pub is_dir: bool,
    pub collapsed: bool,
    pub mark: Mark,
    /// Files: their size; directories: the sum below them (shown rows only).
    pub size: u64,
    /// Index into the items.
    pub item: Option<usize>,
}

/// Tree state over a list of items.
#[derive(Debug, Clone, Default)]
pub struct TreeView {
    pub items: Vec<TreeItem>,
    pub collapsed: BTreeSet<String>,
    pub filter: Option<Regex>,
    pub changes_only: bool,
    pub sort_by_size: bool,
}

#[derive(Default)]
struct Node {
    children: BTreeMap<String, Node>,
    item: Option<usize>,
    size: u64,
    mark: Option<Mark>,
}

impl TreeView {
    pub fn new(items: Vec<TreeItem>) -> Self {
        TreeView {
            items,
            ..Default::default()
        }
    }

    pub fn toggle(&mut self, path: &str) {
        if !self.collapsed.remove(path) {
            self.collapsed.insert(path.to_owned());
        }
    }

    fn shown(&self, it: &TreeItem) -> bool {
        if self.changes_only && it.mark == Mark::Unchanged {
            return false;
        }
        match &self.filter {
            Some(re) => re.is_match(&it.path),
            None => true,
        }
    }

    /// The rows to draw, depth first.
    pub fn rows(&self) -> Vec<Row> {
        let mut root = Node::default();
        for (i, it) in self.items.iter().enumerate() {
            if !self.shown(it) {
                continue;
            }
            let mut node = &mut root;
            for part in it.path.split('/') {
                node = node.children.entry(part.to_owned()).or_default();
            }
            node.item = Some(i);
            node.mark = Some(it.mark);
        }
        fn sum(items: &[TreeItem], n: &mut Node) -> u64 {
            let own = match n.item {
                Some(i) if items[i].kind != FileKind::Dir => items[i].size,
                _ => 0,
            };
            let below: u64 = n.children.values_mut().map(|c| sum(items, c)).sum();
            n.size = own + below;
            n.size
        }
        sum(&self.items, &mut root);
        let mut rows = Vec::new();
        self.walk(&root, "", 0, &mut rows);
        rows
    }

    fn walk(&self, node: &Node, prefix: &str, depth: usize, rows: &mut Vec<Row>) {
        let mut children: Vec<(&String, &Node)> = node.children.iter().collect();
        if self.sort_by_size {
            children.sort_by(|a, b| b.1.size.cmp(&a.1.size).then_with(|| a.0.cmp(b.0)));
        }
        for (name, child) in children {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let is_dir = !child.children.is_empty()
                || child
                    .item
                    .is_some_and(|i| self.items[i].kind == FileKind::Dir);
            let collapsed = is_dir && self.collapsed.contains(&path);
            let mark = child.mark.unwrap_or_else(|| {
                // A parent listed only through its children takes their strongest mark.
                if child
                    .children
                    .values()
                    .any(|c| c.mark != Some(Mark::Unchanged))
                {
                    Mark::Modified
                } else {
                    Mark::Unchanged
                }
            });
            rows.push(Row {
                depth,
                name: name.clone(),
                path: path.clone(),
                is_dir,
                collapsed,
                mark,
                size: child.size,
                item: child.item,
            });
            if !collapsed {
                self.walk(child, &path, depth + 1, rows);
            }
        }
    }
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

    fn layers() -> Vec<Vec<LayerEntry>> {
        vec![
            vec![
                e("etc", FileKind::Dir, 0),
                e("etc/a", FileKind::File, 10),
                e("etc/b", FileKind::File, 20),
                e("usr", FileKind::Dir, 0),
                e("usr/big", FileKind::File, 500),
            ],
            vec![
                e("etc", FileKind::Dir, 0),
                e("etc/a", FileKind::File, 11),
                e("etc/.wh.b", FileKind::File, 0),
                e("etc/c", FileKind::File, 3),
            ],
        ]
    }

    fn marks(items: &[TreeItem]) -> Vec<(String, char)> {
        items
            .iter()
            .map(|i| (i.path.clone(), i.mark.letter()))
            .collect()
    }

    #[test]
    fn layer_scope_shows_the_layers_changes_and_aggregated_shows_everything() {
        let l = layers();
        let only = items_for(&l, 1, Scope::Layer);
        assert_eq!(
            marks(&only),
            vec![
                ("etc".into(), ' '),
                ("etc/a".into(), 'M'),
                ("etc/b".into(), 'D'),
                ("etc/c".into(), 'A'),
            ]
        );
        let all = items_for(&l, 1, Scope::Aggregated);
        assert_eq!(all.len(), 6);
        assert_eq!(all.iter().find(|i| i.path == "usr/big").unwrap().layer, 0);
    }

    #[test]
    fn rows_collapse_filter_changes_only_and_sort_by_size() {
        let mut v = TreeView::new(items_for(&layers(), 1, Scope::Aggregated));
        let names = |v: &TreeView| v.rows().iter().map(|r| r.path.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&v),
            vec!["etc", "etc/a", "etc/b", "etc/c", "usr", "usr/big"]
        );
        v.sort_by_size = true;
        assert_eq!(names(&v)[0], "usr");
        v.toggle("usr");
        assert_eq!(names(&v), vec!["usr", "etc", "etc/b", "etc/a", "etc/c"]);
        v.sort_by_size = false;
        v.changes_only = true;
        assert_eq!(names(&v), vec!["etc", "etc/a", "etc/b", "etc/c"]);
        v.changes_only = false;
        v.filter = Some(Regex::new("big").unwrap());
        v.collapsed.clear();
        assert_eq!(names(&v), vec!["usr", "usr/big"]);
        assert_eq!(v.rows()[0].size, 500);
    }
}
