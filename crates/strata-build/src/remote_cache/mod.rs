//! Build cache import and export: `--cache-from` and `--cache-to`.
//!
//! A build's step results (the [`CachedLayer`] records of [`crate::cache::CACHE_TABLE`],
//! keyed by content cache keys) can be written to a registry or a local directory, and
//! read back on another machine, so a fresh store reuses layers built elsewhere. Cache
//! keys are content based ([`crate::cache::KeyInputs::key`]), so they are valid on any
//! store holding the same base image.
//!
//! # Format: strata build cache v1
//!
//! The cache is one OCI image manifest (`application/vnd.oci.image.manifest.v1+json`):
//!
//! - `artifactType`: [`ARTIFACT_TYPE`] (`application/vnd.strata.buildcache.v1+json`);
//! - `config`: a JSON blob of media type [`CONFIG_MEDIA_TYPE`]
//!   (`application/vnd.strata.buildcache.config.v1+json`), the key table [`CacheConfig`]:
//!   ```json
//!   {"version": 1,
//!    "records": [
//!      {"key": "sha256:…", "created": "2024-01-01T00:00:00Z",
//!       "layer": {"descriptor": {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
//!                                "digest": "sha256:…", "size": 123},
//!                 "diffID": "sha256:…", "digest": "sha256:…", "size": 10240,
//!                 "mediaType": "application/vnd.oci.image.layer.v1.tar"}},
//!      {"key": "sha256:…", "created": "…"}]}
//!   ```
//!   A record without `layer` is a step that changed nothing. `layer.descriptor` is the
//!   blob as the cache holds it (one of the manifest's layers); `digest`, `size` and
//!   `mediaType` are the blob as the builder's store keeps it, `diffID` its uncompressed
//!   digest. `created` is when the step first ran: a cached step keeps it, so the image
//!   ID does not depend on where the cache was filled;
//! - `layers`: every layer blob the records name, once each. Uncompressed store layers
//!   are compressed with gzip (`application/vnd.oci.image.layer.v1.tar+gzip`, the
//!   deterministic compressor push uses); compressed ones are stored as they are.
//!
//! In a registry (`type=registry,ref=REF`) the manifest is put under `REF`'s tag
//! (`latest` when it has none). In a directory (`type=local,dest=DIR` / `src=DIR`) the
//! same blobs form an OCI image layout: `oci-layout`, `blobs/sha256/…`, and `index.json`
//! naming the manifest with `org.opencontainers.image.ref.name` = the `tag=` option
//! (default `latest`).
//!
//! # Import is lazy
//!
//! [`ImportedCache::load`] reads only the manifest and the key table. When a step's key
//! misses the local cache, the builder asks its [`CacheSource`]; a key the imported table
//! has is answered by downloading that one layer into the store (verified against its
//! digest), and recording the result locally. Any failure of a cache source is a warning
//! and a cache miss, never a build failure.
//!
//! # Export
//!
//! [`RemoteCache::export`] writes the records of the steps a build used
//! ([`crate::BuildOutcome::steps`]): with [`CacheMode::Min`] those of the stages the final
//! image is made from, with [`CacheMode::Max`] those of every stage that ran. Blobs the
//! destination already has are not sent again.
//!
//! Registry transfers go through the public API of `strata-distribution`: a cache layer is
//! uploaded as one streamed PATCH from its file and downloaded into an unnamed temporary
//! file (verified) before it is ingested, so memory stays bounded whatever the layer size.

mod backend;
mod export;
mod import;
mod layout;
mod registry;
mod spec;

use serde::{Deserialize, Serialize};
use strata_oci::{Descriptor, Digest};
use strata_store::Store;

use crate::cache::CachedLayer;

pub use backend::RemoteCache;
pub use export::ExportReport;
pub use import::ImportedCache;
pub use spec::{CacheFrom, CacheLocation, CacheMode, CacheTo};

/// `artifactType` of a cache manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.strata.buildcache.v1+json";
/// Media type of the key table (the manifest's config).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.strata.buildcache.config.v1+json";
/// Version of [`CacheConfig`] this module writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Key tables larger than this are refused on import.
pub const CONFIG_LIMIT: u64 = 64 * 1024 * 1024;

/// The key table: the manifest's config blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheConfig {
    pub version: u32,
    pub records: Vec<CacheRecord>,
}

/// One step result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The step's cache key.
    pub key: String,
    /// When the step first ran (RFC 3339).
    pub created: String,
    /// The layer it made; `None` when it changed nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<CacheLayerRef>,
}

/// A record's layer: as the cache holds it, and as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheLayerRef {
    /// The blob in the cache (one of the manifest's layers).
    pub descriptor: Descriptor,
    #[serde(rename = "diffID")]
    pub diff_id: Digest,
    /// The blob in the builder's store.
    pub digest: Digest,
    pub size: u64,
    #[serde(rename = "mediaType")]
    pub media_type: String,
}

