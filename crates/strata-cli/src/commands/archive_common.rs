//! Shared by `save`, `load` and `import`: opening the store, recording loaded images.

use std::io::Write;

use anyhow::{bail, Context, Result};
use strata_archive::store::StoreSink;
use strata_archive::LoadReport;
use strata_oci::{Digest, Manifest, MediaType, Platform, RawManifest};
use strata_store::{Lease, NewImage, Store, TagRef};

use crate::Global;

/// How long a load's lease protects its blobs if the process dies before releasing it;
/// after that, garbage collection sweeps whatever an interrupted load left.
pub const LOAD_LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Open the store at `--root` (or the default root).
pub fn open_store(global: &Global) -> Result<Store> {
    let root = global
        .root
        .clone()
        .unwrap_or_else(strata_store::default_root);
    Store::open(&root).with_context(|| format!("opening store at {}", root.display()))
}

/// A lease plus the sink that commits blobs under it.
pub fn lease(store: &Store) -> Result<Lease> {
    store
        .lease(Some(LOAD_LEASE_TTL))
        .context("creating a lease for the load")
}

pub fn sink<'a>(store: &'a Store, lease: &'a Lease) -> StoreSink<'a> {
    StoreSink::new(store, lease)
}

/// One image as recorded after a load: its ID and the tags now pointing at it.
pub struct Recorded {
    pub id: strata_oci::Digest,
    pub tags: Vec<TagRef>,
}

/// Record the images of a successful load: every image record and every tag in one
/// transaction, so a killed load leaves the store as it was or with all of them. A
/// multi-platform index is recorded as its manifest for `platform` (docker's classic
/// store does the same); an index without one is reported on stderr, never silently
/// dropped, and its blobs stay until garbage collection.
pub fn record(
    store: &Store,
    report: &LoadReport,
    platform: &Platform,
    warn: &mut dyn Write,
    notices: &mut dyn Write,
) -> Result<Vec<Recorded>> {
    for note in &report.skipped {
        writeln!(warn, "warning: {note}; not loaded")?;
    }
    let mut loaded = Vec::new();
    for image in &report.images {
        let Some((bytes, media)) = manifest_for(store, &image.manifest, platform, warn)? else {
            continue;
        };
        let mut tags: Vec<TagRef> = Vec::new();
        for name in &image.names {
            let tag = TagRef::parse(name).with_context(|| format!("tag {name:?}"))?;
            // Like docker: say so when a tag moves away from another image.
            if let Ok(previous) = store.resolve(name) {
                if previous.record.manifest_digest != Digest::sha256_of(&bytes)
                    && previous.tags.contains(&tag)
                {
                    writeln!(
                        notices,
                        "The image {} already exists, renaming the old one with ID {} to empty string",
                        tag.familiar(),
                        previous.record.config_digest
                    )?;
                }
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        loaded.push((bytes, media, tags));
    }
    let new: Vec<NewImage<'_>> = loaded
        .iter()
        .map(|(bytes, media, tags)| NewImage {
            manifest: bytes,
            media_type: media,
            tags,
        })
        .collect();
    let records = store
        .add_images(&new)
        .context("recording the loaded images")?;
    // Attachments of images now in the store (SBOMs, signatures) are recorded with them.
    for (subject, artifact) in &report.attachments {
        if store.has_blob(subject) {
            store
                .add_attachment(subject, artifact)
                .with_context(|| format!("recording attachment {}", artifact.digest))?;
        }
    }
    Ok(records
        .into_iter()
        .zip(loaded)
        .map(|(rec, (_, _, tags))| Recorded {
            id: rec.config_digest,
            tags,
        })
        .collect())
}

/// The single-platform manifest a loaded image stands for: itself, or the child of an
/// index that best matches `platform`. `None` (after a warning) when there is none.
fn manifest_for(
    store: &Store,
    desc: &strata_oci::Descriptor,
    platform: &Platform,
    warn: &mut dyn Write,
) -> Result<Option<(Vec<u8>, MediaType)>> {
    let bytes = store
        .read_blob_verified(&desc.digest)
        .with_context(|| format!("reading loaded manifest {}", desc.digest))?;
    if desc.media_type.is_manifest() {
        return Ok(Some((bytes, desc.media_type.clone())));
    }
    let raw = RawManifest::parse_verified(bytes, Some(desc.media_type.as_str()), &desc.digest)
        .with_context(|| format!("reading loaded index {}", desc.digest))?;
    let Manifest::Index(index) = &raw.parsed else {
        bail!("loaded index {} is not an image index", desc.digest);
    };
    let Some(child) = index.best_for(platform) else {
        let have: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
            .collect();
        writeln!(
            warn,
            "warning: index {} has no image for platform {platform} (it has: {}); not loaded",
            desc.digest,
            if have.is_empty() {
                "none".into()
            } else {
                have.join(", ")
            }
        )?;
        return Ok(None);
    };
    if !child.media_type.is_manifest() {
        writeln!(
            warn,
            "warning: index {} points at {} for {platform}, which is a {}, not an image; not loaded",
            desc.digest, child.digest, child.media_type
        )?;
        return Ok(None);
    }
    let bytes = store
        .read_blob_verified(&child.digest)
        .with_context(|| format!("reading manifest {} of index {}", child.digest, desc.digest))?;
    Ok(Some((bytes, child.media_type.clone())))
}
