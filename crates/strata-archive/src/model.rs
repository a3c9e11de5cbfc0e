//! The parts of OCI / Docker documents that archives need, as strata-archive reads them.
//!
//! Documents are parsed only to find what they reference; their raw bytes are what gets
//! stored, so digests stay those of the bytes in the archive. Unknown fields are ignored
//! on read and never re-serialised.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_oci::{Digest, MediaType};

use crate::error::{Error, Result};

/// `oci-layout` file contents.
pub const OCI_LAYOUT_FILE: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// Annotation holding the full image name (containerd and Docker ≥ 25).
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// Annotation holding the reference name (the tag, as Docker writes it).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: MediaType,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

impl Descriptor {
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: MediaType::new(media_type),
            digest,
            size,
            annotations: None,
            platform: None,
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// An image manifest (OCI or Docker schema 2): config and layers.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

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

/// Media types a descriptor may carry for an image manifest.
pub fn is_manifest(mt: &MediaType) -> bool {
    matches!(
        mt.as_str(),
        strata_oci::media_type::OCI_MANIFEST | strata_oci::media_type::DOCKER_MANIFEST
    )
}

/// Media types a descriptor may carry for an index / manifest list.
pub fn is_index(mt: &MediaType) -> bool {
    matches!(
        mt.as_str(),
        strata_oci::media_type::OCI_INDEX | strata_oci::media_type::DOCKER_MANIFEST_LIST
    )
}
