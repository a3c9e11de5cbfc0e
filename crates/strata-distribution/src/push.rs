//! `push`: send an image from the store to a registry.
//!
//! Layers the store keeps uncompressed (`…layer.v1.tar`, as strata builds them) are
//! compressed on the fly (gzip by default, zstd on request) and the manifest is rewritten
//! with the compressed descriptors; the config, and so the diffIDs and image ID, stay the
//! same. Layers already compressed are sent byte for byte, and an image with no
//! uncompressed layer is pushed with its original manifest bytes, so its digest is kept.
//!
//! Per blob: skip if the registry has it (HEAD), else try a cross-repository mount from a
//! repository the store knows holds it, else upload. The compressed digest of each layer
//! is remembered (the compressors are deterministic), so a second push of the same layer
//! can be skipped or mounted without compressing it again.

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use strata_layer::{CompressOptions, Compression};
use strata_oci::media_type as mt;
use strata_oci::{Descriptor, Digest, ImageManifest, Manifest, MediaType, RawManifest, Reference};
use strata_store::Store;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::progress::{NoProgress, Outcome, Progress};
use crate::registry::Repository;
use crate::transfer::{self, UploadOptions};

/// Store record table: `<diffID> <compression> <level>` → compressed digest and size.
pub const COMPRESSED_TABLE: &str = "distribution-compressed";

/// Push settings.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Compression for uncompressed layers: gzip or zstd.
    pub compression: Compression,
    pub level: Option<i32>,
    /// Blobs transferred at once.
    pub concurrency: usize,
    pub upload: UploadOptions,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            compression: Compression::Gzip,
            level: None,
            concurrency: 4,
            upload: UploadOptions { chunk_size: None },
        }
    }
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The manifest as pushed (possibly rewritten with compressed layers).
    pub manifest: RawManifest,
    /// Blobs uploaded, already present, mounted.
    pub uploaded: usize,
    pub existed: usize,
    pub mounted: usize,
    pub bytes_uploaded: u64,
}

#[derive(Serialize, Deserialize)]
struct CompressedRecord {
    digest: Digest,
    size: u64,
}

fn cache_key(diff_id: &Digest, opts: &PushOptions) -> String {
    let c = match opts.compression {
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
        Compression::None => "none",
    };
    format!(
        "{diff_id} {c} {}",
        opts.level.map(|l| l.to_string()).unwrap_or_default()
    )
}

