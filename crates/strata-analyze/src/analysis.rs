//! One pass over an image's layers: dive's trees for the score, the merged filesystem for
//! per-layer changes, and the history paired with layers as dive and `docker history` pair
//! them (the n-th layer takes the n-th history entry that is not an empty layer).
//!
//! The caller pushes layers bottom up as uncompressed tar streams ([`Analyzer::add_layer`]);
//! where the bytes come from (store, archive, registry) is not this crate's business.

use std::io::Read;

use serde::Serialize;
use serde_json::{json, Value};

use crate::dive_tree::DiveTree;
use crate::efficiency::{efficiency, layer_tree, Efficiency};
use crate::error::Result;
use crate::filesystem::{Filesystem, LayerChanges};
use crate::scan::{scan_layer, FileKind, LayerEntry, LayerScan, ScanOptions};

/// The part of an image config's history entry the analysis uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct HistoryEntry {
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub empty_layer: bool,
    #[serde(default)]
    pub comment: String,
}

/// One layer's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    pub index: usize,
    /// The layer's diffID (`sha256:…`).
    pub digest: String,
    /// Content bytes: the sum of the members' sizes (dive's layer size).
    pub size: u64,
    /// The history entry's `created_by`, `(missing)` when the history is short.
    pub created_by: String,
    /// `created_by` without the `/bin/sh -c ` prefix, as dive shows it.
    pub command: String,
    pub changes: LayerChanges,
    /// Whether the layer belongs to the excluded base image.
    pub base: bool,
}

/// Everything `strata analyze` reports.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub layers: Vec<LayerReport>,
    pub efficiency: Efficiency,
    /// Layers kept out of the score (the base image's).
    pub base_layers: usize,
    /// Each layer's entries, when [`AnalyzeOptions::keep_entries`] was set (dive's JSON
    /// lists them).
    pub entries: Vec<Vec<LayerEntry>>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AnalyzeOptions {
    /// Leave the lowest `base_layers` layers out of the score.
    pub base_layers: usize,
    /// Keep every layer's entry list for [`dive_json`].
    pub keep_entries: bool,
}

/// Accumulates layers bottom up.
pub struct Analyzer {
    options: AnalyzeOptions,
    history: Vec<HistoryEntry>,
    next_history: usize,
    trees: Vec<DiveTree>,
    sizes: Vec<u64>,
    filesystem: Filesystem,
    layers: Vec<LayerReport>,
    entries: Vec<Vec<LayerEntry>>,
}

