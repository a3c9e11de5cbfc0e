//! Turning a step's staged directory into a layer. Locally built layers are uncompressed,
//! as docker's own store keeps them: builds skip compression entirely (push and save
//! compress when they need to), and the store keeps each one as its snapshot plus a record
//! it regenerates the tar from, so a build hashes its layer bytes but never writes them.

use std::path::Path;

use strata_oci::{media_type, Digest};
pub use strata_store::SnapshotForm;
use strata_store::Store;

use crate::error::Result;
use crate::state::LayerRef;

/// The layer made from a staged directory, or `None` when the step changed nothing.
pub fn commit_layer(
    store: &Store,
    staged: &Path,
    kind: SnapshotForm,
    parent_chain: Option<&Digest>,
    source_date_epoch: Option<i64>,
) -> Result<Option<(LayerRef, Digest)>> {
    let empty = std::fs::read_dir(staged)?.next().is_none();
    if empty && kind == SnapshotForm::OverlayUpper {
        return Ok(None);
    }
    let built = store.commit_built_layer(staged, kind, source_date_epoch, parent_chain)?;
    let layer = LayerRef {
        digest: built.diff_id.clone(),
        diff_id: built.diff_id,
        size: built.size,
        media_type: media_type::OCI_LAYER_TAR.to_owned(),
    };
    Ok(Some((layer, built.chain_id)))
}

/// Chain ID of a layer stack's top, from its diff IDs.
pub fn top_chain_id(layers: &[LayerRef]) -> Option<Digest> {
    let ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    strata_store::chain_ids(&ids).pop()
}
