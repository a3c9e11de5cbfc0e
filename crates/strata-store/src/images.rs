//! Image records and tags: adding an image whose blobs are present, tagging, resolving a
//! user's `name`, `name:tag`, image ID or ID prefix, listing and removing (docker `rmi`
//! semantics, in one transaction so concurrent processes never lose an update).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use strata_oci::media_type::Compression;
use strata_oci::{Digest, MediaType};

use crate::error::{Error, ErrorKind, Result};
use crate::meta::{self, IMAGES, TAGS, UNPACKED_SIZES};
use crate::names::TagRef;
use crate::{lock, Store};

/// One layer of an image as its manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub digest: Digest,
    pub size: u64,
    pub media_type: MediaType,
}

/// An image to record with [`Store::add_images`]: its manifest bytes (config and layer
/// blobs already in the store) and the references to point at it.
pub struct NewImage<'a> {
    pub manifest: &'a [u8],
    pub media_type: &'a MediaType,
    pub tags: &'a [TagRef],
}

/// What the store knows about one image manifest. Keyed by manifest digest; the image ID
/// is the config digest, as docker shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub manifest_digest: Digest,
    pub media_type: MediaType,
    pub manifest_size: u64,
    pub config_digest: Digest,
    pub config_size: u64,
    pub layers: Vec<LayerRecord>,
    /// Uncompressed layer digests from the config's `rootfs.diff_ids`.
    pub diff_ids: Vec<Digest>,
    /// The config's `created` time, if any.
    pub created: Option<DateTime<Utc>>,
    /// When the image was added to this store.
    pub added: DateTime<Utc>,
    /// Size as docker shows it: the layers unpacked (each compressed layer counted at the
    /// uncompressed size noted for its diffID, or at its blob size when none was noted),
    /// plus config and manifest.
    pub size: u64,
    /// `os/architecture[/variant]` from the config.
    pub platform: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl ImageRecord {
    /// The image ID (config digest).
    pub fn id(&self) -> &Digest {
        &self.config_digest
    }

    /// Chain IDs of the layer stack, bottom first (OCI image spec: `ChainID(L0) = DiffID(L0)`,
    /// `ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))`).
    pub fn chain_ids(&self) -> Vec<Digest> {
        strata_oci::chain_id(&self.diff_ids)
    }
}

/// An image record with the tags that point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub record: ImageRecord,
    pub tags: Vec<TagRef>,
}

/// What [`Store::remove`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoveOutcome {
    pub untagged: Vec<TagRef>,
    /// Image IDs whose records were deleted.
    pub deleted: Vec<Digest>,
}

#[derive(Deserialize)]
struct RawDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    digest: Digest,
    size: u64,
}

#[derive(Deserialize)]
struct RawManifest {
    config: RawDescriptor,
    #[serde(default)]
    layers: Vec<RawDescriptor>,
}

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<RawRunConfig>,
    #[serde(default)]
    rootfs: Option<RawRootfs>,
}

#[derive(Deserialize, Default)]
struct RawRunConfig {
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
struct RawRootfs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

fn decode_record(key: &str, bytes: &[u8]) -> Result<ImageRecord> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Corrupt,
            format!("image record {key} in the metadata database: {e}"),
        )
    })
}

pub(crate) fn read_records(txn: &ReadTransaction) -> Result<Vec<ImageRecord>> {
    meta::read_all_bytes(txn, IMAGES)?
        .iter()
        .map(|(k, v)| decode_record(k, v))
        .collect()
}

fn write_records(txn: &WriteTransaction) -> Result<Vec<ImageRecord>> {
    let t = txn
        .open_table(IMAGES)
        .map_err(|e| Error::db("open table", e))?;
    let mut out = Vec::new();
    for row in t.iter().map_err(|e| Error::db("iterate", e))? {
        let (k, v) = row.map_err(|e| Error::db("iterate", e))?;
        out.push(decode_record(k.value(), v.value())?);
    }
    Ok(out)
}

fn write_tags(txn: &WriteTransaction) -> Result<Vec<(String, String)>> {
    let t = txn
        .open_table(TAGS)
        .map_err(|e| Error::db("open table", e))?;
    let mut out = Vec::new();
    for row in t.iter().map_err(|e| Error::db("iterate", e))? {
        let (k, v) = row.map_err(|e| Error::db("iterate", e))?;
        out.push((k.value().to_owned(), v.value().to_owned()));
    }
    Ok(out)
}

