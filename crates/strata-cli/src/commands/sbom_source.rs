//! Opening an image from any source for commands that read its layers (`sbom`, `scan`): a
//! local name or ID, or a skopeo-style transport (`docker-archive:FILE`, `oci:DIR[:TAG]`,
//! `oci-archive:FILE`, `docker://REF`), read in place through strata-image.

use std::io::{self, Read};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use strata_image::ImageSource;
use strata_oci::Digest;

use super::image_source::open_options;
use crate::Global;

/// An image opened for reading its layers.
pub struct SourceImage {
    pub image: strata_image::Image,
    /// The name the user gave.
    pub name: String,
}

/// Open `spec`: a transport-prefixed source or a local image name / ID.
pub fn open_image(global: &Global, spec: &str) -> Result<SourceImage> {
    let source: ImageSource = spec.parse()?;
    let image = strata_image::open(&source, &open_options(global))
        .with_context(|| format!("image {spec}"))?;
    Ok(SourceImage {
        image,
        name: spec.to_owned(),
    })
}

impl SourceImage {
    pub fn config_digest(&self) -> &Digest {
        self.image.id()
    }

    pub fn manifest_digest(&self) -> &Digest {
        self.image.manifest_digest()
    }

    /// The config's `created`, when it has a valid one.
    pub fn created(&self) -> Option<DateTime<Utc>> {
        self.image
            .config()
            .created
            .as_deref()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|c| c.with_timezone(&Utc))
    }

    /// Stream each layer, bottom first, uncompressed, to `f` with its index and diffID; the
    /// diffID is checked once `f` returns (the rest of the stream is read for that).
    pub fn for_each_layer(
        &self,
        mut f: impl FnMut(usize, &Digest, &mut dyn Read) -> Result<()>,
    ) -> Result<()> {
        for (i, layer) in self.image.layers().iter().enumerate() {
            let what = || format!("layer {} of image {}", layer.descriptor.digest, self.name);
            let mut reader = self.image.open_layer(i).with_context(what)?;
            f(i, &layer.diff_id, &mut reader)?;
            io::copy(&mut reader, &mut io::sink()).with_context(what)?;
        }
        Ok(())
    }
}
