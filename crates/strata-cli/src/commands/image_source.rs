//! Opening an image from any source for commands that read its layers (`sbom`, `scan`):
//! the local store by name or ID, or a skopeo-style transport (`docker-archive:FILE`,
//! `oci:DIR[:TAG]`, `oci-archive:FILE`, `docker://REF`) copied into a temporary store
//! beside the local one first. Everything that depends on where an image lives is in
//! [`open_image`], so a shared image-opening crate can replace it in one place.

use std::io::{self, Read};

use anyhow::{bail, Context, Result};
use clap::Parser;
use strata_layer::LayerReader;
use strata_oci::Digest;
use strata_store::{ImageRecord, Store};

use super::archive_common::open_store;
use crate::Global;

/// An image whose blobs are in `store`.
pub struct SourceImage {
    pub store: Store,
    pub record: ImageRecord,
    /// The name the user gave.
    pub name: String,
    /// The temporary store holding a non-local image, removed on drop.
    _tmp: Option<tempfile::TempDir>,
}

const TRANSPORTS: &[&str] = &["docker-archive:", "oci:", "oci-archive:", "docker://"];

/// Wrapper so `copy`'s own argument parser builds its arguments.
#[derive(Parser)]
struct CopyCommand {
    #[command(flatten)]
    args: super::copy::CopyArgs,
}

/// Open `spec`: a transport-prefixed source or a local image name / ID.
pub fn open_image(global: &Global, spec: &str) -> Result<SourceImage> {
    if !TRANSPORTS.iter().any(|t| spec.starts_with(t)) {
        let store = open_store(global)?;
        let image = store
            .resolve(spec)
            .with_context(|| format!("image {spec}"))?;
        return Ok(SourceImage {
            store,
            record: image.record,
            name: spec.to_owned(),
            _tmp: None,
        });
    }
    if let Some(file) = spec.strip_prefix("oci-archive:") {
        // An OCI layout tar is one of the formats a docker-archive load reads.
        return open_image(global, &format!("docker-archive:{file}"));
    }
    let parent = global
        .root
        .clone()
        .unwrap_or_else(strata_store::default_root)
        .join("tmp");
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("sbom-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary store in {}", parent.display()))?;
    let tmp_global = Global {
        root: Some(tmp.path().to_owned()),
    };
    let copy = CopyCommand::try_parse_from(["copy", "--quiet", spec, "strata:source:latest"])
        .with_context(|| format!("{spec}: not a valid image source"))?;
    super::copy::copy_image(copy.args, &tmp_global)
        .with_context(|| format!("reading image {spec}"))?;
    let store = Store::open(tmp.path())?;
    let record = store.resolve("source:latest")?.record;
    Ok(SourceImage {
        store,
        record,
        name: spec.to_owned(),
        _tmp: Some(tmp),
    })
}

impl SourceImage {
    /// Stream each layer, bottom first, uncompressed, to `f` with its index and diffID; the
    /// diffID is checked once `f` returns (the rest of the stream is read for that).
    pub fn for_each_layer(
        &self,
        mut f: impl FnMut(usize, &Digest, &mut dyn Read) -> Result<()>,
    ) -> Result<()> {
        if self.record.layers.len() != self.record.diff_ids.len() {
            bail!(
                "image {}: {} layers but {} diffIDs in its config",
                self.name,
                self.record.layers.len(),
                self.record.diff_ids.len()
            );
        }
        for (i, (layer, diff_id)) in self
            .record
            .layers
            .iter()
            .zip(&self.record.diff_ids)
            .enumerate()
        {
            let mut blob = self
                .store
                .open_blob(&layer.digest)
                .with_context(|| format!("opening layer {}", layer.digest))?;
            if &layer.digest == diff_id {
                // An uncompressed layer: the store's reader checks this very digest at the
                // end of the stream, so a second hash for the diffID would be wasted work.
                f(i, diff_id, &mut blob)?;
                io::copy(&mut blob, &mut io::sink())
                    .with_context(|| format!("reading layer {}", layer.digest))?;
                continue;
            }
            let mut reader = LayerReader::new(blob, None)
                .with_context(|| format!("reading layer {}", layer.digest))?;
            f(i, diff_id, &mut reader)?;
            io::copy(&mut reader, &mut io::sink())
                .with_context(|| format!("reading layer {}", layer.digest))?;
            let (got, _) = reader
                .finish()
                .with_context(|| format!("reading layer {}", layer.digest))?;
            if &got != diff_id {
                bail!(
                    "layer {} of image {}: content has diffID {got}, the config says {diff_id}",
                    layer.digest,
                    self.name
                );
            }
        }
        Ok(())
    }
}
