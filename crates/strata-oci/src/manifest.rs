//! Image manifests: OCI `application/vnd.oci.image.manifest.v1+json` and Docker
//! `application/vnd.docker.distribution.manifest.v2+json` share one shape, so one struct
//! serves both; `media_type` tells them apart.
//!
//! These are plain serde structs rather than `oci-spec` types: `oci-spec` drops fields it does
//! not know and models only OCI, while strata must carry Docker documents and artifact fields
//! through untouched. Unknown fields land in `extra` and are written back out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::descriptor::Descriptor;
use crate::media_type::{MediaType, DOCKER_MANIFEST, OCI_MANIFEST};

/// An image manifest (OCI or Docker v2 schema 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
    pub config: Descriptor,
    /// Always written, even when empty: OCI requires the field.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ImageManifest {
    /// A new OCI manifest for `config` and `layers`.
    pub fn oci(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Self::with_media_type(OCI_MANIFEST, config, layers)
    }

    /// A new Docker v2 schema 2 manifest for `config` and `layers`.
    pub fn docker(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Self::with_media_type(DOCKER_MANIFEST, config, layers)
    }

    fn with_media_type(media_type: &str, config: Descriptor, layers: Vec<Descriptor>) -> Self {
        ImageManifest {
            schema_version: 2,
            media_type: Some(MediaType::from(media_type)),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// Whether this is a Docker v2 schema 2 manifest (by its declared media type).
    pub fn is_docker(&self) -> bool {
        self.media_type
            .as_ref()
            .is_some_and(|m| m.as_str() == DOCKER_MANIFEST)
    }

    /// The media type this manifest is served with; OCI when the document does not say.
    pub fn effective_media_type(&self) -> MediaType {
        self.media_type
            .clone()
            .unwrap_or_else(|| MediaType::from(OCI_MANIFEST))
    }

    /// Sum of the config and layer sizes (what a pull transfers besides the manifest).
    pub fn total_size(&self) -> u64 {
        self.config.size + self.layers.iter().map(|l| l.size).sum::<u64>()
    }
}
