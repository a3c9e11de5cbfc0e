//! The file tree exactly as dive 0.13.1 builds it, so the efficiency figures agree.
//!
//! dive's rules, kept on purpose even where OCI semantics differ:
//! - a layer's tree holds every member under its own name, so a whiteout `.wh.x` is a leaf
//!   of its own (whose path, with the prefix dropped, is `x`);
//! - names starting `.wh..wh.` (the opaque marker) are never added, so opaque directories
//!   hide nothing below them in dive's stacked tree;
//! - a parent that has no member of its own is created with empty metadata (size 0, not a
//!   directory), and stacking such a parent overwrites the metadata of the node below;
//! - stacking visits the upper tree children first, siblings by name: a whiteout removes
//!   the path's subtree, anything else is added or replaces the node's metadata.
//!
//! Nodes live in one arena; a removed subtree is only detached.

use std::collections::BTreeMap;

use crate::scan::{DOUBLE_WHITEOUT_PREFIX, WHITEOUT_PREFIX};

/// What dive keeps per node for the score: header size and whether it is a directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub size: u64,
    pub is_dir: bool,
}

#[derive(Debug, Clone)]
struct Node {
    name: Box<str>,
    parent: u32,
    children: BTreeMap<Box<str>, u32>,
    info: NodeInfo,
}

/// One dive tree (a layer's, or several stacked).
#[derive(Debug, Clone)]
pub struct DiveTree {
    nodes: Vec<Node>,
}

const ROOT: u32 = 0;

impl Default for DiveTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DiveTree {
    pub fn new() -> Self {
        DiveTree {
            nodes: vec![Node {
                name: "".into(),
                parent: ROOT,
                children: BTreeMap::new(),
                info: NodeInfo::default(),
            }],
        }
    }

    /// dive's `AddPath`: create missing parents with empty metadata, then set `info` on the
    /// last component (keeping its children). A missing `.wh..wh.*` component ends the walk.
    pub fn add_path(&mut self, path: &str, info: NodeInfo) {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let mut node = ROOT;
        for (i, name) in parts.iter().enumerate() {
            node = match self.nodes[node as usize].children.get(*name) {
                Some(&child) => child,
                None => {
                    if name.starts_with(DOUBLE_WHITEOUT_PREFIX) {
                        return;
                    }
                    let id = self.nodes.len() as u32;
                    self.nodes.push(Node {
                        name: (*name).into(),
                        parent: node,
                        children: BTreeMap::new(),
                        info: NodeInfo::default(),
                    });
                    self.nodes[node as usize]
                        .children
                        .insert((*name).into(), id);
                    id
                }
            };
            if i == parts.len() - 1 {
                self.nodes[node as usize].info = info;
            }
        }
    }

    /// The node at `path` (components by their stored names).
    pub fn get(&self, path: &str) -> Option<u32> {
        let mut node = ROOT;
        for name in path.split('/').filter(|p| !p.is_empty()) {
            node = *self.nodes[node as usize].children.get(name)?;
        }
        Some(node)
    }

    pub fn info(&self, id: u32) -> NodeInfo {
        self.nodes[id as usize].info
    }

    /// Detach the subtree at `path`, if there is one.
    pub fn remove_path(&mut self, path: &str) {
        if let Some(id) = self.get(path) {
            if id != ROOT {
                let node = &self.nodes[id as usize];
                let (parent, name) = (node.parent, node.name.clone());
                self.nodes[parent as usize].children.remove(&name);
            }
        }
    }

    /// Sum of the sizes of `id` and everything below it.
    pub fn subtree_size(&self, id: u32) -> u64 {
        let mut total = 0;
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n as usize];
            total += node.info.size;
            stack.extend(node.children.values().copied());
        }
        total
    }

    /// Whether the node is a whiteout (its name starts `.wh.`).
    pub fn is_whiteout(&self, id: u32) -> bool {
        self.nodes[id as usize].name.starts_with(WHITEOUT_PREFIX)
    }

    pub fn is_leaf(&self, id: u32) -> bool {
        self.nodes[id as usize].children.is_empty()
    }

    /// dive's `Path()`: absolute, with the node's own whiteout prefix dropped.
    pub fn path(&self, id: u32) -> String {
        let mut names = Vec::new();
        let mut n = id;
        while n != ROOT {
            let node = &self.nodes[n as usize];
            let name: &str = if n == id {
                node.name
                    .strip_prefix(WHITEOUT_PREFIX)
                    .unwrap_or(&node.name)
            } else {
                &node.name
            };
            names.push(name);
            n = node.parent;
        }
        names.reverse();
        format!("/{}", names.join("/"))
    }

    /// Every node below the root, children before their parent, siblings by name (dive's
    /// `VisitDepthChildFirst`).
    pub fn child_first(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.nodes.len());
        // (node, children already pushed)
        let mut stack: Vec<(u32, bool)> = vec![(ROOT, false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                if n != ROOT {
                    out.push(n);
                }
                continue;
            }
            stack.push((n, true));
            for &child in self.nodes[n as usize].children.values().rev() {
                stack.push((child, false));
            }
        }
        out
    }

    /// dive's `Stack`: apply `upper` onto this tree.
    pub fn stack(&mut self, upper: &DiveTree) {
        for id in upper.child_first() {
            let path = upper.path(id);
            if upper.is_whiteout(id) {
                self.remove_path(&path);
            } else {
                self.add_path(&path, upper.info(id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64) -> NodeInfo {
        NodeInfo {
            size,
            is_dir: false,
        }
    }
    const DIR: NodeInfo = NodeInfo {
        size: 0,
        is_dir: true,
    };

    #[test]
    fn implicit_parents_have_empty_metadata_and_opaque_markers_are_skipped() {
        let mut t = DiveTree::new();
        t.add_path("a/b/c", file(3));
        t.add_path("a/.wh..wh..opq", file(0));
        let a = t.get("a").unwrap();
        assert_eq!(t.info(a), NodeInfo::default());
        assert!(t.get("a/.wh..wh..opq").is_none());
        assert_eq!(t.path(t.get("a/b/c").unwrap()), "/a/b/c");
    }

    #[test]
    fn stacking_removes_whiteouts_and_overwrites_metadata() {
        let mut lower = DiveTree::new();
        lower.add_path("d", DIR);
        lower.add_path("d/x", file(10));
        lower.add_path("d/y", file(5));
        let mut upper = DiveTree::new();
        upper.add_path("d/.wh.x", file(0));
        upper.add_path("d/z", file(1));
        lower.stack(&upper);
        assert!(lower.get("d/x").is_none());
        // The implicit parent "d" in the upper tree overwrote the directory's metadata.
        assert!(!lower.info(lower.get("d").unwrap()).is_dir);
        assert_eq!(lower.subtree_size(lower.get("d").unwrap()), 6);
        let wh = upper.get("d/.wh.x").unwrap();
        assert!(upper.is_whiteout(wh));
        assert_eq!(upper.path(wh), "/d/x");
    }

    #[test]
    fn child_first_order_is_by_name_children_before_parents() {
        let mut t = DiveTree::new();
        t.add_path("b/2", file(1));
        t.add_path("a", file(1));
        t.add_path("b/1", file(1));
        let paths: Vec<String> = t.child_first().into_iter().map(|n| t.path(n)).collect();
        assert_eq!(paths, vec!["/a", "/b/1", "/b/2", "/b"]);
    }
}
