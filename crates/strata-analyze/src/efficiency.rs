//! dive's efficiency score, wasted bytes and user-wasted percent, computed exactly as dive
//! 0.13.1 does (`filetree.Efficiency` and `image.Analyze`), plus what dive leaves out.
//!
//! Per path (absolute, dive's spelling), over every layer in which a *leaf* of that layer's
//! tree has that path: the sizes it had. A whiteout counts 0 when it deletes a file and the
//! whole size of the deleted subtree (in the tree stacked from all lower layers) when it
//! deletes a directory. Then
//! - efficiency = Σ smallest size per path / Σ sum of sizes per path (1 when nothing counted);
//! - wasted bytes = Σ sum of sizes over paths seen in two or more layers: dive counts all N
//!   copies (wagoodman/dive#684), so [`Efficiency::wasted_bytes_n_minus_1`] also gives the
//!   bytes beyond the copy the final image shows (all of them when the path was deleted);
//! - user-wasted percent = wasted bytes / size of all layers but the first (a ratio; dive
//!   prints it times 100).
//!
//! One deliberate difference: when a whiteout names a path no lower layer has, dive stops
//! visiting the rest of that layer (its visitor returns the lookup error); here the whiteout
//! counts 0 and the layer is visited to the end.

use std::collections::HashMap;

use serde::Serialize;

use crate::dive_tree::{DiveTree, NodeInfo};
use crate::scan::{FileKind, LayerScan};

/// What a layer did to a path that ends up wasted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// First appearance (or reappearance after a deletion).
    Added,
    /// A later copy replaced it.
    Overwrote,
    /// A whiteout deleted it.
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Touch {
    pub layer: usize,
    pub action: Action,
    /// Bytes this touch counts (a deleting whiteout: the deleted subtree's size, or 0).
    pub size: u64,
}

/// A path present in two or more layers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WastedPath {
    /// Absolute path as dive prints it.
    pub path: String,
    /// Number of layers whose tree has a leaf at this path (dive's `count`).
    pub count: usize,
    /// Sum of its sizes over those layers (dive's wasted figure for it).
    pub wasted_bytes: u64,
    /// The same without the copy the final image shows.
    pub wasted_bytes_n_minus_1: u64,
    /// Which layer introduced, overwrote or deleted it, bottom up.
    pub touches: Vec<Touch>,
}

/// The image-level figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Efficiency {
    /// dive's efficiency score, 0..=1.
    pub score: f64,
    /// dive's wasted bytes: every copy of every path present in two or more layers.
    pub wasted_bytes: u64,
    /// Wasted bytes counting N−1 copies: what is hidden or deleted, not what is shown.
    pub wasted_bytes_n_minus_1: u64,
    /// Σ layer sizes (header sizes of every member).
    pub size_bytes: u64,
    /// Σ sizes of the layers the user added: all but the first, or all above the base
    /// when one is excluded.
    pub user_size_bytes: u64,
    /// wasted bytes / user size, as a ratio (dive's `userWastedPercent` / 100). NaN or
    /// infinite when the user layers are empty, as in dive.
    pub user_wasted_percent: f64,
    /// The same ratio with the N−1 figure.
    pub user_wasted_percent_n_minus_1: f64,
    /// Paths seen in two or more layers, most wasted bytes first.
    pub inefficient: Vec<WastedPath>,
}

#[derive(Default)]
struct PathStats {
    cumulative: u64,
    min: Option<u64>,
    touches: Vec<Touch>,
}

/// Build dive's tree for one layer.
pub fn layer_tree(scan: &LayerScan) -> DiveTree {
    let mut tree = DiveTree::new();
    for e in &scan.entries {
        tree.add_path(
            &e.path,
            NodeInfo {
                size: e.size,
                is_dir: e.kind == FileKind::Dir,
            },
        );
    }
    tree
}

