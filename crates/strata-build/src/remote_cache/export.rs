//! `--cache-to`: write the step results a build used, their layer blobs (gzip-compressed
//! when the store keeps them uncompressed), the key table and the manifest.

use std::io;

use serde::{Deserialize, Serialize};
use strata_layer::{CompressOptions, Compression, Encoder};
use strata_oci::{media_type, Algorithm, Descriptor, Digest, DigestWriter, ImageManifest};
use strata_oci::{MediaType, RawManifest};
use strata_store::Store;

use super::backend::RemoteCache;
use super::{select, CacheConfig, CacheLayerRef, CacheMode, CacheRecord, UsedStep};
use super::{ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, FORMAT_VERSION};
use crate::error::{BuildError, Result};

/// Store records table: store layer digest → its gzip copy (`{"digest", "size"}`), so a
/// second export of the same layer need not compress it again to learn its digest.
pub const COMPRESSED_TABLE: &str = "build-cache-gzip";

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The cache manifest's digest.
    pub manifest: Digest,
    /// Step results and distinct layers in the cache.
    pub records: usize,
    pub layers: usize,
    /// Layer blobs sent, and those the destination already had.
    pub uploaded: usize,
    pub existed: usize,
}

#[derive(Serialize, Deserialize)]
struct Compressed {
    digest: Digest,
    size: u64,
}

impl RemoteCache {
    /// Export the results of `steps` (a build's [`crate::BuildOutcome::steps`]) chosen
    /// by `mode`. Errors name the location.
    pub fn export(
        &self,
        store: &Store,
        steps: &[UsedStep],
        mode: CacheMode,
    ) -> Result<ExportReport> {
        self.export_inner(store, steps, mode).map_err(|mut e| {
            e.message = format!("exporting cache to {}: {}", self.location, e.message);
            e
        })
    }

    fn export_inner(
        &self,
        store: &Store,
        steps: &[UsedStep],
        mode: CacheMode,
    ) -> Result<ExportReport> {
        let chosen = select(steps, mode);
        let mut records = Vec::with_capacity(chosen.len());
        let mut layers: Vec<Descriptor> = Vec::new();
        let (mut uploaded, mut existed) = (0, 0);
        for c in chosen {
            let r = &c.result;
            let layer = if r.empty {
                None
            } else {
                let (desc, sent) = self.put_layer(store, &r.digest, &r.media_type)?;
                if !layers.iter().any(|d| d.digest == desc.digest) {
                    match sent {
                        true => uploaded += 1,
                        false => existed += 1,
                    }
                    layers.push(desc.clone());
                }
                Some(CacheLayerRef {
                    descriptor: desc,
                    diff_id: r.diff_id.clone(),
                    digest: r.digest.clone(),
                    size: r.size,
                    media_type: r.media_type.clone(),
                })
            };
            records.push(CacheRecord {
                key: c.key,
                created: r.created.clone(),
                layer,
            });
        }
        let count = records.len();
        let config = CacheConfig {
            version: FORMAT_VERSION,
            records,
        };
        let config_bytes = serde_json::to_vec(&config).map_err(BuildError::internal)?;
        let config_desc = Descriptor::of_bytes(CONFIG_MEDIA_TYPE, &config_bytes);
        if !self.backend.has_blob(&config_desc)? {
            self.backend.put_blob_bytes(&config_desc, &config_bytes)?;
        }
        let layer_count = layers.len();
        let mut manifest = ImageManifest::oci(config_desc, layers);
        manifest.artifact_type = Some(MediaType::from(ARTIFACT_TYPE));
        let raw = RawManifest::from_manifest(&manifest)
            .map_err(|e| BuildError::internal(format!("cache manifest: {e}")))?;
        self.backend.put_manifest(&raw)?;
        Ok(ExportReport {
            manifest: raw.digest,
            records: count,
            layers: layer_count,
            uploaded,
            existed,
        })
    }

    /// Make sure the cache holds the store blob `digest`; returns its cache descriptor and
    /// whether it was sent now.
    fn put_layer(&self, store: &Store, digest: &Digest, media: &str) -> Result<(Descriptor, bool)> {
        let media = MediaType::from(media);
        let size = store.blob_size(digest)?;
        if media.layer_compression() != Some(Compression::None) {
            // Already compressed (or foreign): the cache holds it byte for byte.
            let desc = Descriptor::new(media, digest.clone(), size);
            if self.backend.has_blob(&desc)? {
                return Ok((desc, false));
            }
            let path = store.blob_path(digest)?;
            self.backend.put_blob_file(&desc, &path)?;
            return Ok((desc, true));
        }
        let known: Option<Compressed> = store
            .get_record(COMPRESSED_TABLE, &digest.to_string())?
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(k) = known {
            let desc = Descriptor::new(media_type::OCI_LAYER_GZIP, k.digest, k.size);
            if self.backend.has_blob(&desc)? {
                return Ok((desc, false));
            }
        }
        let scratch = store.root().join("build-v1/tmp");
        std::fs::create_dir_all(&scratch)?;
        let tmp = tempfile::NamedTempFile::new_in(&scratch)?;
        let mut reader = store.open_blob(digest)?;
        let sink = DigestWriter::new(tmp.as_file(), Algorithm::Sha256);
        let mut enc = Encoder::new(sink, &CompressOptions::new(Compression::Gzip))?;
        let io_err =
            |e: io::Error| BuildError::internal(format!("compressing layer {digest}: {e}"));
        io::copy(&mut reader, &mut enc).map_err(io_err)?;
        let (_, gz_digest, gz_size) = enc.finish().map_err(io_err)?.finish();
        let rec = serde_json::to_vec(&Compressed {
            digest: gz_digest.clone(),
            size: gz_size,
        })
        .map_err(BuildError::internal)?;
        store.put_record(COMPRESSED_TABLE, &digest.to_string(), &rec)?;
        let desc = Descriptor::new(media_type::OCI_LAYER_GZIP, gz_digest, gz_size);
        if self.backend.has_blob(&desc)? {
            return Ok((desc, false));
        }
        self.backend.put_blob_file(&desc, tmp.path())?;
        Ok((desc, true))
    }
}