impl CacheRecord {
    /// The record the builder's cache table holds for this step.
    pub fn to_cached(&self) -> CachedLayer {
        match &self.layer {
            Some(l) => CachedLayer {
                digest: l.digest.clone(),
                diff_id: l.diff_id.clone(),
                size: l.size,
                media_type: l.media_type.clone(),
                empty: false,
                created: self.created.clone(),
            },
            None => CachedLayer {
                digest: Digest::sha256_of(b""),
                diff_id: Digest::sha256_of(b""),
                size: 0,
                media_type: String::new(),
                empty: true,
                created: self.created.clone(),
            },
        }
    }
}

/// A layer step a build resolved, from the cache or by running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedStep {
    /// Index of the stage in the Dockerfile.
    pub stage: usize,
    pub key: String,
    pub result: CachedLayer,
    /// Whether the stage is one the final image is made from (the target and the stages
    /// it is based on through `FROM <stage>`).
    pub in_image: bool,
}

/// Answers cache keys the local store does not have. Implementations never fail a build:
/// a problem is a miss (and, for [`ImportedCache`], a warning).
pub trait CacheSource: Send + Sync {
    /// The result for `key`, with its layer blob now in `store` and the result recorded
    /// in the store's cache table; `None` on a miss.
    fn lookup(&self, store: &Store, key: &str) -> Option<CachedLayer>;
}

impl<T: CacheSource> CacheSource for [T] {
    fn lookup(&self, store: &Store, key: &str) -> Option<CachedLayer> {
        self.iter().find_map(|s| s.lookup(store, key))
    }
}

impl<T: CacheSource> CacheSource for Vec<T> {
    fn lookup(&self, store: &Store, key: &str) -> Option<CachedLayer> {
        self.as_slice().lookup(store, key)
    }
}

/// Stages the final image is made from: the target, then the stages below it through
/// `FROM <stage>`.
pub(crate) fn image_stages(plan: &crate::plan::Plan) -> Vec<usize> {
    let mut out = vec![plan.target];
    let mut i = plan.target;
    while let Some(strata_dockerfile::scope::Base::Stage(j)) =
        plan.resolved.stages.get(i).map(|s| &s.base)
    {
        if out.contains(j) {
            break;
        }
        out.push(*j);
        i = *j;
    }
    out
}

/// Records to export for `mode`, one per key, in build order.
pub fn select(steps: &[UsedStep], mode: CacheMode) -> Vec<CacheRecordSource> {
    let mut seen = std::collections::HashSet::new();
    steps
        .iter()
        .filter(|s| mode == CacheMode::Max || s.in_image)
        .filter(|s| seen.insert(s.key.clone()))
        .map(|s| CacheRecordSource {
            key: s.key.clone(),
            result: s.result.clone(),
        })
        .collect()
}

/// A step result chosen for export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecordSource {
    pub key: String,
    pub result: CachedLayer,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(stage: usize, key: &str, in_image: bool) -> UsedStep {
        UsedStep {
            stage,
            key: key.into(),
            result: CacheRecord {
                key: key.into(),
                created: "t".into(),
                layer: None,
            }
            .to_cached(),
            in_image,
        }
    }

    #[test]
    fn min_keeps_image_stages_max_keeps_all_without_duplicates() {
        let steps = [
            step(0, "a", false),
            step(1, "b", true),
            step(1, "b", true),
            step(1, "c", true),
        ];
        let min: Vec<_> = select(&steps, CacheMode::Min)
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(min, ["b", "c"]);
        let max: Vec<_> = select(&steps, CacheMode::Max)
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(max, ["a", "b", "c"]);
    }

    #[test]
    fn config_round_trips_with_documented_field_names() {
        let d = Digest::sha256_of(b"x");
        let cfg = CacheConfig {
            version: FORMAT_VERSION,
            records: vec![CacheRecord {
                key: d.to_string(),
                created: "2024-01-01T00:00:00Z".into(),
                layer: Some(CacheLayerRef {
                    descriptor: Descriptor::new(
                        strata_oci::media_type::OCI_LAYER_GZIP,
                        d.clone(),
                        3,
                    ),
                    diff_id: d.clone(),
                    digest: d.clone(),
                    size: 1,
                    media_type: strata_oci::media_type::OCI_LAYER_TAR.into(),
                }),
            }],
        };
        let json = serde_json::to_value(&cfg).unwrap();
        assert!(json["records"][0]["layer"]["diffID"].is_string());
        assert!(json["records"][0]["layer"]["mediaType"].is_string());
        let back: CacheConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, cfg);
        assert!(!back.records[0].to_cached().empty);
    }
}
