//! Online garbage collection: mark every blob reachable from any repository's manifest
//! revisions, then sweep unmarked blobs and abandoned uploads older than a grace period.
//!
//! It takes no lock and runs while the registry serves. A freshly uploaded blob is younger
//! than the grace period, and HEAD and mount refresh an old blob's `last_used` time. What
//! keeps a concurrent manifest push from referencing a blob as it is deleted is a small
//! protocol between the two, with a notice object per blob (`keys::gc_pending`):
//!
//! - a push *claims* each blob it references: it touches the blob, then looks for a notice
//!   (refusing the blob if there is one), then checks the blob still exists. It claims
//!   before writing its revision and again after; if the second claim fails it removes the
//!   revision (and restores the tag) and refuses the push;
//! - the collector writes the notice, reads `last_used` again, deletes the blob only if it
//!   is still idle for the whole grace period, then removes the notice.
//!
//! If the collector's mark set holds the revision, the blob is never a candidate. If not,
//! the revision was written after the marking began, and the collector marks again when
//! its marks are half a grace period old, so the push's second claim is less than a grace
//! period before the collector's first look at the blob, or after it. Then either the claim
//! comes before the collector's second read (the blob looks used and is kept), or it finds
//! the notice, or the blob is already gone when it checks; in the last two cases the push
//! is undone. A notice older than [`PENDING_TTL`] was left by a collector that died:
//! pushes ignore it (a live collector gives up on a blob after half that time), and the
//! next collection removes it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use serde::Serialize;
use strata_oci::Digest;

use crate::error::Result;
use crate::manifest;
use crate::registry::Registry;
use crate::storage::keys;

/// How long a deletion notice stands. A collector gives up on a blob if it could not delete
/// it within half of this after writing the notice.
pub const PENDING_TTL: Duration = Duration::from_secs(60);

/// Knobs for one collection.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// Unreferenced blobs younger than this are kept.
    pub grace: Duration,
    /// Uploads with no activity for this long are abandoned.
    pub upload_grace: Duration,
    /// Report what would be removed without removing it.
    pub dry_run: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            grace: Duration::from_secs(3600),
            upload_grace: Duration::from_secs(24 * 3600),
            dry_run: false,
        }
    }
}

/// What a collection found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub blobs_total: usize,
    pub blobs_referenced: usize,
    /// Unreferenced blobs removed (or that would be, in a dry run).
    pub blobs_deleted: Vec<String>,
    pub bytes_freed: u64,
    /// Unreferenced blobs kept because they are within the grace period.
    pub blobs_in_grace: usize,
    pub uploads_deleted: Vec<String>,
    pub links_removed: usize,
}

/// Every blob digest reachable from the repositories' manifest revisions.
pub async fn mark(registry: &Registry) -> Result<HashSet<Digest>> {
    let s = registry.storage();
    let mut marked = HashSet::new();
    for repo in registry.all_repositories().await? {
        let prefix = keys::revisions(&repo);
        for m in s.list(&prefix).await? {
            let Some(digest) = digest_from_key(&m.key[prefix.len()..]) else {
                continue;
            };
            marked.insert(digest.clone());
            let Ok(bytes) = s.get(&keys::blob(&digest)).await else {
                continue;
            };
            if let Ok(info) = manifest::parse(&bytes, None) {
                marked.extend(info.blobs);
                marked.extend(info.foreign);
                marked.extend(info.manifests);
            }
        }
    }
    Ok(marked)
}

/// Parses `sha256/<hex>` (or `sha256/<hex>/data`) back into a digest.
fn digest_from_key(rel: &str) -> Option<Digest> {
    let mut parts = rel.split('/');
    let (alg, hex) = (parts.next()?, parts.next()?);
    Digest::parse(&format!("{alg}:{hex}")).ok()
}

fn older_than(t: SystemTime, age: Duration) -> bool {
    SystemTime::now().duration_since(t).is_ok_and(|d| d > age)
}

/// Runs one collection.
pub async fn collect(registry: &Registry, opts: GcOptions) -> Result<GcReport> {
    let s = registry.storage();
    let mut report = GcReport {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    // Notices left by a collector that died are dropped.
    for n in s.list(keys::gc_pending_root()).await? {
        if older_than(n.modified, PENDING_TTL) && !opts.dry_run {
            s.delete(&n.key).await?;
        }
    }
    let mut marked_at = Instant::now();
    let mut marked = mark(registry).await?;
    report.blobs_referenced = marked.len();
    let root = keys::blobs_root();
    let mut deleted = HashSet::new();
    for m in s.list(root).await? {
        if !m.key.ends_with("/data") {
            continue;
        }
        let Some(digest) = digest_from_key(&m.key[root.len()..]) else {
            continue;
        };
        report.blobs_total += 1;
        // A long sweep marks again: a revision written after the marking began must be
        // seen before its blobs can have been idle for a whole grace period.
        if marked_at.elapsed() >= opts.grace / 2 {
            marked_at = Instant::now();
            marked = mark(registry).await?;
        }
        if marked.contains(&digest) {
            continue;
        }
        match s.last_used(&m.key).await? {
            Some(t) if older_than(t, opts.grace) => {}
            Some(_) => {
                report.blobs_in_grace += 1;
                continue;
            }
            None => continue,
        }
        if !opts.dry_run && !delete_unless_claimed(s, &m.key, &digest, &opts).await? {
            report.blobs_in_grace += 1;
            continue;
        }
        report.bytes_freed += m.size;
        report.blobs_deleted.push(digest.to_string());
        deleted.insert(digest);
    }
    for repo in registry.all_repositories().await? {
        // Drop repository links to blobs that no longer exist.
        if !deleted.is_empty() {
            let prefix = keys::layer_links(&repo);
            for m in s.list(&prefix).await? {
                if let Some(d) = digest_from_key(&m.key[prefix.len()..]) {
                    if deleted.contains(&d) {
                        if !opts.dry_run {
                            s.delete(&m.key).await?;
                        }
                        report.links_removed += 1;
                    }
                }
            }
        }
        // Uploads: group objects by upload id; the newest object is the last activity.
        let prefix = keys::uploads(&repo);
        let mut newest: HashMap<String, SystemTime> = HashMap::new();
        for m in s.list(&prefix).await? {
            let id = m.key[prefix.len()..]
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let e = newest.entry(id).or_insert(SystemTime::UNIX_EPOCH);
            *e = (*e).max(m.modified);
        }
        for (id, t) in newest {
            if older_than(t, opts.upload_grace) {
                if !opts.dry_run {
                    s.delete_prefix(&keys::upload_root(&repo, &id)).await?;
                }
                report.uploads_deleted.push(format!("{repo}/{id}"));
            }
        }
    }
    Ok(report)
}

/// The collector's half of the protocol in the module docs: announce, look again, delete.
/// Returns whether the blob was deleted.
async fn delete_unless_claimed(
    s: &std::sync::Arc<dyn crate::storage::Storage>,
    key: &str,
    digest: &Digest,
    opts: &GcOptions,
) -> Result<bool> {
    let notice = keys::gc_pending(digest);
    s.put(&notice, Bytes::new()).await?;
    let announced = Instant::now();
    let still_idle = matches!(s.last_used(key).await?, Some(t) if older_than(t, opts.grace));
    let in_time = announced.elapsed() < PENDING_TTL / 2;
    if still_idle && in_time {
        s.delete(key).await?;
    }
    s.delete(&notice).await?;
    Ok(still_idle && in_time)
}
