//! Snapshots: each layer unpacked alone into `snapshots/<chain-id-hex>/fs`, whiteouts in
//! overlay form, so a runtime can stack an image's snapshots as overlay lowerdirs.
//!
//! A snapshot is unpacked into `snapshots/.tmp-<random>/`, gets its completion marker
//! (`complete`) written last, and is published by renaming it to its chain ID. Deletion
//! renames a snapshot aside (`snapshots/.del-<random>/`) before removing its files, so a
//! process killed mid-delete leaves nothing under the chain ID. A directory under a chain ID
//! without the marker (left by an older strata, or damaged by hand) is never used: it is
//! unpacked again when needed, reported by `system check` and removed by `check --repair`
//! and garbage collection. Unpacking holds the shared store lock; garbage collection
//! (exclusive) removes snapshots no image or lease references, and temporary directories of
//! dead processes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use strata_oci::Digest;

use crate::error::{Error, Result};
use crate::Store;

/// One unpacked snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub chain_id: Digest,
    /// The directory to use as an overlay lowerdir.
    pub fs_path: PathBuf,
    /// Bytes used on disk by the unpacked files.
    pub size: u64,
}

/// Total apparent size of regular files under `path` (0 if absent).
pub(crate) fn dir_size(path: &Path) -> u64 {
    fn walk(p: &Path, total: &mut u64) {
        let Ok(rd) = fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                walk(&e.path(), total);
            } else if ft.is_file() {
                *total += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    let mut total = 0;
    walk(path, &mut total);
    total
}

/// The file whose presence says a snapshot directory is complete; written last.
pub(crate) const COMPLETE_MARKER: &str = "complete";

/// Whether the snapshot directory `dir` (`snapshots/<chain-id-hex>`) is complete.
pub(crate) fn is_complete(dir: &Path) -> bool {
    dir.join("fs").is_dir() && dir.join(COMPLETE_MARKER).is_file()
}

/// Write the completion marker of a prepared snapshot directory (the last step before it is
/// published).
pub(crate) fn mark_complete(dir: &Path) -> Result<()> {
    let marker = dir.join(COMPLETE_MARKER);
    fs::write(&marker, b"complete\n").map_err(|e| Error::io("cannot write", &marker, e))
}

/// Delete a snapshot directory atomically as far as readers can see: rename it aside
/// first, then remove its files. Absent is fine.
pub(crate) fn delete_snapshot_dir(snapshots: &Path, dir: &Path) -> Result<()> {
    let aside = snapshots.join(format!(".del-{}", crate::layout::random_name()));
    match fs::rename(dir, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot move aside for deletion", dir, e)),
    }
    crate::content::sync_dir(snapshots)?;
    remove_tree(&aside)
}

/// Remove a directory tree, making read-only directories writable first (layers may
/// contain `dr-x------` directories that would otherwise block deletion as non-root).
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fn open_up(p: &Path) {
        let Ok(rd) = fs::read_dir(p) else { return };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700));
                open_up(&e.path());
            }
        }
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
            open_up(path);
            fs::remove_dir_all(path).map_err(|e| Error::io("cannot remove", path, e))
        }
    }
}

impl Store {
    /// The lowerdir of a chain ID if that snapshot is unpacked and complete.
    pub fn snapshot_path(&self, chain_id: &Digest) -> Option<PathBuf> {
        self.layout
            .snapshot_complete(chain_id)
            .then(|| self.layout.snapshot(chain_id).join("fs"))
    }

