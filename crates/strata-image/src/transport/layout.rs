//! OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`) as content, whether
//! a directory (`oci:`), a tar (`oci-archive:`) or a Docker ≥ 25 `docker save` archive
//! (which is a layout too).
//!
//! References resolve against the `index.json` entries: `org.opencontainers.image.ref.name`
//! (skopeo's and umoci's tag) or `io.containerd.image.name` (docker's full name, compared
//! after normalisation), or a manifest digest. Without a reference the layout must hold
//! exactly one image. Entries carrying an `artifactType` are attachments, not images.
//!
//! Referrers are the manifests listed in `index.json` whose `subject` is the digest asked
//! for (how strata's save and oras keep attachments in a layout).

use std::io::Read;

use strata_oci::{Descriptor, Digest, ImageIndex};
use strata_store::{TagRef, VerifyingReader};

use super::files::FileAccess;
use crate::content::{subject_of, ContentRead, DOCUMENT_LIMIT};
use crate::error::{Error, ErrorKind, Result};

/// Annotation holding a layout entry's tag (OCI).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation holding the full image name (containerd, Docker ≥ 25).
pub const IMAGE_NAME: &str = "io.containerd.image.name";

/// The path of a blob in a layout: `blobs/<alg>/<hex>`.
pub use strata_archive::files::blob_path;

/// An OCI layout read through `F`.
pub struct LayoutContent<F> {
    files: F,
    location: String,
    index: ImageIndex,
}

impl<F: FileAccess> LayoutContent<F> {
    /// Read the layout's `oci-layout` and `index.json`.
    pub fn open(files: F, location: String) -> Result<Self> {
        let index = read_index(&files).map_err(|e| e.context(&location))?;
        Ok(LayoutContent {
            files,
            location,
            index,
        })
    }

    /// Whether `files` hold an OCI layout (an `index.json`).
    pub fn is_layout(files: &F) -> Result<bool> {
        Ok(files.size("index.json")?.is_some())
    }

    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    fn images(&self) -> impl Iterator<Item = &Descriptor> {
        self.index.manifests.iter().filter(|d| {
            (d.media_type.is_manifest() || d.media_type.is_index()) && d.artifact_type.is_none()
        })
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .images()
            .filter_map(|d| d.annotation(IMAGE_NAME).or(d.annotation(REF_NAME)))
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

fn read_index<F: FileAccess>(files: &F) -> Result<ImageIndex> {
    let marker = read_small(files, "oci-layout")?.ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            "no oci-layout file: not an OCI image layout",
        )
    })?;
    #[derive(serde::Deserialize)]
    struct Marker {
        #[serde(rename = "imageLayoutVersion")]
        version: String,
    }
    let m: Marker = serde_json::from_slice(&marker).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("invalid oci-layout file: {e}"),
        )
    })?;
    if m.version != "1.0.0" {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "oci-layout version {:?} is not supported (expected 1.0.0)",
                m.version
            ),
        ));
    }
    let bytes = read_small(files, "index.json")?
        .ok_or_else(|| Error::not_found("no index.json: not an OCI image layout"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::new(ErrorKind::InvalidInput, format!("invalid index.json: {e}")))
}

/// A small file, whole; `None` when absent.
pub fn read_small<F: FileAccess + ?Sized>(files: &F, path: &str) -> Result<Option<Vec<u8>>> {
    let Some((size, mut r)) = files.open(path)? else {
        return Ok(None);
    };
    if size > DOCUMENT_LIMIT {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("{path} is {size} bytes, over the {DOCUMENT_LIMIT}-byte limit for documents"),
        ));
    }
    let mut out = Vec::with_capacity(size as usize);
    r.read_to_end(&mut out)
        .map_err(|e| Error::io(format!("reading {path}"), e))?;
    Ok(Some(out))
}

/// Whether a layout entry's names include `wanted` (a tag, or a full name compared after
/// docker's normalisation).
fn entry_named(d: &Descriptor, wanted: &str) -> bool {
    let normal = |s: &str| TagRef::parse(s).ok().map(|t| t.key());
    let wanted_normal = normal(wanted);
    [d.annotation(REF_NAME), d.annotation(IMAGE_NAME)]
        .into_iter()
        .flatten()
        .any(|n| n == wanted || (wanted_normal.is_some() && normal(n) == wanted_normal))
}

impl<F: FileAccess> ContentRead for LayoutContent<F> {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn resolve(&self, reference: Option<&str>) -> Result<Descriptor> {
        let strip = |d: &Descriptor| {
            let mut d = d.clone();
            d.annotations.clear();
            d
        };
        let found: Vec<&Descriptor> = match reference {
            Some(r) => match Digest::parse(r) {
                Ok(digest) => self.images().filter(|d| d.digest == digest).collect(),
                Err(_) => self.images().filter(|d| entry_named(d, r)).collect(),
            },
            None => self.images().collect(),
        };
        let mut digests: Vec<&Digest> = found.iter().map(|d| &d.digest).collect();
        digests.sort();
        digests.dedup();
        match (digests.len(), reference) {
            (1, _) => Ok(strip(found[0])),
            (0, Some(r)) => Err(Error::not_found(format!(
                "{}: no image named {r} (it has: {})",
                self.location,
                list_or_none(&self.names())
            ))),
            (0, None) => Err(Error::not_found(format!(
                "{}: holds no image",
                self.location
            ))),
            (n, _) => Err(Error::new(
                ErrorKind::Ambiguous,
                format!(
                    "{}: {n} images match; name one (it has: {})",
                    self.location,
                    list_or_none(&self.names())
                ),
            )),
        }
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let path = blob_path(&desc.digest);
        let Some((size, reader)) = self
            .files
            .open(&path)
            .map_err(|e| e.context(&self.location))?
        else {
            return Err(Error::not_found(format!(
                "{}: blob {} ({}) is not in the layout",
                self.location, desc.digest, desc.media_type
            )));
        };
        if size != desc.size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{}: {path} has {size} bytes, its descriptor says {}",
                    self.location, desc.size
                ),
            ));
        }
        Ok(Box::new(VerifyingReader::new(
            reader,
            desc.digest.clone(),
            desc.size,
        )))
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        Ok(self.files.size(&blob_path(&desc.digest))? == Some(desc.size))
    }

    fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        let mut out = Vec::new();
        for d in &self.index.manifests {
            if !(d.media_type.is_manifest() || d.media_type.is_index()) || d.size > DOCUMENT_LIMIT {
                continue;
            }
            let raw = self.get_manifest(d)?;
            if subject_of(&raw).is_some_and(|s| &s.digest == subject)
                && !out.iter().any(|x: &Descriptor| x.digest == raw.digest)
            {
                out.push(crate::content::referrer_descriptor(&raw));
            }
        }
        Ok(out)
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "no named images".into()
    } else {
        names.join(", ")
    }
}
