//! The on-disk layout of a store root, versioned by directory name.
//!
//! ```text
//! <root>/store-v1/
//!   blobs/<alg>/<hex>          committed, verified content
//!   derived/<alg>/<hex>        layer blobs kept as a snapshot plus this record (derived.rs)
//!   ingest/<random>            blobs being written (invisible until renamed into blobs/)
//!   meta.redb                  tags, image records, leases, generic records
//!   snapshots/<chainid-hex>/fs unpacked layer with overlay whiteouts (an overlay lowerdir)
//!   snapshots/<chainid-hex>/complete  written last: a snapshot without it is never used
//!   snapshots/.tmp-<random>/   snapshots being unpacked
//!   snapshots/.del-<random>/   snapshots being deleted (renamed aside first)
//!   locks/gc.lock              flock: shared by writers, exclusive for garbage collection
//! ```

use std::path::{Path, PathBuf};

use strata_oci::Digest;

/// Name of the versioned directory under the root. A future incompatible layout gets a new name.
pub const LAYOUT_DIR: &str = "store-v1";

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub base: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Layout {
            base: root.join(LAYOUT_DIR),
        }
    }
    pub fn blobs(&self) -> PathBuf {
        self.base.join("blobs")
    }
    pub fn blob(&self, d: &Digest) -> PathBuf {
        self.base
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }
    pub fn derived(&self) -> PathBuf {
        self.base.join("derived")
    }
    pub fn ingest(&self) -> PathBuf {
        self.base.join("ingest")
    }
    pub fn meta_db(&self) -> PathBuf {
        self.base.join("meta.redb")
    }
    pub fn snapshots(&self) -> PathBuf {
        self.base.join("snapshots")
    }
    pub fn snapshot(&self, chain_id: &Digest) -> PathBuf {
        self.snapshots().join(chain_id.hex())
    }
    /// Whether the snapshot of `chain_id` is published and complete (its marker exists).
    pub fn snapshot_complete(&self, chain_id: &Digest) -> bool {
        crate::snapshot::is_complete(&self.snapshot(chain_id))
    }
    pub fn locks(&self) -> PathBuf {
        self.base.join("locks")
    }
    pub fn gc_lock(&self) -> PathBuf {
        self.locks().join("gc.lock")
    }
}

/// A random hex name for temporary files and directories.
pub(crate) fn random_name() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::time::{SystemTime, UNIX_EPOCH};
    // RandomState is seeded per process from the OS; mixing in pid and time keeps names
    // unique across processes without a new dependency.
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let a = h.finish();
    h.write_u64(a);
    format!("{:016x}{:016x}", a, h.finish())
}
