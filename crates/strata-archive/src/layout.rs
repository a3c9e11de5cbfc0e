//! OCI image layouts: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`.
//!
//! Every descriptor reachable from `index.json` is followed: manifests, nested indexes,
//! configs and layers must all be present and match their digest and size. Media types
//! are taken from the descriptors as written (a Docker layer inside an OCI manifest stays
//! a Docker layer). Top-level entries that are neither manifests nor indexes are not
//! images; they are reported in [`LoadReport::skipped`](crate::LoadReport) rather than
//! dropped silently.

use strata_oci::Digest;

use crate::docker::ManifestEntry;
use crate::error::{Error, ErrorKind, Result};
use crate::files::{blob_path, Files};
use crate::load::LoadedImage;
use crate::model::{self, Descriptor, Index, Manifest, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::sink::BlobSink;

/// Check the `oci-layout` marker file.
pub fn check_layout_marker(bytes: &[u8]) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Marker {
        #[serde(rename = "imageLayoutVersion")]
        version: String,
    }
    let marker: Marker = model::parse(bytes, "oci-layout")?;
    if marker.version != "1.0.0" {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "oci-layout version {:?} is not supported (expected 1.0.0)",
                marker.version
            ),
        ));
    }
    Ok(())
}

/// Resolve the images `index.json` lists. `docker_entries` (Docker ≥ 25 archives) add
/// `RepoTags` to the images whose config they name. Manifests with a `subject` (OCI 1.1
/// referrers: SBOMs, signatures) are committed with their blobs and returned in
/// `attachments` as (subject digest, descriptor) instead of as images.
pub fn resolve(
    files: &mut dyn Files,
    sink: &mut dyn BlobSink,
    index: &Index,
    docker_entries: &[ManifestEntry],
    skipped: &mut Vec<String>,
    attachments: &mut Vec<(Digest, Descriptor)>,
) -> Result<Vec<LoadedImage>> {
    let mut images: Vec<LoadedImage> = Vec::new();
    for desc in &index.manifests {
        if desc.media_type.is_manifest() {
            if let Some(subject) = subject_of(files, sink, desc)? {
                walk(files, sink, desc, 0)?;
                attachments.push((subject, desc.clone()));
                continue;
            }
        }
        if !(desc.media_type.is_manifest() || desc.media_type.is_index()) {
            skipped.push(format!(
                "index.json entry {} has media type {} and is not an image",
                desc.digest, desc.media_type
            ));
            continue;
        }
        let mut names = Vec::new();
        if let Some(name) = desc.annotation(ANNOTATION_IMAGE_NAME) {
            names.push(name.to_owned());
        } else if let Some(refname) = desc.annotation(ANNOTATION_REF_NAME) {
            // A bare tag ("latest", "1") names no repository; only full names count.
            if refname.contains(':') || refname.contains('/') {
                names.push(refname.to_owned());
            }
        }
        if let Some(existing) = images.iter_mut().find(|i| i.manifest.digest == desc.digest) {
            for n in names {
                if !existing.names.contains(&n) {
                    existing.names.push(n);
                }
            }
            continue;
        }
        let (config, layers) = walk(files, sink, desc, 0)?;
        // Docker ≥ 25 writes each tag both as an annotation and in RepoTags; RepoTags only
        // fill in when the index carries no names (other writers).
        if let Some(cfg) = config.as_ref().filter(|_| names.is_empty()) {
            for entry in docker_entries {
                if crate::files::normalize(&entry.config).ok().as_deref()
                    == Some(blob_path(cfg).as_str())
                {
                    for tag in entry.repo_tags.iter().flatten() {
                        if !names.contains(tag) {
                            names.push(tag.clone());
                        }
                    }
                }
            }
        }
        let mut target = desc.clone();
        target.annotations.clear();
        images.push(LoadedImage {
            manifest: target,
            config,
            layers,
            names,
        });
    }
    Ok(images)
}

/// Bytes of the document `desc` points to, verified, and committed to `sink`.
pub fn document(
    files: &mut dyn Files,
    sink: &mut dyn BlobSink,
    desc: &Descriptor,
) -> Result<Vec<u8>> {
    let path = blob_path(&desc.digest);
    let bytes = files.small(sink, &path)?.ok_or_else(|| missing(desc))?;
    let actual = desc.digest.of_same_algorithm(&bytes);
    if actual != desc.digest || bytes.len() as u64 != desc.size {
        return Err(Error::new(
            ErrorKind::DigestMismatch,
            format!(
                "{path}: expected {} ({} bytes), content is {actual} ({} bytes)",
                desc.digest,
                desc.size,
                bytes.len()
            ),
        ));
    }
    files.blob(sink, &path, Some((&desc.digest, Some(desc.size))))?;
    Ok(bytes)
}

/// The subject of the manifest `desc` points to, if it has one.
fn subject_of(
    files: &mut dyn Files,
    sink: &mut dyn BlobSink,
    desc: &Descriptor,
) -> Result<Option<Digest>> {
    let bytes = document(files, sink, desc)?;
    let manifest: Manifest = model::parse(&bytes, &format!("manifest {}", desc.digest))?;
    Ok(manifest.subject.map(|s| s.digest))
}

fn missing(desc: &Descriptor) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "blob {} ({}) is not in the layout",
            desc.digest, desc.media_type
        ),
    )
}

/// Follow `desc`, committing everything it references. For a manifest: its config digest
/// and layers; for an index: `(None, [])` after checking every child.
fn walk(
    files: &mut dyn Files,
    sink: &mut dyn BlobSink,
    desc: &Descriptor,
    depth: usize,
) -> Result<(Option<Digest>, Vec<Descriptor>)> {
    if depth > 8 {
        return Err(Error::malformed(format!(
            "index {} nests too deeply",
            desc.digest
        )));
    }
    let bytes = document(files, sink, desc)?;
    if desc.media_type.is_index() {
        let index: Index = model::parse(&bytes, &format!("index {}", desc.digest))?;
        for child in &index.manifests {
            if child.media_type.is_manifest() || child.media_type.is_index() {
                walk(files, sink, child, depth + 1)?;
            } else {
                blob(files, sink, child)?;
            }
        }
        return Ok((None, Vec::new()));
    }
    let manifest: Manifest = model::parse(&bytes, &format!("manifest {}", desc.digest))?;
    blob(files, sink, &manifest.config)?;
    for layer in &manifest.layers {
        blob(files, sink, layer)?;
    }
    Ok((Some(manifest.config.digest.clone()), manifest.layers))
}

fn blob(files: &mut dyn Files, sink: &mut dyn BlobSink, desc: &Descriptor) -> Result<()> {
    files
        .blob(
            sink,
            &blob_path(&desc.digest),
            Some((&desc.digest, Some(desc.size))),
        )?
        .ok_or_else(|| missing(desc))?;
    Ok(())
}
