//! Docker's `manifest.json`: reading classic archives and writing the Docker ≥ 25 flavour.
//!
//! `manifest.json` is a JSON array with one entry per image: `Config` (path of the config
//! file), `RepoTags`, `Layers` (paths of layer files) and optionally `Parent` and
//! `LayerSources` (descriptors of layers by diffID, for foreign or OCI layers).
//!
//! Loading a classic archive (`<id>.json`, `<v1id>/layer.tar`) makes a manifest from these
//! paths. Layer blobs are stored exactly as they appear in the archive: an uncompressed
//! `layer.tar` becomes an uncompressed layer blob whose digest is its diffID. This is what
//! Docker 25 does too; it keeps `save` a straight copy of blobs and keeps the manifest and
//! image IDs stable across save/load round trips. Compressing happens on push, not here.
//!
//! A `LayerSources` descriptor is used for a layer's media type only when it describes the
//! very blob in the archive (same digest). Foreign layers (a gzip blob elsewhere whose
//! uncompressed content is the archive's `layer.tar`) are stored as the archive's
//! uncompressed content: strata never fetches foreign URLs.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};
use strata_oci::media_type::{self, Compression};
use strata_oci::{Digest, Digester, ImageManifest};

use crate::error::{Error, ErrorKind, Result};
use crate::files::Files;
use crate::load::LoadedImage;
use crate::model::{self, ConfigHead, Descriptor};
use crate::sink::{BlobSink, Ingested};

/// One entry of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Option<Vec<String>>,
    #[serde(rename = "Parent", default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(
        rename = "LayerSources",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub layer_sources: Option<BTreeMap<Digest, Descriptor>>,
}

/// Parse `manifest.json`; `null` is an error, `[]` an empty list.
pub fn parse_manifest_json(bytes: &[u8]) -> Result<Vec<ManifestEntry>> {
    let entries: Option<Vec<ManifestEntry>> = model::parse(bytes, "manifest.json")?;
    entries.ok_or_else(|| Error::malformed("manifest.json is null, expected a list of images"))
}

/// Resolve every entry of a classic (or Docker ≥ 25) `manifest.json` into an image.
pub fn resolve(
    files: &mut dyn Files,
    sink: &mut dyn BlobSink,
    entries: &[ManifestEntry],
) -> Result<Vec<LoadedImage>> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| resolve_entry(files, sink, entry).map_err(|e| in_entry(e, i, entry)))
        .collect()
}

fn in_entry(err: Error, i: usize, entry: &ManifestEntry) -> Error {
    Error::new(
        err.kind,
        format!(
            "manifest.json entry {i} (config {}): {}",
            entry.config, err.message
        ),
    )
}

fn resolve_entry(
    files: &mut dyn Files,
    sink: &mut dyn BlobSink,
    entry: &ManifestEntry,
) -> Result<LoadedImage> {
    let config_bytes = files.small(sink, &entry.config)?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("config file {} is not in the archive", entry.config),
        )
    })?;
    let config_digest = Digest::sha256_of(&config_bytes);
    if let Some(named) = digest_named_by(&entry.config) {
        if named != config_digest {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("config file {} has digest {config_digest}", entry.config),
            ));
        }
    }
    let size = config_bytes.len() as u64;
    files.blob(sink, &entry.config, Some((&config_digest, Some(size))))?;
    let head: ConfigHead = model::parse(&config_bytes, "image config")?;
    let diff_ids = head
        .rootfs
        .ok_or_else(|| Error::malformed("image config has no rootfs"))?
        .diff_ids;
    let paths = entry.layers.clone().unwrap_or_default();
    if paths.len() != diff_ids.len() {
        return Err(Error::malformed(format!(
            "image config lists {} diff_ids but manifest.json lists {} layers",
            diff_ids.len(),
            paths.len()
        )));
    }
    let sources = entry.layer_sources.clone().unwrap_or_default();
    let mut layers = Vec::with_capacity(paths.len());
    let mut oci = false;
    for (path, want_diff) in paths.iter().zip(&diff_ids) {
        let blob = files.blob(sink, path, None)?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("layer file {path} is not in the archive"),
            )
        })?;
        let diff_id = diff_id_of(sink, &blob)?;
        if &diff_id != want_diff {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("layer file {path} has diff_id {diff_id} but the config says {want_diff}"),
            ));
        }
        let media = match sources.get(&diff_id) {
            Some(src) if src.digest == blob.digest => src.media_type.as_str().to_owned(),
            _ => match blob.compression {
                Compression::None => media_type::DOCKER_LAYER_TAR.to_owned(),
                Compression::Gzip => media_type::DOCKER_LAYER_GZIP.to_owned(),
                Compression::Zstd => media_type::OCI_LAYER_ZSTD.to_owned(),
            },
        };
        oci |= media.starts_with("application/vnd.oci.");
        layers.push(Descriptor::new(
            media.as_str(),
            blob.digest.clone(),
            blob.size,
        ));
    }
    let (manifest_type, config_type) = if oci {
        (media_type::OCI_MANIFEST, media_type::OCI_CONFIG)
    } else {
        (media_type::DOCKER_MANIFEST, media_type::DOCKER_CONFIG)
    };
    let config = Descriptor::new(config_type, config_digest.clone(), size);
    let manifest = if oci {
        ImageManifest::oci(config, layers.clone())
    } else {
        ImageManifest::docker(config, layers.clone())
    };
    let bytes = serde_json::to_vec(&manifest).expect("manifest serialises");
    let digest = Digest::sha256_of(&bytes);
    sink.ingest(&mut &bytes[..], Some((&digest, Some(bytes.len() as u64))))?;
    Ok(LoadedImage {
        manifest: Descriptor::new(manifest_type, digest, bytes.len() as u64),
        config: Some(config_digest),
        layers,
        names: entry.repo_tags.clone().unwrap_or_default(),
    })
}

/// `blobs/sha256/<hex>` and `<hex>.json` name the digest of their content.
fn digest_named_by(path: &str) -> Option<Digest> {
    let path = crate::files::normalize(path).ok()?;
    let hex = path
        .strip_prefix("blobs/sha256/")
        .or_else(|| path.strip_suffix(".json").filter(|h| !h.contains('/')))?;
    Digest::parse(&format!("sha256:{hex}")).ok()
}

/// The diffID (digest of the uncompressed tar) of a stored layer blob.
pub fn diff_id_of(sink: &dyn BlobSink, blob: &Ingested) -> Result<Digest> {
    if blob.compression == Compression::None {
        return Ok(blob.digest.clone());
    }
    let reader = sink.open(&blob.digest)?;
    let (_, mut plain) = crate::detect::decompressed(reader)?;
    let mut digester = Digester::sha256();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = plain
            .read(&mut buf)
            .map_err(|e| Error::io(format!("decompressing layer {}", blob.digest), None, e))?;
        if n == 0 {
            break;
        }
        digester.update(&buf[..n]);
        size += n as u64;
    }
    let diff_id = digester.finish();
    sink.note_unpacked_size(&diff_id, size)?;
    Ok(diff_id)
}