/// dive's figures over `trees` (one per layer, bottom up) whose layer sizes are `sizes`.
/// Layers below `base_layers` are stacked (their files can be deleted later) but not
/// scored, and the user size is then the layers from `base_layers` up; with
/// `base_layers == 0` everything is dive's.
pub fn efficiency(trees: &[DiveTree], sizes: &[u64], base_layers: usize) -> Efficiency {
    let mut stats: HashMap<String, PathStats> = HashMap::new();
    if let Some(first) = trees.first() {
        // dive stacks `trees[0].Copy()` then layers 0..i-1 for the whiteouts of layer i.
        let mut stacked = first.clone();
        for (index, tree) in trees.iter().enumerate() {
            if index >= base_layers {
                score_layer(index, tree, &stacked, &mut stats);
            }
            stacked.stack(tree);
        }
    }

    let (mut min_total, mut cumulative_total) = (0u128, 0u128);
    let mut inefficient = Vec::new();
    for (path, s) in stats {
        min_total += u128::from(s.min.unwrap_or(0));
        cumulative_total += u128::from(s.cumulative);
        if s.touches.len() >= 2 {
            let last = s.touches.last().expect("two touches");
            let live = if last.action == Action::Deleted {
                0
            } else {
                last.size
            };
            inefficient.push(WastedPath {
                path,
                count: s.touches.len(),
                wasted_bytes: s.cumulative,
                wasted_bytes_n_minus_1: s.cumulative - live,
                touches: s.touches,
            });
        }
    }
    inefficient.sort_by(|a, b| {
        b.wasted_bytes
            .cmp(&a.wasted_bytes)
            .then_with(|| a.path.cmp(&b.path))
    });
    let score = if cumulative_total == 0 {
        1.0
    } else {
        min_total as f64 / cumulative_total as f64
    };
    let wasted_bytes: u64 = inefficient.iter().map(|w| w.wasted_bytes).sum();
    let wasted_n1: u64 = inefficient.iter().map(|w| w.wasted_bytes_n_minus_1).sum();
    let size_bytes: u64 = sizes.iter().sum();
    let user_from = base_layers.max(1);
    let user_size_bytes: u64 = sizes.iter().skip(user_from).sum();
    Efficiency {
        score,
        wasted_bytes,
        wasted_bytes_n_minus_1: wasted_n1,
        size_bytes,
        user_size_bytes,
        user_wasted_percent: wasted_bytes as f64 / user_size_bytes as f64,
        user_wasted_percent_n_minus_1: wasted_n1 as f64 / user_size_bytes as f64,
        inefficient,
    }
}