impl Analyzer {
    pub fn new(history: Vec<HistoryEntry>, options: AnalyzeOptions) -> Self {
        Analyzer {
            options,
            history,
            next_history: 0,
            trees: Vec::new(),
            sizes: Vec::new(),
            filesystem: Filesystem::new(),
            layers: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Scan the next layer's uncompressed tar stream; `digest` is its diffID.
    pub fn add_layer<R: Read>(&mut self, digest: &str, reader: R) -> Result<()> {
        let index = self.layers.len();
        let name = format!("layer {index} ({digest})");
        let scan = scan_layer(reader, &name, ScanOptions::default())?;
        self.add_scanned(digest, scan);
        Ok(())
    }

    /// Add a layer already scanned.
    pub fn add_scanned(&mut self, digest: &str, scan: LayerScan) {
        let index = self.layers.len();
        let created_by = self.next_created_by();
        let command = created_by
            .strip_prefix("/bin/sh -c ")
            .unwrap_or(&created_by)
            .to_owned();
        let changes = self.filesystem.apply(index, &scan);
        self.trees.push(layer_tree(&scan));
        self.sizes.push(scan.size);
        self.layers.push(LayerReport {
            index,
            digest: digest.to_owned(),
            size: scan.size,
            created_by,
            command,
            changes,
            base: index < self.options.base_layers,
        });
        if self.options.keep_entries {
            self.entries.push(scan.entries);
        }
    }

    fn next_created_by(&mut self) -> String {
        while let Some(h) = self.history.get(self.next_history) {
            self.next_history += 1;
            if !h.empty_layer {
                return h.created_by.clone();
            }
        }
        "(missing)".to_owned()
    }

    /// The merged filesystem of the layers added so far.
    pub fn filesystem(&self) -> &Filesystem {
        &self.filesystem
    }

    pub fn finish(self) -> Analysis {
        let base = self.options.base_layers.min(self.layers.len());
        Analysis {
            efficiency: efficiency(&self.trees, &self.sizes, base),
            layers: self.layers,
            base_layers: base,
            entries: self.entries,
        }
    }
}

/// Go's `os.FileMode` bits for a tar member, as dive's JSON carries them.
pub fn go_file_mode(e: &LayerEntry) -> u32 {
    let mut m = e.mode & 0o777;
    if e.mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if e.mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if e.mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m |= match e.kind {
        FileKind::Dir => 1 << 31,
        FileKind::Symlink => 1 << 27,
        FileKind::CharDevice => (1 << 26) | (1 << 21),
        FileKind::BlockDevice => 1 << 26,
        FileKind::Fifo => 1 << 25,
        _ => 0,
    };
    m
}

/// dive's `--json` document (`layer[…]`, `image{…}`); the layer list needs
/// [`AnalyzeOptions::keep_entries`].
pub fn dive_json(a: &Analysis) -> Value {
    let layers: Vec<Value> = a
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let files: Vec<Value> = a
                .entries
                .get(i)
                .map(|entries| {
                    entries
                        .iter()
                        .map(|e| {
                            json!({
                                "path": e.path,
                                "typeFlag": e.typeflag,
                                "linkName": e.link,
                                "size": e.size,
                                "fileMode": go_file_mode(e),
                                "uid": e.uid,
                                "gid": e.gid,
                                "isDir": e.kind == FileKind::Dir,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "index": l.index,
                "id": l.digest.split_once(':').map_or(l.digest.as_str(), |(_, h)| h),
                "digestId": l.digest,
                "sizeBytes": l.size,
                "command": l.command,
                "fileList": files,
            })
        })
        .collect();
    let refs: Vec<Value> = a
        .efficiency
        .inefficient
        .iter()
        .map(|w| json!({"count": w.count, "sizeBytes": w.wasted_bytes, "file": w.path}))
        .collect();
    json!({
        "layer": layers,
        "image": {
            "sizeBytes": a.efficiency.size_bytes,
            "inefficientBytes": a.efficiency.wasted_bytes,
            "efficiencyScore": a.efficiency.score,
            "fileReference": refs,
        }
    })
}

/// strata's own JSON report (`--format json`).
pub fn report_json(a: &Analysis) -> Value {
    let e = &a.efficiency;
    json!({
        "layers": a.layers,
        "baseLayers": a.base_layers,
        "sizeBytes": e.size_bytes,
        "userSizeBytes": e.user_size_bytes,
        "efficiency": e.score,
        "wastedBytes": e.wasted_bytes,
        "wastedBytesNMinus1": e.wasted_bytes_n_minus_1,
        "userWastedPercent": e.user_wasted_percent * 100.0,
        "userWastedPercentNMinus1": e.user_wasted_percent_n_minus_1 * 100.0,
        "inefficientFiles": e.inefficient,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar stream with the given (path, contents or None for a directory) members.
    pub(crate) fn tar_of(members: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = tar_builder();
        for (path, data) in members {
            let mut h = tar::Header::new_ustar();
            match data {
                Some(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, path, *d).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, path, std::io::empty()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    fn tar_builder() -> tar::Builder<Vec<u8>> {
        tar::Builder::new(Vec::new())
    }

    #[test]
    fn layers_pair_with_non_empty_history_and_dive_json_has_its_shape() {
        let history = vec![
            HistoryEntry {
                created_by: "/bin/sh -c #(nop) ADD file:abc in /".into(),
                ..Default::default()
            },
            HistoryEntry {
                created_by: "/bin/sh -c #(nop)  ENV A=1".into(),
                empty_layer: true,
                ..Default::default()
            },
            HistoryEntry {
                created_by: "/bin/sh -c echo hi > /etc/motd".into(),
                ..Default::default()
            },
        ];
        let mut an = Analyzer::new(
            history,
            AnalyzeOptions {
                keep_entries: true,
                ..Default::default()
            },
        );
        an.add_layer(
            "sha256:aa",
            &tar_of(&[("etc/", None), ("etc/motd", Some(b"hello"))])[..],
        )
        .unwrap();
        an.add_layer(
            "sha256:bb",
            &tar_of(&[("etc/", None), ("etc/motd", Some(b"hi\n"))])[..],
        )
        .unwrap();
        let a = an.finish();
        assert_eq!(a.layers[1].command, "echo hi > /etc/motd");
        assert_eq!(a.layers[1].changes.modified, 1);
        assert_eq!(a.efficiency.wasted_bytes, 8);
        let j = dive_json(&a);
        assert_eq!(j["image"]["inefficientBytes"], 8);
        assert_eq!(j["image"]["fileReference"][0]["file"], "/etc/motd");
        assert_eq!(j["layer"][0]["fileList"][0]["path"], "etc");
        assert_eq!(j["layer"][0]["fileList"][0]["isDir"], true);
        assert_eq!(
            j["layer"][0]["fileList"][0]["fileMode"],
            (1u32 << 31) | 0o755
        );
        assert_eq!(j["layer"][1]["sizeBytes"], 3);
    }
}
