//! Flattening an image's layers into one root filesystem tar (`strata image export`).
//!
//! Layers are applied in order onto a scratch directory with strata-layer's safe applier
//! (whiteouts honoured, nothing escapes the root), and the result is written as one
//! deterministic tar. Going through a directory costs disk space the size of the root
//! filesystem but keeps memory constant and gets hard links, opaque directories and
//! deletions exactly right; the scratch directory is removed afterwards, also on error.

use std::io::Write;
use std::path::Path;

use strata_layer::{apply_layer, write_tree, ApplyOptions, WriteOptions};

use crate::error::{Error, ErrorKind, Result};
use crate::model::Descriptor;
use crate::sink::BlobSource;

/// Apply `layers` (bottom first) from `source` and write the merged tree as a tar to
/// `out`, using a temporary directory under `scratch`.
pub fn flatten<W: Write>(
    layers: &[Descriptor],
    source: &dyn BlobSource,
    scratch: &Path,
    out: W,
) -> Result<W> {
    let tmp = tempfile::Builder::new()
        .prefix(".strata-export-")
        .tempdir_in(scratch)
        .map_err(|e| Error::io("creating a scratch directory in", Some(scratch), e))?;
    let rootfs = tmp.path();
    for layer in layers {
        let reader = source.open_blob(&layer.digest)?;
        apply_layer(reader, rootfs, &ApplyOptions::default()).map_err(|e| {
            Error::new(
                ErrorKind::Layer,
                format!("applying layer {}: {e}", layer.digest),
            )
            .with_source(e)
        })?;
    }
    let mut out = out;
    write_tree(rootfs, &mut out, &WriteOptions::default()).map_err(|e| {
        Error::new(
            ErrorKind::Layer,
            format!("writing the root filesystem: {e}"),
        )
        .with_source(e)
    })?;
    out.flush()
        .map_err(|e| Error::io("flushing the export", None, e))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{BlobSink, MemoryBlobs};

    fn layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_ustar();
            match data {
                Some(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, name, *d).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, name, &[][..]).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_remove_lower_files() {
        let mut blobs = MemoryBlobs::default();
        let l1 = layer(&[("etc/", None), ("etc/a", Some(b"1")), ("etc/b", Some(b"2"))]);
        let l2 = layer(&[
            ("etc/", None),
            ("etc/.wh.a", Some(b"")),
            ("etc/c", Some(b"3")),
        ]);
        let mut descs = Vec::new();
        for l in [l1, l2] {
            let (d, size) = blobs.ingest(&mut &l[..], None).unwrap();
            descs.push(Descriptor::new(
                strata_oci::media_type::OCI_LAYER_TAR,
                d,
                size,
            ));
        }
        let scratch = tempfile::tempdir().unwrap();
        let out = flatten(&descs, &blobs, scratch.path(), Vec::new()).unwrap();
        let mut names: Vec<String> = tar::Archive::new(&out[..])
            .entries()
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path().unwrap().display().to_string();
                p.trim_start_matches("./").trim_end_matches('/').to_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["etc", "etc/b", "etc/c"]);
        // The scratch directory is gone.
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    }
}
