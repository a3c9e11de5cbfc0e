//! Garbage collection: mark is a pure function over roots and references, sweep deletes
//! unmarked blobs and snapshots.
//!
//! Roots are tagged manifests, every image record (an untagged image stays until pruned, as
//! in docker), and the digests held by unexpired leases. References: an image record refers
//! to its manifest, config and layers and to its snapshot chain IDs; a manifest blob refers
//! to its config and layers; an index blob to its manifests; a subject to the manifests
//! attached to it (so attachments live exactly as long as their subject). The whole
//! collection runs under the exclusive store lock, so no commit, image add or unpack interleaves with it.

use std::collections::{BTreeSet, HashMap};
use std::fs;

use chrono::Utc;
use serde::Deserialize;
use strata_oci::Digest;

use crate::error::{Error, Result};
use crate::images::{read_records, ImageRecord};
use crate::lease::read_leases;
use crate::meta::{self, LEASES};
use crate::{lock, Store};

/// Every node reachable from `roots` through `refs`. Pure: no I/O of its own.
pub fn mark(
    roots: impl IntoIterator<Item = Digest>,
    mut refs: impl FnMut(&Digest) -> Vec<Digest>,
) -> BTreeSet<Digest> {
    let mut marked = BTreeSet::new();
    let mut stack: Vec<Digest> = roots.into_iter().collect();
    while let Some(d) = stack.pop() {
        if marked.insert(d.clone()) {
            stack.extend(refs(&d).into_iter().filter(|c| !marked.contains(c)));
        }
    }
    marked
}

/// What a collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub blobs_removed: Vec<(Digest, u64)>,
    pub snapshots_removed: Vec<String>,
    pub leases_expired: usize,
    /// Bytes freed (blob sizes plus unpacked snapshot sizes).
    pub reclaimed: u64,
}

#[derive(Deserialize)]
struct Child {
    digest: Digest,
}

#[derive(Deserialize)]
struct Links {
    config: Option<Child>,
    #[serde(default)]
    layers: Vec<Child>,
    #[serde(default)]
    manifests: Vec<Child>,
    subject: Option<Child>,
}

/// Children of a blob that is a manifest or index (small JSON); none for anything else.
fn blob_children(store: &Store, d: &Digest) -> Vec<Digest> {
    const MAX_DOC: u64 = 4 << 20;
    match store.blob_size(d) {
        Ok(n) if n <= MAX_DOC => {}
        _ => return Vec::new(),
    }
    let Ok(bytes) = fs::read(store.layout.blob(d)) else {
        return Vec::new();
    };
    if bytes.first() != Some(&b'{') {
        return Vec::new();
    }
    let Ok(l) = serde_json::from_slice::<Links>(&bytes) else {
        return Vec::new();
    };
    l.config
        .into_iter()
        .chain(l.layers)
        .chain(l.manifests)
        .chain(l.subject)
        .map(|c| c.digest)
        .collect()
}

pub(crate) fn record_refs(r: &ImageRecord) -> Vec<Digest> {
    let mut v = vec![r.config_digest.clone()];
    v.extend(r.layers.iter().map(|l| l.digest.clone()));
    v.extend(r.chain_ids());
    v
}

