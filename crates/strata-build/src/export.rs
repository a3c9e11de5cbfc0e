//! The final image: config and manifest blobs in the store, an image record, tags.

use strata_oci::{media_type, Descriptor, Digest, ImageManifest, MediaType};
use strata_store::Store;

use crate::error::{BuildError, Result};
use crate::state::ImageState;

/// What an export produced.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The image ID (config digest).
    pub id: Digest,
    pub manifest_digest: Digest,
    pub manifest: Vec<u8>,
    pub config: Vec<u8>,
}

/// Serialise `state` as an OCI image: its blobs go to the store, and an (untagged) image
/// record too when `record`.
pub fn export(store: &Store, state: &ImageState, record: bool) -> Result<Exported> {
    let config = serde_json::to_vec(&state.config).map_err(BuildError::internal)?;
    let config_digest = store.put_bytes(&config)?;
    let layers: Vec<Descriptor> = state
        .layers
        .iter()
        .map(|l| {
            Descriptor::new(
                MediaType::new(l.media_type.clone()),
                l.digest.clone(),
                l.size,
            )
        })
        .collect();
    let manifest = ImageManifest::oci(
        Descriptor::new(
            MediaType::new(media_type::OCI_CONFIG),
            config_digest.clone(),
            config.len() as u64,
        ),
        layers,
    );
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(BuildError::internal)?;
    let manifest_digest = store.put_bytes(&manifest_bytes)?;
    if record {
        store.add_image(&manifest_bytes, &MediaType::new(media_type::OCI_MANIFEST))?;
    }
    Ok(Exported {
        id: config_digest,
        manifest_digest,
        manifest: manifest_bytes,
        config,
    })
}
