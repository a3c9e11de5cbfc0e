//! Image indexes (`application/vnd.oci.image.index.v1+json`) and Docker manifest lists
//! (`application/vnd.docker.distribution.manifest.list.v2+json`): one shape, one struct.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::descriptor::Descriptor;
use crate::media_type::{MediaType, DOCKER_MANIFEST_LIST, OCI_INDEX};
use crate::platform::Platform;

/// An image index or Docker manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
    /// Always written, even when empty: the field is required.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ImageIndex {
    /// A new OCI image index.
    pub fn oci(manifests: Vec<Descriptor>) -> Self {
        Self::with_media_type(OCI_INDEX, manifests)
    }

    /// A new Docker manifest list.
    pub fn docker(manifests: Vec<Descriptor>) -> Self {
        Self::with_media_type(DOCKER_MANIFEST_LIST, manifests)
    }

    fn with_media_type(media_type: &str, manifests: Vec<Descriptor>) -> Self {
        ImageIndex {
            schema_version: 2,
            media_type: Some(MediaType::from(media_type)),
            artifact_type: None,
            manifests,
            subject: None,
            annotations: BTreeMap::new(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn is_docker(&self) -> bool {
        self.media_type
            .as_ref()
            .is_some_and(|m| m.as_str() == DOCKER_MANIFEST_LIST)
    }

    /// The media type this index is served with; OCI when the document does not say.
    pub fn effective_media_type(&self) -> MediaType {
        self.media_type
            .clone()
            .unwrap_or_else(|| MediaType::from(OCI_INDEX))
    }

    /// Entries whose platform satisfies `wanted`, in document order. Entries without a
    /// platform (attestations, artifacts) never match.
    pub fn manifests_for<'a>(
        &'a self,
        wanted: &'a Platform,
    ) -> impl Iterator<Item = &'a Descriptor> + 'a {
        self.manifests
            .iter()
            .filter(move |d| d.platform.as_ref().is_some_and(|p| wanted.matches(p)))
    }

    /// The entry that runs best on `host` (see [`Platform::compatibility`]); the first in
    /// document order among equally good ones.
    pub fn best_for(&self, host: &Platform) -> Option<&Descriptor> {
        self.manifests
            .iter()
            .filter_map(|d| Some((host.compatibility(d.platform.as_ref()?)?, d)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, d)| d)
    }
}
