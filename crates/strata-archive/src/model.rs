//! The parts of OCI / Docker documents that archives need, as strata-archive reads them.
//!
//! Documents are parsed only to find what they reference; their raw bytes are what gets
//! stored, so digests stay those of the bytes in the archive. Unknown fields are ignored
//! on read and never re-serialised.

use serde::Deserialize;
use strata_oci::Digest;

use crate::error::{Error, Result};

/// `oci-layout` file contents.
pub const OCI_LAYOUT_FILE: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// Annotation holding the full image name (containerd and Docker ≥ 25).
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// Annotation holding the reference name (the tag, as Docker writes it).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

pub use strata_oci::{Descriptor, ImageManifest as Manifest};

/// An image index or Docker manifest list; `manifests: null` reads as empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub manifests: Vec<Descriptor>,
}

/// The `rootfs` of an image config.
#[derive(Debug, Clone, Deserialize)]
pub struct RootFs {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub diff_ids: Vec<Digest>,
}

/// What archives need from an image config.
#[derive(Debug, Clone, Deserialize)]
pub struct ConfigHead {
    pub rootfs: Option<RootFs>,
}

fn null_as_empty<'de, D, T>(de: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(de)?.unwrap_or_default())
}

/// Parse a JSON document, naming `what` in the error.
pub fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::malformed(format!("invalid {what}: {e}")).with_source(e))
}