fn join_images(records: Vec<ImageRecord>, tags: &[(String, String)]) -> Vec<Image> {
    records
        .into_iter()
        .map(|record| {
            let m = record.manifest_digest.to_string();
            let mut t: Vec<TagRef> = tags
                .iter()
                .filter(|(_, d)| *d == m)
                .filter_map(|(k, _)| TagRef::from_key(k).ok())
                .collect();
            t.sort();
            Image { record, tags: t }
        })
        .collect()
}

/// How a user's image spec was matched.
enum Target {
    Tag(TagRef, Digest),
    Id(Digest),
}

fn no_such_image(spec: &str) -> Error {
    Error::not_found(format!("no such image: {spec}"))
}

/// Resolve a spec against a snapshot of tags and records (docker order: full digest, then
/// reference, then ID prefix).
fn resolve_in(spec: &str, images: &[Image]) -> Result<Target> {
    if let Ok(d) = Digest::parse(spec) {
        if images.iter().any(|i| i.record.config_digest == d) {
            return Ok(Target::Id(d));
        }
        if let Some(i) = images.iter().find(|i| i.record.manifest_digest == d) {
            return Ok(Target::Id(i.record.config_digest.clone()));
        }
        return Err(no_such_image(spec));
    }
    if let Some((name, digest)) = spec.split_once('@') {
        let d = Digest::parse(digest)?;
        let repo = TagRef::parse(name)?.repository;
        return images
            .iter()
            .find(|i| i.record.manifest_digest == d && i.tags.iter().any(|t| t.repository == repo))
            .or_else(|| images.iter().find(|i| i.record.manifest_digest == d))
            .map(|i| Target::Id(i.record.config_digest.clone()))
            .ok_or_else(|| no_such_image(spec));
    }
    if let Ok(tag) = TagRef::parse(spec) {
        if let Some(i) = images.iter().find(|i| i.tags.contains(&tag)) {
            return Ok(Target::Tag(tag, i.record.manifest_digest.clone()));
        }
    }
    let hex = spec.strip_prefix("sha256:").unwrap_or(spec);
    if !hex.is_empty()
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        let mut ids: Vec<&Digest> = images
            .iter()
            .map(|i| &i.record.config_digest)
            .filter(|d| d.hex().starts_with(hex))
            .collect();
        ids.sort();
        ids.dedup();
        match ids.len() {
            0 => {}
            1 => return Ok(Target::Id(ids[0].clone())),
            n => {
                return Err(Error::new(
                    ErrorKind::Ambiguous,
                    format!("image ID prefix {spec:?} is ambiguous: it matches {n} images"),
                ))
            }
        }
    }
    Err(no_such_image(spec))
}

impl Store {
    /// Record an image whose config and layer blobs are already in the store. Stores the
    /// manifest bytes as a blob (its digest is over exactly these bytes). Idempotent.
    pub fn add_image(&self, manifest: &[u8], media_type: &MediaType) -> Result<ImageRecord> {
        let mut records = self.add_images(&[NewImage {
            manifest,
            media_type,
            tags: &[],
        }])?;
        Ok(records.remove(0))
    }