impl Store {
    /// Collect garbage: delete every blob and snapshot no root reaches, and expired leases.
    pub fn gc(&self) -> Result<GcReport> {
        let _gc = lock::exclusive(&self.layout.gc_lock())?;
        let now = Utc::now();
        let (records, tags, leases) = meta::read(&self.layout, |txn| {
            Ok((read_records(txn)?, meta::read_tags(txn)?, read_leases(txn)?))
        })?;
        let mut report = GcReport::default();
        let by_manifest: HashMap<Digest, &ImageRecord> = records
            .iter()
            .map(|r| (r.manifest_digest.clone(), r))
            .collect();
        let mut roots: Vec<Digest> = records.iter().map(|r| r.manifest_digest.clone()).collect();
        roots.extend(tags.iter().filter_map(|(_, d)| Digest::parse(d).ok()));
        for l in leases.iter().filter(|l| !l.is_expired(now)) {
            roots.extend(l.digests.iter().cloned());
        }
        roots.extend(self.gc_root_digests()?);
        let edges = self.attachment_edges()?;
        let mut attached: HashMap<Digest, Vec<Digest>> = HashMap::new();
        for (subject, artifact) in &edges {
            attached
                .entry(subject.clone())
                .or_default()
                .push(artifact.clone());
        }
        // A derived blob refers to the snapshot its bytes are regenerated from.
        let marked = mark(roots, |d| {
            let mut children = match by_manifest.get(d) {
                Some(r) => record_refs(r),
                None => match self.derived(d) {
                    Some(rec) => vec![rec.chain_id],
                    None => blob_children(self, d),
                },
            };
            children.extend(attached.get(d).into_iter().flatten().cloned());
            children
        });

        for d in self.list_blobs()? {
            if marked.contains(&d) {
                continue;
            }
            let path = self.layout.blob(&d);
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            match fs::remove_file(&path) {
                Ok(()) => {
                    report.reclaimed += size;
                    report.blobs_removed.push((d, size));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("cannot remove blob", &path, e)),
            }
        }
        // Derived blobs take no blob space (their snapshot is counted below): list them as
        // removed without adding to the bytes reclaimed.
        for d in self.list_derived()? {
            let record = self.derived(&d);
            if marked.contains(&d) && record.is_some() {
                continue;
            }
            self.remove_derived(&d)?;
            if let Some(rec) = record {
                if !report.blobs_removed.iter().any(|(x, _)| *x == d) {
                    report.blobs_removed.push((d, rec.size));
                }
            }
        }

        let snaps = self.layout.snapshots();
        if let Ok(rd) = fs::read_dir(&snaps) {
            for entry in rd.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                // Temporary unpack directories can only belong to dead processes here: live
                // unpackers hold the shared lock this collection excludes. A snapshot
                // without its completion marker is never used, so it goes too.
                let chain_id = Digest::parse(&format!("sha256:{name}")).ok();
                let keep = chain_id.as_ref().is_some_and(|d| marked.contains(d))
                    && crate::snapshot::is_complete(&path);
                if keep {
                    continue;
                }
                let size = crate::snapshot::dir_size(&path);
                if chain_id.is_some() {
                    crate::snapshot::delete_snapshot_dir(&snaps, &path)?;
                } else {
                    crate::snapshot::remove_tree(&path)?;
                }
                report.reclaimed += size;
                report.snapshots_removed.push(name);
            }
        }

        // Attachments of subjects that are gone are forgotten with them.
        for (subject, artifact) in &edges {
            if !marked.contains(subject) {
                self.remove_attachment(subject, artifact)?;
            }
        }

        let expired: Vec<String> = leases
            .iter()
            .filter(|l| l.is_expired(now))
            .map(|l| l.id.clone())
            .collect();
        if !expired.is_empty() {
            meta::write(&self.layout, |txn| {
                let mut t = txn
                    .open_table(LEASES)
                    .map_err(|e| Error::db("open table", e))?;
                for id in &expired {
                    t.remove(id.as_str()).map_err(|e| Error::db("remove", e))?;
                }
                Ok(())
            })?;
        }
        report.leases_expired = expired.len();
        report.blobs_removed.sort();
        report.snapshots_removed.sort();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Digest {
        Digest::sha256_of(s.as_bytes())
    }

    #[test]
    fn mark_follows_references_and_handles_cycles() {
        let refs = |x: &Digest| {
            if *x == d("index") {
                vec![d("m1"), d("m2")]
            } else if *x == d("m1") {
                vec![d("c1"), d("l1"), d("shared")]
            } else if *x == d("m2") {
                vec![d("c2"), d("shared"), d("index")]
            } else {
                vec![]
            }
        };
        let m = mark([d("index")], refs);
        let want: BTreeSet<Digest> = ["index", "m1", "m2", "c1", "c2", "l1", "shared"]
            .iter()
            .map(|s| d(s))
            .collect();
        assert_eq!(m, want);
        assert!(mark(Vec::new(), refs).is_empty());
        assert_eq!(mark([d("l1")], refs), [d("l1")].into_iter().collect());
    }
}
