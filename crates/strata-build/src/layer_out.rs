//! Turning a step's staged directory into a layer blob in the store and a published
//! snapshot. Locally built layers are stored uncompressed, as docker's own store keeps
//! them: builds skip compression entirely, and push or save compress when they need to.

use std::path::Path;

use strata_layer::WriteOptions;
use strata_oci::{media_type, Digest};
use strata_store::Store;

use crate::error::{BuildError, Result};
use crate::state::LayerRef;

/// How the staged directory is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagedKind {
    /// Plain files: everything in it is the layer (COPY, ADD, WORKDIR).
    Tree,
    /// An overlayfs upper dir: whiteouts and opaque dirs to translate (RUN).
    OverlayUpper,
}

/// The layer made from a staged directory, or `None` when the step changed nothing.
pub fn commit_layer(
    store: &Store,
    staged: &Path,
    kind: StagedKind,
    parent_chain: Option<&Digest>,
    source_date_epoch: Option<i64>,
) -> Result<Option<(LayerRef, Digest)>> {
    let empty = std::fs::read_dir(staged)?.next().is_none();
    if empty && kind == StagedKind::OverlayUpper {
        return Ok(None);
    }
    // Uncompressed: the blob digest is the diffID, so the store's writer (which hashes what
    // it commits anyway) is the only sha256 pass over the layer.
    let blob = store.writer(None)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, blob);
    let opts = WriteOptions {
        source_date_epoch,
        ..WriteOptions::default()
    };
    match kind {
        StagedKind::Tree => strata_layer::write_tree(staged, &mut out, &opts)?,
        StagedKind::OverlayUpper => strata_layer::write_overlay_diff(staged, &mut out, &opts)?,
    };
    let blob = out
        .into_inner()
        .map_err(|e| BuildError::internal(e.error()))?;
    let (digest, size) = blob.commit()?;
    // Uncompressed: the blob's digest is the layer's diffID.
    let diff_id = digest.clone();
    let chain_id = match parent_chain {
        None => diff_id.clone(),
        Some(p) => strata_store::chain_ids(&[p.clone(), diff_id.clone()]).remove(1),
    };
    store.publish_snapshot(&chain_id, &diff_id, staged)?;
    let layer = LayerRef {
        digest,
        diff_id,
        size,
        media_type: media_type::OCI_LAYER_TAR.to_owned(),
    };
    Ok(Some((layer, chain_id)))
}

/// Chain ID of a layer stack's top, from its diff IDs.
pub fn top_chain_id(layers: &[LayerRef]) -> Option<Digest> {
    let ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    strata_store::chain_ids(&ids).pop()
}
