//! `--cache-from`: read a cache's key table up front, fetch layers only for keys a build
//! asks for. Every problem is a warning and a miss: the build goes on without the cache.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use strata_layer::Compression;
use strata_oci::{Digest, Manifest};
use strata_store::Store;

use super::backend::RemoteCache;
use super::{CacheConfig, CacheLayerRef, CacheRecord, CacheSource};
use super::{ARTIFACT_TYPE, CONFIG_LIMIT, CONFIG_MEDIA_TYPE, FORMAT_VERSION};
use crate::cache::{CachedLayer, CACHE_TABLE};
use crate::error::{BuildError, Result};

/// A cache read with `--cache-from`, answering keys by fetching their layers on demand.
pub struct ImportedCache {
    cache: RemoteCache,
    records: HashMap<String, CacheRecord>,
    warnings: Mutex<Vec<String>>,
    fetched: AtomicUsize,
}

impl std::fmt::Debug for ImportedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedCache")
            .field("cache", &self.cache)
            .field("records", &self.records.len())
            .finish()
    }
}

impl ImportedCache {
    /// Read `cache`'s manifest and key table. Never fails: a missing or unreadable cache
    /// gives an empty table and a warning.
    pub fn load(cache: RemoteCache) -> ImportedCache {
        let mut warnings = Vec::new();
        let records = match read_table(&cache) {
            Ok(Some((records, skipped))) => {
                if skipped > 0 {
                    warnings.push(format!(
                        "cache {}: {skipped} malformed records ignored",
                        cache.location
                    ));
                }
                records
            }
            Ok(None) => {
                warnings.push(format!("cache {} not found", cache.location));
                HashMap::new()
            }
            Err(e) => {
                warnings.push(format!("importing cache {}: {e}", cache.location));
                HashMap::new()
            }
        };
        ImportedCache {
            cache,
            records,
            warnings: Mutex::new(warnings),
            fetched: AtomicUsize::new(0),
        }
    }

    /// Number of step results the cache offers.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Layers downloaded so far.
    pub fn fetched(&self) -> usize {
        self.fetched.load(Ordering::SeqCst)
    }

    /// Problems met so far (cache missing, a layer that could not be fetched, …).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn cache(&self) -> &RemoteCache {
        &self.cache
    }

    fn warn(&self, text: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text);
    }

    fn answer(&self, store: &Store, record: &CacheRecord) -> Result<CachedLayer> {
        let cached = record.to_cached();
        if let Some(layer) = &record.layer {
            if !store.has_blob(&layer.digest) {
                self.fetch(store, layer)?;
                self.fetched.fetch_add(1, Ordering::SeqCst);
            }
            // The layer stays alive as long as the key does, like a locally built one.
            let roots = serde_json::to_vec(&[&layer.digest]).map_err(BuildError::internal)?;
            store.put_record(strata_store::GC_ROOTS_TABLE, &record.key, &roots)?;
        }
        let bytes = serde_json::to_vec(&cached).map_err(BuildError::internal)?;
        store.put_record(CACHE_TABLE, &record.key, &bytes)?;
        Ok(cached)
    }

    /// Download one layer into the store, decompressing it when the cache holds a
    /// compressed copy of an uncompressed store blob. The store's writer checks the
    /// result's digest and size, so nothing unverified becomes visible.
    fn fetch(&self, store: &Store, layer: &CacheLayerRef) -> Result<()> {
        let scratch = store.root().join("build-v1/tmp");
        std::fs::create_dir_all(&scratch)?;
        let mut source = self.cache.backend.open_blob(&layer.descriptor, &scratch)?;
        let mut writer = store.writer(Some((layer.digest.clone(), layer.size)))?;
        let what = |e: io::Error| {
            BuildError::internal(format!(
                "cache {}: layer {}: {e}",
                self.cache.location, layer.descriptor.digest
            ))
        };
        if layer.descriptor.digest == layer.digest {
            io::copy(&mut source, &mut writer).map_err(what)?;
        } else {
            let mut plain = strata_layer::decompress(&mut source, None).map_err(what)?;
            io::copy(&mut plain, &mut writer).map_err(what)?;
            drop(plain);
            // Read what the decompressor left so a verifying source checks its digest.
            io::copy(&mut source, &mut io::sink()).map_err(what)?;
        }
        writer.commit()?;
        Ok(())
    }
}

impl CacheSource for ImportedCache {
    fn lookup(&self, store: &Store, key: &str) -> Option<CachedLayer> {
        let record = self.records.get(key)?;
        match self.answer(store, record) {
            Ok(c) => Some(c),
            Err(e) => {
                self.warn(format!(
                    "cache {}: step {key} not reused: {e}",
                    self.cache.location
                ));
                None
            }
        }
    }
}

type Table = (HashMap<String, CacheRecord>, usize);

/// The key table, and how many records were dropped as malformed; `None` when there is
/// no cache at the location.
fn read_table(cache: &RemoteCache) -> Result<Option<Table>> {
    let Some(raw) = cache.backend.get_manifest()? else {
        return Ok(None);
    };
    let Manifest::Image(manifest) = &raw.parsed else {
        return Err(BuildError::internal("not an image manifest"));
    };
    let artifact = manifest.artifact_type.as_ref().map(|m| m.as_str());
    if artifact != Some(ARTIFACT_TYPE) || manifest.config.media_type.as_str() != CONFIG_MEDIA_TYPE {
        return Err(BuildError::internal(format!(
            "manifest {} is not a strata build cache (artifactType {}, config {})",
            raw.digest,
            artifact.unwrap_or("none"),
            manifest.config.media_type
        )));
    }
    let bytes = cache.backend.get_small(&manifest.config, CONFIG_LIMIT)?;
    let config: CacheConfig = serde_json::from_slice(&bytes)
        .map_err(|e| BuildError::internal(format!("key table {}: {e}", manifest.config.digest)))?;
    if config.version != FORMAT_VERSION {
        return Err(BuildError::internal(format!(
            "key table {}: format version {} is not supported (expected {FORMAT_VERSION})",
            manifest.config.digest, config.version
        )));
    }
    let layers: HashSet<&Digest> = manifest.layers.iter().map(|d| &d.digest).collect();
    let mut out = HashMap::new();
    let mut skipped = 0;
    for r in config.records {
        if valid(&r, &layers) {
            out.insert(r.key.clone(), r);
        } else {
            skipped += 1;
        }
    }
    Ok(Some((out, skipped)))
}

/// A record is usable when its key is a digest, its layer is one of the manifest's, and a
/// compressed cache copy decompresses to the store blob (so the digest check on write
/// covers it).
fn valid(r: &CacheRecord, layers: &HashSet<&Digest>) -> bool {
    if Digest::parse(&r.key).is_err() {
        return false;
    }
    let Some(l) = &r.layer else {
        return true;
    };
    if !layers.contains(&l.descriptor.digest) || !l.descriptor.media_type.is_layer() {
        return false;
    }
    if l.descriptor.digest == l.digest {
        return l.descriptor.size == l.size;
    }
    l.digest == l.diff_id && l.descriptor.media_type.layer_compression() != Some(Compression::None)
}