    /// Record several images and point their tags at them in one transaction: a process
    /// killed part-way leaves either none of them or all of them, each with its tags.
    pub fn add_images(&self, images: &[NewImage<'_>]) -> Result<Vec<ImageRecord>> {
        // Shared gc lock: the blobs checked below cannot be swept before the records exist.
        let _gc = lock::shared(&self.layout.gc_lock())?;
        let mut records = images
            .iter()
            .map(|i| self.prepare_record(i.manifest, i.media_type))
            .collect::<Result<Vec<_>>>()?;
        meta::write(&self.layout, |txn| {
            let mut t = txn
                .open_table(IMAGES)
                .map_err(|e| Error::db("open table", e))?;
            let mut tag_table = txn
                .open_table(TAGS)
                .map_err(|e| Error::db("open table", e))?;
            for (record, image) in records.iter_mut().zip(images) {
                let key = record.manifest_digest.to_string();
                if let Some(old) = t.get(key.as_str()).map_err(|e| Error::db("get", e))? {
                    // Keep the original added time so re-adding does not make an image "new".
                    if let Ok(old) = decode_record(&key, old.value()) {
                        record.added = old.added;
                    }
                }
                let bytes = serde_json::to_vec(&record).expect("image record serialises");
                t.insert(key.as_str(), bytes.as_slice())
                    .map_err(|e| Error::db("insert", e))?;
                for tag in image.tags {
                    tag_table
                        .insert(tag.key().as_str(), key.as_str())
                        .map_err(|e| Error::db("insert", e))?;
                }
            }
            Ok(())
        })?;
        Ok(records)
    }

    /// Check one manifest against the store's blobs and build its record (not yet written).
    /// The caller holds the shared gc lock.
    fn prepare_record(&self, manifest: &[u8], media_type: &MediaType) -> Result<ImageRecord> {
        if !media_type.is_manifest() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "cannot add an image from media type {media_type}: expected an image manifest"
                ),
            ));
        }
        let raw: RawManifest = serde_json::from_slice(manifest).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("invalid image manifest: {e}"),
            )
        })?;
        for d in std::iter::once(&raw.config).chain(raw.layers.iter()) {
            let size = self.blob_size(&d.digest).map_err(|e| {
                if e.is_not_found() {
                    Error::not_found(format!(
                        "cannot add image: blob {} is not in the store",
                        d.digest
                    ))
                } else {
                    e
                }
            })?;
            if size != d.size {
                return Err(Error::new(
                    ErrorKind::SizeMismatch,
                    format!(
                        "blob {}: manifest says {} bytes, store has {size}",
                        d.digest, d.size
                    ),
                ));
            }
        }
        let config_bytes = self.read_blob_verified(&raw.config.digest)?;
        let config: RawConfig = serde_json::from_slice(&config_bytes).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("invalid image config {}: {e}", raw.config.digest),
            )
        })?;
        let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        if diff_ids.len() != raw.layers.len() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "image config {} lists {} diff_ids but the manifest has {} layers",
                    raw.config.digest,
                    diff_ids.len(),
                    raw.layers.len()
                ),
            ));
        }
        let manifest_digest = self.put_bytes(manifest)?;
        let layers: Vec<LayerRecord> = raw
            .layers
            .into_iter()
            .map(|l| LayerRecord {
                digest: l.digest,
                size: l.size,
                media_type: MediaType::new(l.media_type.unwrap_or_default()),
            })
            .collect();
        let platform = match (&config.os, &config.architecture) {
            (Some(os), Some(arch)) => Some(match &config.variant {
                Some(v) => format!("{os}/{arch}/{v}"),
                None => format!("{os}/{arch}"),
            }),
            _ => None,
        };
        let created = config
            .created
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc));
        let size =
            manifest.len() as u64 + raw.config.size + self.unpacked_total(&layers, &diff_ids)?;
        Ok(ImageRecord {
            manifest_digest,
            media_type: media_type.clone(),
            manifest_size: manifest.len() as u64,
            config_digest: raw.config.digest,
            config_size: raw.config.size,
            layers,
            diff_ids,
            created,
            added: Utc::now(),
            size,
            platform,
            labels: config.config.and_then(|c| c.labels).unwrap_or_default(),
        })
    }

    /// Note that the layer with `diff_id` is `size` bytes uncompressed (see [`ImageRecord::size`]).
    pub fn record_unpacked_size(&self, diff_id: &Digest, size: u64) -> Result<()> {
        meta::write(&self.layout, |txn| {
            let mut t = txn
                .open_table(UNPACKED_SIZES)
                .map_err(|e| Error::db("open table", e))?;
            t.insert(diff_id.to_string().as_str(), size)
                .map_err(|e| Error::db("insert", e))?;
            Ok(())
        })
    }

    /// The layers' unpacked sizes, summed: an uncompressed layer is its blob, a compressed one
    /// what was noted for its diffID, falling back to the compressed size.
    fn unpacked_total(&self, layers: &[LayerRecord], diff_ids: &[Digest]) -> Result<u64> {
        meta::read(&self.layout, |txn| {
            let table = match txn.open_table(UNPACKED_SIZES) {
                Ok(t) => Some(t),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(Error::db("open table", e)),
            };
            let mut total = 0;
            for (layer, diff_id) in layers.iter().zip(diff_ids) {
                let noted = match (&table, layer.media_type.layer_compression()) {
                    (_, Some(Compression::None)) => None,
                    (Some(t), _) => t
                        .get(diff_id.to_string().as_str())
                        .map_err(|e| Error::db("get", e))?
                        .map(|v| v.value()),
                    (None, _) => None,
                };
                total += noted.unwrap_or(layer.size);
            }
            Ok(total)
        })
    }

    /// Point `reference` (any user form, normalised) at the image with this manifest digest,
    /// replacing whatever it pointed at. Returns the normalised reference.
    pub fn tag(&self, reference: &str, manifest_digest: &Digest) -> Result<TagRef> {
        let tag = TagRef::parse(reference)?;
        meta::write(&self.layout, |txn| {
            let images = txn
                .open_table(IMAGES)
                .map_err(|e| Error::db("open table", e))?;
            let key = manifest_digest.to_string();
            if images
                .get(key.as_str())
                .map_err(|e| Error::db("get", e))?
                .is_none()
            {
                return Err(Error::not_found(format!(
                    "no such image: {manifest_digest}"
                )));
            }
            let mut tags = txn
                .open_table(TAGS)
                .map_err(|e| Error::db("open table", e))?;
            tags.insert(tag.key().as_str(), key.as_str())
                .map_err(|e| Error::db("insert", e))?;
            Ok(())
        })?;
        Ok(tag)
    }

    /// Tag the image `source` resolves to (name, ID or prefix) as `target`, atomically.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<TagRef> {
        let tag = TagRef::parse(target)?;
        meta::write(&self.layout, |txn| {
            let images = join_images(write_records(txn)?, &write_tags(txn)?);
            let manifest = match resolve_in(source, &images)? {
                Target::Tag(_, m) => m,
                Target::Id(id) => pick_manifest(&images, &id),
            };
            let mut tags = txn
                .open_table(TAGS)
                .map_err(|e| Error::db("open table", e))?;
            tags.insert(tag.key().as_str(), manifest.to_string().as_str())
                .map_err(|e| Error::db("insert", e))?;
            Ok(())
        })?;
        Ok(tag)
    }

    /// Remove a tag; returns the manifest digest it pointed at.
    pub fn untag(&self, reference: &str) -> Result<Digest> {
        let tag = TagRef::parse(reference)?;
        meta::write(&self.layout, |txn| {
            let mut tags = txn
                .open_table(TAGS)
                .map_err(|e| Error::db("open table", e))?;
            let old = tags
                .remove(tag.key().as_str())
                .map_err(|e| Error::db("remove", e))?;
            match old {
                Some(v) => Digest::parse(v.value()).map_err(Error::from),
                None => Err(no_such_image(reference)),
            }
        })
    }

    /// Find the image a user means: full reference, short name, image ID, manifest digest,
    /// `name@digest`, or a unique ID prefix (with or without `sha256:`).
    pub fn resolve(&self, spec: &str) -> Result<Image> {
        let images = self.list_images()?;
        let target = resolve_in(spec, &images)?;
        let manifest = match target {
            Target::Tag(_, m) => m,
            Target::Id(id) => pick_manifest(&images, &id),
        };
        images
            .into_iter()
            .find(|i| i.record.manifest_digest == manifest)
            .ok_or_else(|| no_such_image(spec))
    }

    /// The record of the image with this manifest digest.
    pub fn get_image(&self, manifest_digest: &Digest) -> Result<ImageRecord> {
        let key = manifest_digest.to_string();
        let bytes = meta::read(&self.layout, |txn| meta::get_bytes(txn, IMAGES, &key))?;
        match bytes {
            Some(b) => decode_record(&key, &b),
            None => Err(no_such_image(&key)),
        }
    }

    /// Every image record with its tags, newest first.
    pub fn list_images(&self) -> Result<Vec<Image>> {
        let (records, tags) = meta::read(&self.layout, |txn| {
            Ok((read_records(txn)?, meta::read_tags(txn)?))
        })?;
        let mut images = join_images(records, &tags);
        images.sort_by(|a, b| {
            let ka = a.record.created.unwrap_or(a.record.added);
            let kb = b.record.created.unwrap_or(b.record.added);
            kb.cmp(&ka)
                .then_with(|| a.record.manifest_digest.cmp(&b.record.manifest_digest))
        });
        Ok(images)
    }

    /// Delete the record of one manifest and every tag pointing at it.
    pub fn remove_image(&self, manifest_digest: &Digest) -> Result<Vec<TagRef>> {
        meta::write(&self.layout, |txn| {
            let key = manifest_digest.to_string();
            let mut images = txn
                .open_table(IMAGES)
                .map_err(|e| Error::db("open table", e))?;
            if images
                .remove(key.as_str())
                .map_err(|e| Error::db("remove", e))?
                .is_none()
            {
                return Err(no_such_image(&key));
            }
            drop(images);
            remove_tags_of(txn, &[key])
        })
    }

    /// docker `rmi` for one spec, in one transaction. A tag of an image that has other tags
    /// is only untagged; the last tag, or an ID, deletes the image. An ID whose image has
    /// several tags needs `force`.
    pub fn remove(&self, spec: &str, force: bool) -> Result<RemoveOutcome> {
        meta::write(&self.layout, |txn| {
            let images = join_images(write_records(txn)?, &write_tags(txn)?);
            let target = resolve_in(spec, &images)?;
            let id = match &target {
                Target::Tag(_, m) => images
                    .iter()
                    .find(|i| &i.record.manifest_digest == m)
                    .expect("resolved")
                    .record
                    .config_digest
                    .clone(),
                Target::Id(id) => id.clone(),
            };
            let same_id: Vec<&Image> = images
                .iter()
                .filter(|i| i.record.config_digest == id)
                .collect();
            let all_tags: Vec<TagRef> = same_id
                .iter()
                .flat_map(|i| i.tags.iter().cloned())
                .collect();
            let mut out = RemoveOutcome::default();
            match target {
                Target::Tag(tag, _) if all_tags.len() > 1 => {
                    let mut tags = txn
                        .open_table(TAGS)
                        .map_err(|e| Error::db("open table", e))?;
                    tags.remove(tag.key().as_str())
                        .map_err(|e| Error::db("remove", e))?;
                    out.untagged.push(tag);
                    return Ok(out);
                }
                Target::Id(_) if all_tags.len() > 1 && !force => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "unable to delete {} (must be forced): image is referenced in multiple repositories",
                            id.short()
                        ),
                    ));
                }
                _ => {}
            }
            let keys: Vec<String> = same_id
                .iter()
                .map(|i| i.record.manifest_digest.to_string())
                .collect();
            out.untagged = remove_tags_of(txn, &keys)?;
            let mut t = txn
                .open_table(IMAGES)
                .map_err(|e| Error::db("open table", e))?;
            for k in &keys {
                t.remove(k.as_str()).map_err(|e| Error::db("remove", e))?;
            }
            out.deleted.push(id);
            Ok(out)
        })
    }

    /// Delete image records matching `pred` (given the image and its tags) in one transaction;
    /// returns what was removed. Used by prune so selection and deletion see the same state.
    pub fn remove_images_where(&self, mut pred: impl FnMut(&Image) -> bool) -> Result<Vec<Image>> {
        meta::write(&self.layout, |txn| {
            let images = join_images(write_records(txn)?, &write_tags(txn)?);
            let doomed: Vec<Image> = images.into_iter().filter(|i| pred(i)).collect();
            let keys: Vec<String> = doomed
                .iter()
                .map(|i| i.record.manifest_digest.to_string())
                .collect();
            remove_tags_of(txn, &keys)?;
            let mut t = txn
                .open_table(IMAGES)
                .map_err(|e| Error::db("open table", e))?;
            for k in &keys {
                t.remove(k.as_str()).map_err(|e| Error::db("remove", e))?;
            }
            Ok(doomed)
        })
    }
}