/// Push the image whose manifest digest is `manifest_digest` to `dest`.
pub async fn push(
    client: &Client,
    store: &Store,
    manifest_digest: &Digest,
    dest: &Reference,
    opts: &PushOptions,
    progress: Arc<dyn Progress>,
) -> Result<Pushed> {
    if opts.compression == Compression::None {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "push compression must be gzip or zstd",
        ));
    }
    let record = store
        .get_image(manifest_digest)
        .map_err(|e| Error::store(format!("image {manifest_digest}"), e))?;
    let bytes = store
        .read_blob_verified(manifest_digest)
        .map_err(|e| Error::store(format!("reading manifest {manifest_digest}"), e))?;
    let raw =
        RawManifest::parse_verified(bytes, Some(record.media_type.as_str()), manifest_digest)?;
    let Manifest::Image(manifest) = &raw.parsed else {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("{manifest_digest} is an index; push its images or use `strata manifest push`"),
        ));
    };
    let repo = Repository::of(client, dest);
    let docker = manifest.is_docker();
    let diff_ids = record.diff_ids.clone();
    let jobs = manifest
        .layers
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, layer)| {
            let progress = progress.clone();
            let diff_id = diff_ids.get(i).cloned();
            async move { push_layer(&repo, store, &layer, diff_id, opts, progress).await }
        });
    let results: Vec<(Descriptor, Outcome, u64)> = futures::stream::iter(jobs)
        .buffered(opts.concurrency.max(1))
        .try_collect()
        .await?;

    // The config goes after the layers so a registry never holds a config whose layers
    // are missing longer than needed.
    // Like docker, progress shows layers only; the config is not a line of its own.
    let config_outcome = push_small_blob(&repo, store, &manifest.config, &NoProgress).await?;

    let changed = results
        .iter()
        .zip(&manifest.layers)
        .any(|((pushed, _, _), orig)| pushed != orig);
    let out = if changed {
        let mut m: ImageManifest = manifest.clone();
        m.layers = results.iter().map(|(d, _, _)| d.clone()).collect();
        // Docker schema 2 has no zstd layer type: such a manifest becomes OCI.
        if docker && opts.compression == Compression::Zstd {
            m.media_type = Some(MediaType::from(mt::OCI_MANIFEST));
            m.config.media_type = m.config.media_type.to_oci();
        }
        RawManifest::from_manifest(&m)?
    } else {
        raw.clone()
    };
    let target = match (dest.tag(), dest.digest()) {
        (Some(t), _) => t.to_owned(),
        (None, Some(d)) => {
            if d != &out.digest {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{dest}: the pushed manifest would have digest {}, not the one named",
                        out.digest
                    ),
                ));
            }
            d.to_string()
        }
        (None, None) => "latest".to_owned(),
    };
    repo.put_manifest(&target, &out).await?;
    // The registry now holds the image under this digest: docker's RepoDigests.
    let repo_digest = dest
        .with_digest(out.digest.clone())
        .without_tag()
        .familiar();
    store
        .add_repo_digest(manifest_digest, &repo_digest)
        .map_err(|e| Error::store(format!("recording {repo_digest}"), e))?;
    let mut counts = (0, 0, 0);
    let mut bytes_uploaded = 0;
    for (d, o, _) in &results {
        match o {
            Outcome::Transferred => {
                counts.0 += 1;
                bytes_uploaded += d.size;
            }
            Outcome::Exists => counts.1 += 1,
            Outcome::Mounted => counts.2 += 1,
        }
    }
    match config_outcome {
        Outcome::Transferred => counts.0 += 1,
        Outcome::Exists => counts.1 += 1,
        Outcome::Mounted => counts.2 += 1,
    }
    Ok(Pushed {
        manifest: out,
        uploaded: counts.0,
        existed: counts.1,
        mounted: counts.2,
        bytes_uploaded,
    })
}