fn score_layer(
    index: usize,
    tree: &DiveTree,
    stacked: &DiveTree,
    stats: &mut HashMap<String, PathStats>,
) {
    for id in tree.child_first() {
        if !tree.is_leaf(id) {
            continue;
        }
        let path = tree.path(id);
        let (size, action) = if tree.is_whiteout(id) {
            let size = match stacked.get(&path) {
                Some(prev) if stacked.info(prev).is_dir => stacked.subtree_size(prev),
                _ => 0,
            };
            (size, Action::Deleted)
        } else {
            (tree.info(id).size, Action::Added)
        };
        let s = stats.entry(path).or_default();
        let action = match (action, s.touches.last()) {
            (Action::Added, Some(t)) if t.action != Action::Deleted => Action::Overwrote,
            (a, _) => a,
        };
        s.cumulative += size;
        s.min = Some(s.min.map_or(size, |m| m.min(size)));
        s.touches.push(Touch {
            layer: index,
            action,
            size,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::LayerEntry;

    pub(crate) fn entry(path: &str, kind: FileKind, size: u64) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            kind,
            typeflag: if kind == FileKind::Dir { b'5' } else { b'0' },
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            link: String::new(),
            digest: None,
        }
    }

    fn scan(entries: Vec<LayerEntry>) -> LayerScan {
        let size = entries.iter().map(|e| e.size).sum();
        LayerScan { entries, size }
    }

    fn run(layers: &[LayerScan], base: usize) -> Efficiency {
        let trees: Vec<DiveTree> = layers.iter().map(layer_tree).collect();
        let sizes: Vec<u64> = layers.iter().map(|l| l.size).collect();
        efficiency(&trees, &sizes, base)
    }

    #[test]
    fn overwritten_file_counts_every_copy_and_the_n_minus_1_figure_drops_the_live_one() {
        let l0 = scan(vec![
            entry("etc", FileKind::Dir, 0),
            entry("etc/a", FileKind::File, 100),
            entry("etc/keep", FileKind::File, 50),
        ]);
        let l1 = scan(vec![
            entry("etc", FileKind::Dir, 0),
            entry("etc/a", FileKind::File, 30),
        ]);
        let e = run(&[l0, l1], 0);
        assert_eq!(e.wasted_bytes, 130);
        assert_eq!(e.wasted_bytes_n_minus_1, 100);
        // min: a 30, keep 50; cumulative: a 130, keep 50.
        assert_eq!(e.score, 80.0 / 180.0);
        assert_eq!(e.user_size_bytes, 30);
        assert_eq!(e.user_wasted_percent, 130.0 / 30.0);
        let a = &e.inefficient[0];
        assert_eq!((a.path.as_str(), a.count), ("/etc/a", 2));
        assert_eq!(
            a.touches.iter().map(|t| t.action).collect::<Vec<_>>(),
            vec![Action::Added, Action::Overwrote]
        );
    }

    #[test]
    fn whiteout_of_a_directory_counts_its_stacked_subtree_and_of_a_file_counts_zero() {
        let l0 = scan(vec![
            entry("d", FileKind::Dir, 0),
            entry("d/x", FileKind::File, 10),
            entry("d/y", FileKind::File, 20),
            entry("f", FileKind::File, 7),
        ]);
        let l1 = scan(vec![
            entry(".wh.d", FileKind::File, 0),
            entry(".wh.f", FileKind::File, 0),
        ]);
        let e = run(&[l0, l1], 0);
        // /d: leaf only in layer 1 (in layer 0 "d" has children), so one touch of 30.
        // /f: 7 then 0 → wasted 7.
        assert_eq!(e.wasted_bytes, 7);
        assert_eq!(e.wasted_bytes_n_minus_1, 7);
        // min: d/x 10, d/y 20, d 30, f 0 → 60; cumulative 10+20+30+7 = 67.
        assert_eq!(e.score, 60.0 / 67.0);
        let f = &e.inefficient[0];
        assert_eq!(f.touches[1].action, Action::Deleted);
    }

    #[test]
    fn opaque_markers_do_not_hide_lower_files_as_in_dive() {
        let l0 = scan(vec![
            entry("d", FileKind::Dir, 0),
            entry("d/old", FileKind::File, 40),
        ]);
        let l1 = scan(vec![
            entry("d", FileKind::Dir, 0),
            entry("d/.wh..wh..opq", FileKind::File, 0),
            entry("d/new", FileKind::File, 5),
        ]);
        let l2 = scan(vec![entry(".wh.d", FileKind::File, 0)]);
        let e = run(&[l0, l1, l2], 0);
        // The deletion of d counts old (40, still in dive's stacked tree) and new (5).
        let d = e.inefficient.iter().find(|w| w.path == "/d");
        assert!(d.is_none(), "d is a leaf only in layer 2");
        assert_eq!(e.score, (40.0 + 5.0 + 45.0) / (40.0 + 5.0 + 45.0));
        assert_eq!(e.size_bytes, 45);
    }

    #[test]
    fn hard_links_count_their_header_size_only() {
        let l0 = scan(vec![
            entry("bin", FileKind::Dir, 0),
            entry("bin/a", FileKind::File, 1000),
            LayerEntry {
                kind: FileKind::HardLink,
                link: "bin/a".into(),
                ..entry("bin/b", FileKind::HardLink, 0)
            },
        ]);
        let l1 = scan(vec![LayerEntry {
            kind: FileKind::HardLink,
            link: "bin/a".into(),
            ..entry("bin/b", FileKind::HardLink, 0)
        }]);
        let e = run(&[l0, l1], 0);
        assert_eq!(e.wasted_bytes, 0);
        assert_eq!(e.inefficient.len(), 1);
        assert_eq!(e.inefficient[0].count, 2);
        assert_eq!(e.score, 1.0);
    }

    #[test]
    fn excluding_base_layers_scores_only_the_layers_above() {
        let l0 = scan(vec![entry("a", FileKind::File, 10)]);
        let l1 = scan(vec![entry("a", FileKind::File, 10)]);
        let l2 = scan(vec![entry("b", FileKind::File, 4)]);
        let all = run(&[l0.clone(), l1.clone(), l2.clone()], 0);
        assert_eq!(all.wasted_bytes, 20);
        let above = run(&[l0, l1, l2], 2);
        assert_eq!(above.wasted_bytes, 0);
        assert_eq!(above.user_size_bytes, 4);
        assert_eq!(above.score, 1.0);
    }

    #[test]
    fn empty_image_scores_one_and_user_percent_is_nan() {
        let e = run(&[scan(vec![])], 0);
        assert_eq!(e.score, 1.0);
        assert!(e.user_wasted_percent.is_nan());
    }
}