    /// Remove the directory of `chain_id` if it exists without its completion marker, so a
    /// fresh copy can be published in its place. Called under the shared store lock: if a
    /// racing process published a complete snapshot in between, that one is put back.
    pub(crate) fn discard_incomplete_snapshot(&self, chain_id: &Digest) -> Result<()> {
        let dir = self.layout.snapshot(chain_id);
        if !dir.exists() || is_complete(&dir) {
            return Ok(());
        }
        let snapshots = self.layout.snapshots();
        let aside = snapshots.join(format!(".del-{}", crate::layout::random_name()));
        match fs::rename(&dir, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("cannot move aside incomplete snapshot", &dir, e)),
        }
        if is_complete(&aside) && fs::rename(&aside, &dir).is_ok() {
            return Ok(());
        }
        remove_tree(&aside)
    }

    /// Snapshot directories under a chain ID that lack their completion marker.
    pub fn incomplete_snapshots(&self) -> Result<Vec<Digest>> {
        Ok(self
            .snapshot_dirs()?
            .into_iter()
            .filter(|(_, dir)| !is_complete(dir))
            .map(|(d, _)| d)
            .collect())
    }

    /// Every directory named by a chain ID, complete or not.
    fn snapshot_dirs(&self) -> Result<Vec<(Digest, PathBuf)>> {
        let dir = self.layout.snapshots();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("cannot list", &dir, e)),
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(chain_id) = Digest::parse(&format!("sha256:{name}")) {
                out.push((chain_id, e.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every published, complete snapshot.
    pub fn list_snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        Ok(self
            .snapshot_dirs()?
            .into_iter()
            .filter(|(_, dir)| is_complete(dir))
            .map(|(chain_id, dir)| {
                let fs_path = dir.join("fs");
                SnapshotInfo {
                    size: dir_size(&fs_path),
                    chain_id,
                    fs_path,
                }
            })
            .collect())
    }
}

/// How layers are unpacked into snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnpackOptions {
    /// Write `user.overlay.*` opaque xattrs (overlay mounted with `userxattr`, rootless)
    /// instead of `trusted.overlay.*`.
    pub user_xattr: bool,
}

impl Store {
    /// Unpack every layer of the image with this manifest digest into its own snapshot
    /// (skipping those already present) and return them bottom first: the overlay lowerdirs
    /// of the image (overlayfs lists the top one first, so reverse for `lowerdir=`).
    pub fn ensure_unpacked(
        &self,
        manifest_digest: &Digest,
        options: &UnpackOptions,
    ) -> Result<Vec<SnapshotInfo>> {
        let record = self.get_image(manifest_digest)?;
        self.ensure_layers_unpacked(&record.layers, &record.diff_ids, options)
    }

    pub(crate) fn unpack_one(
        &self,
        layer: &crate::LayerRecord,
        diff_id: &Digest,
        chain_id: &Digest,
        options: &UnpackOptions,
    ) -> Result<()> {
        use crate::error::ErrorKind;
        use crate::layout::random_name;
        // Shared store lock: GC cannot remove the temp dir or the layer blob meanwhile.
        let _gc = crate::lock::shared(&self.layout.gc_lock())?;
        let final_dir = self.layout.snapshot(chain_id);
        if is_complete(&final_dir) {
            return Ok(());
        }
        // A directory without its marker was half deleted or half written: never use it.
        self.discard_incomplete_snapshot(chain_id)?;
        let tmp = self
            .layout
            .snapshots()
            .join(format!(".tmp-{}", random_name()));
        let fs_dir = tmp.join("fs");
        fs::create_dir_all(&fs_dir).map_err(|e| Error::io("cannot create", &fs_dir, e))?;
        let result = (|| {
            let reader = self.open_blob(&layer.digest)?;
            let compression = match layer.media_type.layer_compression() {
                Some(strata_oci::media_type::Compression::None) => {
                    Some(strata_layer::Compression::None)
                }
                Some(strata_oci::media_type::Compression::Gzip) => {
                    Some(strata_layer::Compression::Gzip)
                }
                Some(strata_oci::media_type::Compression::Zstd) => {
                    Some(strata_layer::Compression::Zstd)
                }
                None => None,
            };
            let opts = strata_layer::ApplyOptions {
                compression,
                whiteouts: strata_layer::WhiteoutMode::Overlay {
                    user_xattr: options.user_xattr,
                },
                expected_diff_id: Some(diff_id.clone()),
                ..Default::default()
            };
            strata_layer::apply_layer(reader, &fs_dir, &opts).map_err(|e| {
                Error::new(
                    ErrorKind::Layer,
                    format!("cannot unpack layer {}: {e}", layer.digest),
                )
            })?;
            fs::write(tmp.join("diffid"), diff_id.to_string())
                .map_err(|e| Error::io("cannot write", &tmp.join("diffid"), e))?;
            mark_complete(&tmp)
        })();
        if let Err(e) = result {
            let _ = remove_tree(&tmp);
            return Err(e);
        }
        match fs::rename(&tmp, &final_dir) {
            Ok(()) => crate::content::sync_dir(&self.layout.snapshots()),
            // Another process published the same snapshot first: keep theirs.
            Err(_) if is_complete(&final_dir) => remove_tree(&tmp),
            Err(e) => {
                let _ = remove_tree(&tmp);
                Err(Error::io("cannot publish snapshot", &final_dir, e))
            }
        }
    }
}