/// Push one layer; returns its descriptor as pushed.
async fn push_layer(
    repo: &Repository<'_>,
    store: &Store,
    layer: &Descriptor,
    diff_id: Option<Digest>,
    opts: &PushOptions,
    progress: Arc<dyn Progress>,
) -> Result<(Descriptor, Outcome, u64)> {
    let uncompressed = layer.media_type.layer_compression() == Some(Compression::None);
    if !uncompressed {
        let outcome = push_blob_as_is(repo, store, layer, progress).await?;
        return Ok((layer.clone(), outcome, layer.size));
    }
    let diff_id = diff_id.unwrap_or_else(|| layer.digest.clone());
    let key = cache_key(&diff_id, opts);
    let media = compressed_type(&layer.media_type, opts.compression);
    let cached: Option<CompressedRecord> = store
        .get_record(COMPRESSED_TABLE, &key)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut location = None;
    if let Some(c) = &cached {
        match transfer::existing_or_location(repo, store, &c.digest).await? {
            Ok(outcome) => {
                progress.finish(&layer.digest, outcome);
                transfer::remember_source(store, &c.digest, repo.host, repo.name);
                let mut d = layer.clone();
                d.media_type = media;
                d.digest = c.digest.clone();
                d.size = c.size;
                return Ok((d, outcome, c.size));
            }
            Err(loc) => location = Some(loc),
        }
    }
    let compress = CompressOptions {
        compression: opts.compression,
        level: opts.level,
        threads: 0,
    };
    progress.start(&layer.digest, 0);
    let mut attempt = 0;
    let (digest, size) = loop {
        let loc = match location.take() {
            Some(l) => l,
            None => match repo.start_upload(None).await? {
                crate::registry::UploadStart::Location(l) => l,
                crate::registry::UploadStart::Mounted => {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "registry {}: an upload without mount answered 201",
                            repo.host
                        ),
                    ))
                }
            },
        };
        let r = transfer::upload_from_store(
            repo,
            store,
            &layer.digest,
            Some(compress),
            loc,
            opts.upload,
            progress.clone(),
            &layer.digest,
        )
        .await;
        match r {
            Ok(v) => break v,
            Err(e) if e.kind == ErrorKind::Transport && attempt < repo.client.opts.retries => {
                attempt += 1;
                progress.resumed(&layer.digest, 0);
                tokio::time::sleep(transfer::retry_delay(repo.client.opts.backoff, attempt)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let rec = serde_json::to_vec(&CompressedRecord {
        digest: digest.clone(),
        size,
    })
    .expect("record serialises");
    // Best effort: losing the record only costs a recompression next time.
    let _ = store.put_record(COMPRESSED_TABLE, &key, &rec);
    transfer::remember_source(store, &digest, repo.host, repo.name);
    progress.finish(&layer.digest, Outcome::Transferred);
    let mut d = layer.clone();
    d.media_type = media;
    d.digest = digest;
    d.size = size;
    Ok((d, Outcome::Transferred, size))
}

/// The layer media type after compression, keeping Docker types for Docker manifests
/// (Docker has no zstd type: those become OCI).
fn compressed_type(original: &MediaType, c: Compression) -> MediaType {
    let docker = original.is_docker();
    MediaType::from(match (docker, c) {
        (true, Compression::Gzip) => mt::DOCKER_LAYER_GZIP,
        (_, Compression::Zstd) => mt::OCI_LAYER_ZSTD,
        _ => mt::OCI_LAYER_GZIP,
    })
}

/// Push a blob byte for byte (compressed layers, foreign content).
pub(crate) async fn push_blob_as_is(
    repo: &Repository<'_>,
    store: &Store,
    desc: &Descriptor,
    progress: Arc<dyn Progress>,
) -> Result<Outcome> {
    let mut attempt = 0;
    loop {
        let loc = match transfer::existing_or_location(repo, store, &desc.digest).await? {
            Ok(outcome) => {
                transfer::remember_source(store, &desc.digest, repo.host, repo.name);
                progress.finish(&desc.digest, outcome);
                return Ok(outcome);
            }
            Err(loc) => loc,
        };
        progress.start(&desc.digest, desc.size);
        let r = transfer::upload_from_store(
            repo,
            store,
            &desc.digest,
            None,
            loc,
            UploadOptions { chunk_size: None },
            progress.clone(),
            &desc.digest,
        )
        .await;
        match r {
            Ok((d, s)) => {
                if d != desc.digest || s != desc.size {
                    return Err(Error::new(
                        ErrorKind::DigestMismatch,
                        format!(
                            "blob {}: store content has digest {d} and size {s}",
                            desc.digest
                        ),
                    ));
                }
                transfer::remember_source(store, &d, repo.host, repo.name);
                progress.finish(&desc.digest, Outcome::Transferred);
                return Ok(Outcome::Transferred);
            }
            Err(e) if e.kind == ErrorKind::Transport && attempt < repo.client.opts.retries => {
                attempt += 1;
                progress.resumed(&desc.digest, 0);
                tokio::time::sleep(transfer::retry_delay(repo.client.opts.backoff, attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Push a small blob (a config) from memory.
pub(crate) async fn push_small_blob(
    repo: &Repository<'_>,
    store: &Store,
    desc: &Descriptor,
    progress: &dyn Progress,
) -> Result<Outcome> {
    if repo
        .blob_size(&desc.digest, &repo.push_scope())
        .await?
        .is_some()
    {
        progress.finish(&desc.digest, Outcome::Exists);
        return Ok(Outcome::Exists);
    }
    let data = store
        .read_blob_verified(&desc.digest)
        .map_err(|e| Error::store(format!("reading blob {}", desc.digest), e))?;
    repo.upload_bytes(&desc.digest, Bytes::from(data)).await?;
    transfer::remember_source(store, &desc.digest, repo.host, repo.name);
    progress.finish(&desc.digest, Outcome::Transferred);
    Ok(Outcome::Transferred)
}
