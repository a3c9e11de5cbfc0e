//! The local content store: verified atomic blobs, a metadata database, snapshots by chain
//! ID, leases, locks and garbage collection.
//!
//! Vocabulary, after containerd:
//! - a **blob** is immutable content named by its digest. It becomes visible only when its
//!   [`BlobWriter`] commits (fsync, size and digest check, atomic rename); readers verify.
//! - an **image record** ([`ImageRecord`]) describes one manifest whose blobs are all present;
//!   its image ID is the config digest. **Tags** map normalised references to manifests.
//! - a **snapshot** is one layer unpacked alone, whiteouts kept in overlay form, at
//!   `snapshots/<chain-id>/fs`, ready to stack as an overlay lowerdir.
//! - a **lease** holds digests so garbage collection keeps the work of an unfinished pull or
//!   build; **GC** marks from tags, records and leases and sweeps the rest.
//! - a **derived blob** is a layer tar kept as its snapshot plus a record, regenerated on
//!   read (`derived.rs`): builds do not write their layers twice.
//!
//! Many processes may use one store at once: redb serialises metadata write transactions
//! across processes (see [`meta`]), and a store-wide lock file keeps collection apart from
//! writers.
//!
//! ```no_run
//! # fn main() -> Result<(), strata_store::Error> {
//! use std::io::Write;
//! let store = strata_store::Store::open(&strata_store::default_root())?;
//! let lease = store.lease(Some(std::time::Duration::from_secs(3600)))?;
//! let mut w = store.writer(None)?.with_lease(lease.id());
//! w.write_all(b"layer bytes").map_err(|e| strata_store::Error::io("write", "-".as_ref(), e))?;
//! let (digest, size) = w.commit()?;
//! assert!(store.has_blob(&digest) && size == 11);
//! # Ok(()) }
//! ```

mod attachments;
mod build_support;
mod check;
mod content;
mod content_size;
mod derived;
mod error;
mod gc;
mod images;
mod layout;
mod lease;
mod lock;
pub mod meta;
mod names;
mod repo_digests;
mod snapshot;

use std::fs;
use std::path::{Path, PathBuf};

pub use attachments::ATTACHMENTS_TABLE;
pub use build_support::{BuiltLayer, StoreUseGuard, GC_ROOTS_TABLE};
pub use check::{Problem, ProblemKind};
pub use content::{BlobSource, BlobWriter, VerifyingReader, INGEST_GRACE};
pub use content_size::LAYER_CONTENT_SIZES_TABLE;
pub use derived::{
    snapshot_tar_digest, write_snapshot_tar, DerivedRecord, SnapshotForm, DERIVED_TAR_FORMAT,
};
pub use error::{Error, ErrorKind, Result};
pub use gc::{mark, GcReport};
pub use images::{Image, ImageRecord, LayerRecord, NewImage, RemoveOutcome};
pub use layout::LAYOUT_DIR;
pub use lease::{Lease, LeaseRecord};
pub use names::TagRef;
pub use repo_digests::REPO_DIGESTS_TABLE;
pub use snapshot::{SnapshotInfo, UnpackOptions};
/// Chain IDs of a layer stack (the one definition lives in strata-oci).
pub use strata_oci::chain_id as chain_ids;

/// A handle on a store root. Cheap to clone; holds no open files, so any number of handles
/// and processes may use one root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    pub(crate) layout: layout::Layout,
}

/// The default store root: `/var/lib/strata` as root, `$XDG_DATA_HOME/strata` (or
/// `~/.local/share/strata`) otherwise.
pub fn default_root() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/strata");
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("strata");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/strata")
}

impl Store {
    /// Open (creating if needed) the store at `root`, and clean ingest files left by killed
    /// writers.
    pub fn open(root: &Path) -> Result<Store> {
        // Absolute, so paths handed to runtimes and mounts mean the same from any cwd.
        let root = &std::path::absolute(root)
            .map_err(|e| Error::io("cannot resolve store root", root, e))?;
        let layout = layout::Layout::new(root);
        for dir in [
            layout.blobs(),
            layout.ingest(),
            layout.snapshots(),
            layout.locks(),
        ] {
            fs::create_dir_all(&dir)
                .map_err(|e| Error::io("cannot create store directory", &dir, e))?;
        }
        let store = Store {
            root: root.to_path_buf(),
            layout,
        };
        store.clean_ingest(INGEST_GRACE)?;
        Ok(store)
    }

    /// The root directory this store was opened at.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The versioned directory (`<root>/store-v1`).
    pub fn layout_dir(&self) -> &Path {
        &self.layout.base
    }
}
