//! Images named on the command line, from wherever they live: a local name, ID or prefix
//! is looked up in the store; `docker-archive:`, `oci:`, `oci-archive:` and `docker://`
//! sources are read in place through strata-image, without importing them.
//!
//! Either way the caller gets the store's shape of an image (a record with tags) and the
//! config bytes, so read-only commands (`inspect`, `history`) show any source alike.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use strata_image::{ImageSource, OpenOptions};
use strata_store::{Image, ImageRecord, LayerRecord};

use super::images::{open_store, store_err};
use crate::Global;

/// Options to open sources with: the global store root, docker's credentials.
pub(crate) fn open_options(global: &Global) -> OpenOptions {
    OpenOptions::new(
        global
            .root
            .clone()
            .unwrap_or_else(strata_store::default_root),
    )
}

/// The image `spec` names and its config bytes.
pub(crate) fn resolve_image(global: &Global, spec: &str) -> Result<(Image, Vec<u8>)> {
    let source: ImageSource = spec.parse()?;
    if let ImageSource::Store(name) = &source {
        let store = open_store(global)?;
        let img = super::images::lookup_image(&store, name)?;
        let config = store
            .read_blob_verified(&img.record.config_digest)
            .map_err(store_err)?;
        return Ok((img, config));
    }
    let image = strata_image::open(&source, &open_options(global))
        .with_context(|| format!("cannot open {source}"))?;
    Ok((
        Image {
            record: record_of(&image),
            tags: Vec::new(),
        },
        image.config_raw().to_vec(),
    ))
}

/// What the store would record for `image`, had it been loaded (sizes are blob sizes).
fn record_of(image: &strata_image::Image) -> ImageRecord {
    let config = image.config();
    let created = config
        .created
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.with_timezone(&Utc));
    let layers: Vec<LayerRecord> = image
        .layers()
        .iter()
        .map(|l| LayerRecord {
            digest: l.descriptor.digest.clone(),
            size: l.descriptor.size,
            media_type: l.descriptor.media_type.clone(),
        })
        .collect();
    let manifest = image.manifest();
    let config_size = image.config_descriptor().size;
    let size =
        manifest.bytes.len() as u64 + config_size + layers.iter().map(|l| l.size).sum::<u64>();
    ImageRecord {
        manifest_digest: manifest.digest.clone(),
        media_type: manifest.media_type.clone(),
        manifest_size: manifest.bytes.len() as u64,
        config_digest: image.id().clone(),
        config_size,
        diff_ids: image.layers().iter().map(|l| l.diff_id.clone()).collect(),
        layers,
        created,
        added: created.unwrap_or(DateTime::UNIX_EPOCH),
        size,
        platform: Some(config.platform().to_string()),
        labels: config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default(),
    }
}
