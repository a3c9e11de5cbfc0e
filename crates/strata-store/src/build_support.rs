//! Store services for the builder: snapshots for layer stacks that are not (yet) an image,
//! publishing a directory a build step produced as a snapshot, and the build-cache roots
//! that keep cached layers alive through garbage collection.

use std::fs;
use std::path::Path;

use strata_oci::Digest;

use crate::derived::{snapshot_tar_digest, write_snapshot_tar, DerivedRecord, SnapshotForm};
use crate::error::{Error, Result};
use crate::images::LayerRecord;
use crate::snapshot::{remove_tree, SnapshotInfo, UnpackOptions};
use crate::Store;
use strata_oci::chain_id as chain_ids;

/// Records table whose values are JSON arrays of digests that garbage collection keeps
/// (blobs, and snapshot chain IDs). The builder stores one row per cache key.
pub const GC_ROOTS_TABLE: &str = "gc-roots";

impl Store {
    /// Unpack each layer of a stack (bottom first) into its snapshot, skipping those present.
    pub fn ensure_layers_unpacked(
        &self,
        layers: &[LayerRecord],
        diff_ids: &[Digest],
        options: &UnpackOptions,
    ) -> Result<Vec<SnapshotInfo>> {
        if layers.len() != diff_ids.len() {
            return Err(Error::new(
                crate::ErrorKind::InvalidInput,
                format!("{} layers but {} diff IDs", layers.len(), diff_ids.len()),
            ));
        }
        let chain = chain_ids(diff_ids);
        let mut out = Vec::with_capacity(chain.len());
        for (i, chain_id) in chain.iter().enumerate() {
            let dir = self.layout.snapshot(chain_id);
            if !crate::snapshot::is_complete(&dir) {
                self.unpack_one(&layers[i], &diff_ids[i], chain_id, options)?;
            }
            out.push(SnapshotInfo {
                chain_id: chain_id.clone(),
                size: 0,
                fs_path: dir.join("fs"),
            });
        }
        Ok(out)
    }

    /// A directory under the store (same filesystem as snapshots) for a step to prepare a
    /// snapshot or an overlay upper dir in; removed by GC if its process dies.
    pub fn snapshot_staging_dir(&self) -> Result<std::path::PathBuf> {
        let tmp = self
            .layout
            .snapshots()
            .join(format!(".tmp-{}", crate::layout::random_name()));
        fs::create_dir_all(&tmp).map_err(|e| Error::io("cannot create", &tmp, e))?;
        Ok(tmp)
    }

    /// Publish `fs_dir` (already in overlay form: whiteouts as 0/0 devices, opaque xattrs) as
    /// the snapshot of `chain_id` by renaming it into place. If the snapshot exists already
    /// the directory is removed instead.
    fn publish_snapshot(&self, chain_id: &Digest, diff_id: &Digest, fs_dir: &Path) -> Result<()> {
        let _gc = crate::lock::shared(&self.layout.gc_lock())?;
        let final_dir = self.layout.snapshot(chain_id);
        if crate::snapshot::is_complete(&final_dir) {
            return remove_tree(fs_dir);
        }
        self.discard_incomplete_snapshot(chain_id)?;
        let tmp = self.snapshot_staging_dir()?;
        let staged = tmp.join("fs");
        fs::rename(fs_dir, &staged).map_err(|e| Error::io("cannot move snapshot", fs_dir, e))?;
        fs::write(tmp.join("diffid"), diff_id.to_string())
            .map_err(|e| Error::io("cannot write", &tmp.join("diffid"), e))?;
        crate::snapshot::mark_complete(&tmp)?;
        match fs::rename(&tmp, &final_dir) {
            Ok(()) => crate::content::sync_dir(&self.layout.snapshots())?,
            Err(_) if crate::snapshot::is_complete(&final_dir) => remove_tree(&tmp)?,
            Err(e) => {
                let _ = remove_tree(&tmp);
                return Err(Error::io("cannot publish snapshot", &final_dir, e));
            }
        }
        Ok(())
    }

    /// Commit the directory a build step staged (in `form`) as a layer on top of
    /// `parent_chain`. Build layers are uncompressed, so the blob digest is the diffID. The
    /// directory becomes the layer's snapshot and the blob is recorded as derived from it:
    /// the layer's bytes are hashed once and never written. When that snapshot exists
    /// already, `staged` is removed instead.
    pub fn commit_built_layer(
        &self,
        staged: &Path,
        form: SnapshotForm,
        source_date_epoch: Option<i64>,
        parent_chain: Option<&Digest>,
    ) -> Result<BuiltLayer> {
        let (diff_id, size) = snapshot_tar_digest(staged, form, source_date_epoch)?;
        let chain_id = match parent_chain {
            None => diff_id.clone(),
            Some(p) => chain_ids(&[p.clone(), diff_id.clone()]).remove(1),
        };
        let built = BuiltLayer {
            diff_id,
            size,
            chain_id,
        };
        let _gc = crate::lock::shared(&self.layout.gc_lock())?;
        if self.snapshot_path(&built.chain_id).is_some() {
            if !self.has_blob(&built.diff_id) {
                // That snapshot may have been unpacked from a pulled layer and need not
                // regenerate these exact bytes: keep the bytes themselves.
                let w = self.writer(Some((built.diff_id.clone(), size)))?;
                let mut out = std::io::BufWriter::with_capacity(1 << 20, w);
                write_snapshot_tar(staged, form, source_date_epoch, &mut out)?;
                out.into_inner()
                    .map_err(|e| Error::io("cannot write layer of", staged, e.into_error()))?
                    .commit()?;
            }
            crate::snapshot::remove_tree(staged)?;
            return Ok(built);
        }
        self.publish_snapshot(&built.chain_id, &built.diff_id, staged)?;
        if !self.has_blob(&built.diff_id) {
            self.record_derived(
                &built.diff_id,
                &DerivedRecord {
                    format: crate::derived::DERIVED_TAR_FORMAT.to_owned(),
                    chain_id: built.chain_id.clone(),
                    form,
                    size,
                    source_date_epoch,
                },
            )?;
        }
        Ok(built)
    }

    /// Digests listed in the [`GC_ROOTS_TABLE`] records.
    pub fn gc_root_digests(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for (_, value) in self.list_records(GC_ROOTS_TABLE)? {
            if let Ok(list) = serde_json::from_slice::<Vec<Digest>>(&value) {
                out.extend(list);
            }
        }
        Ok(out)
    }
}

/// A layer committed by [`Store::commit_built_layer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltLayer {
    /// Also the blob digest: build layers are stored uncompressed.
    pub diff_id: Digest,
    pub size: u64,
    pub chain_id: Digest,
}

/// Holds the store's shared lock: while it lives, garbage collection cannot run, so staging
/// directories and blobs a long step is using stay in place.
pub struct StoreUseGuard {
    _guard: crate::lock::LockGuard,
}

impl Store {
    /// Take the shared store lock for the duration of a build step.
    pub fn hold_shared(&self) -> Result<StoreUseGuard> {
        Ok(StoreUseGuard {
            _guard: crate::lock::shared(&self.layout.gc_lock())?,
        })
    }
}
