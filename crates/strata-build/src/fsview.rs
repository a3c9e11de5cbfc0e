//! Read access to a stage's root filesystem: its layers' snapshots stacked as overlay
//! lowerdirs. Lookups walk the snapshots top-down (honouring whiteouts and opaque dirs);
//! copying out of a stage mounts a read-only overlay.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use strata_store::{LayerRecord, Store, UnpackOptions};

use crate::error::{BuildError, Result};
use crate::state::LayerRef;

/// Snapshot directories of a layer stack, bottom first.
pub fn snapshots(store: &Store, layers: &[LayerRef]) -> Result<Vec<PathBuf>> {
    let records: Vec<LayerRecord> = layers
        .iter()
        .map(|l| LayerRecord {
            digest: l.digest.clone(),
            size: l.size,
            media_type: l.media_type.as_str().into(),
        })
        .collect();
    let diff_ids: Vec<_> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let snaps = store.ensure_layers_unpacked(&records, &diff_ids, &UnpackOptions::default())?;
    Ok(snaps.into_iter().map(|s| s.fs_path).collect())
}

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
}

/// `lstat` of `rel` (relative, no leading `/`) in the merged view of `lowers` (bottom first),
/// without following a final symlink. Intermediate symlinks are not followed either: callers
/// use this for COPY destination checks where BuildKit resolves within the root.
pub fn lookup(lowers: &[PathBuf], rel: &str) -> Option<fs::Metadata> {
    let rel = rel.trim_matches('/');
    if rel.is_empty() {
        return lowers.last().and_then(|l| fs::metadata(l).ok());
    }
    let comps: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    'layers: for lower in lowers.iter().rev() {
        // A whiteout or opaque dir on the way down hides everything below this layer.
        let mut p = lower.clone();
        for (i, c) in comps.iter().enumerate() {
            p.push(c);
            match fs::symlink_metadata(&p) {
                Ok(m) if is_whiteout(&m) => return None,
                Ok(m) => {
                    if i + 1 == comps.len() {
                        return Some(m);
                    }
                    if !m.is_dir() {
                        return None;
                    }
                    if is_opaque(&p) {
                        // Nothing below this layer shows through this directory.
                        return lookup_in_one(&p, &comps[i + 1..]);
                    }
                }
                Err(_) => continue 'layers,
            }
        }
    }
    None
}

fn lookup_in_one(dir: &Path, rest: &[&str]) -> Option<fs::Metadata> {
    let p = rest.iter().fold(dir.to_path_buf(), |p, c| p.join(c));
    fs::symlink_metadata(p).ok().filter(|m| !is_whiteout(m))
}

/// A read-only view of a layer stack at a path, unmounted on drop.
pub struct MountedView {
    path: PathBuf,
    mounted: bool,
    _tmp: Option<tempfile::TempDir>,
}

impl MountedView {
    /// Mount `lowers` (bottom first) read-only under `scratch_dir`. One layer is used in
    /// place; none gives an empty directory.
    pub fn mount(lowers: &[PathBuf], scratch_dir: &Path) -> Result<MountedView> {
        let tmp = tempfile::Builder::new()
            .prefix("view-")
            .tempdir_in(scratch_dir)?;
        match lowers.len() {
            0 => Ok(MountedView {
                path: tmp.path().to_path_buf(),
                mounted: false,
                _tmp: Some(tmp),
            }),
            1 => Ok(MountedView {
                path: lowers[0].clone(),
                mounted: false,
                _tmp: Some(tmp),
            }),
            _ => {
                let dirs: Vec<String> = lowers
                    .iter()
                    .rev()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                let target = tmp.path().join("m");
                fs::create_dir(&target)?;
                let status = std::process::Command::new("mount")
                    .args(["-t", "overlay", "overlay", "-o"])
                    .arg(format!("lowerdir={}", dirs.join(":")))
                    .arg(&target)
                    .status()?;
                if !status.success() {
                    return Err(BuildError::internal(format!(
                        "cannot mount a read-only view of {} layers at {}",
                        lowers.len(),
                        target.display()
                    )));
                }
                Ok(MountedView {
                    path: target,
                    mounted: true,
                    _tmp: Some(tmp),
                })
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MountedView {
    fn drop(&mut self) {
        if self.mounted {
            let _ = std::process::Command::new("umount")
                .arg(&self.path)
                .status();
        }
    }
}