/// The manifest to use for an image ID: a tagged one if any, else the first.
fn pick_manifest(images: &[Image], id: &Digest) -> Digest {
    let same: Vec<&Image> = images
        .iter()
        .filter(|i| &i.record.config_digest == id)
        .collect();
    same.iter()
        .find(|i| !i.tags.is_empty())
        .or(same.first())
        .map(|i| i.record.manifest_digest.clone())
        .expect("resolved ID has a record")
}

fn remove_tags_of(txn: &WriteTransaction, manifest_keys: &[String]) -> Result<Vec<TagRef>> {
    let mut tags = txn
        .open_table(TAGS)
        .map_err(|e| Error::db("open table", e))?;
    let mut doomed = Vec::new();
    for row in tags.iter().map_err(|e| Error::db("iterate", e))? {
        let (k, v) = row.map_err(|e| Error::db("iterate", e))?;
        if manifest_keys.iter().any(|m| m == v.value()) {
            doomed.push(k.value().to_owned());
        }
    }
    let mut out = Vec::new();
    for k in doomed {
        tags.remove(k.as_str())
            .map_err(|e| Error::db("remove", e))?;
        if let Ok(t) = TagRef::from_key(&k) {
            out.push(t);
        }
    }
    out.sort();
    Ok(out)
}
