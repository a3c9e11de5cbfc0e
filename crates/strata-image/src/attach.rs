//! Attachments: OCI 1.1 artifact manifests whose `subject` is an image manifest (SBOMs,
//! signatures, provenance), written through any [`ContentWrite`] and listed through any
//! [`ContentRead`].
//!
//! [`attach`] builds the manifest the OCI image spec 1.1 recommends for artifacts: media
//! type `application/vnd.oci.image.manifest.v1+json`, an `artifactType`, the empty config
//! (`application/vnd.oci.empty.v1+json`, `{}`), the payload blobs as layers and the subject
//! descriptor. Where it lands depends on the destination: the store records it as an
//! attachment of the subject (kept while the subject lives), a layout lists it in
//! `index.json`, a registry indexes it under the referrers API or the `<alg>-<hex>` tag.

use std::collections::BTreeMap;

use strata_oci::media_type as mt;
use strata_oci::{Descriptor, Digest, ImageManifest, MediaType, RawManifest};

use crate::content::{ContentRead, ContentWrite, DOCUMENT_LIMIT};
use crate::error::{Error, ErrorKind, Result};

/// One blob of an artifact, with the descriptor to list it under.
#[derive(Debug, Clone)]
pub struct ArtifactBlob {
    pub descriptor: Descriptor,
    pub data: Vec<u8>,
}

impl ArtifactBlob {
    /// A blob of `media_type` holding `data`.
    pub fn new(media_type: &str, data: Vec<u8>) -> Self {
        ArtifactBlob {
            descriptor: Descriptor::of_bytes(media_type, &data),
            data,
        }
    }
}

/// The empty config artifacts use (`{}`).
pub fn empty_config() -> ArtifactBlob {
    let mut blob = ArtifactBlob::new(mt::OCI_EMPTY, b"{}".to_vec());
    blob.descriptor.data = Some("e30=".to_owned());
    blob
}

/// Attach an artifact of `artifact_type` holding `blobs` to `subject` in `dest`; returns the
/// artifact manifest written. Deterministic: the same inputs give the same digest.
pub fn attach(
    dest: &dyn ContentWrite,
    subject: &Descriptor,
    artifact_type: &str,
    blobs: &[ArtifactBlob],
    annotations: BTreeMap<String, String>,
) -> Result<RawManifest> {
    let artifact_type = MediaType::from(artifact_type);
    if !artifact_type.is_well_formed() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("artifact type {artifact_type:?} is not a media type"),
        ));
    }
    let config = empty_config();
    let mut manifest = ImageManifest::oci(
        config.descriptor.clone(),
        blobs.iter().map(|b| b.descriptor.clone()).collect(),
    );
    manifest.artifact_type = Some(artifact_type);
    manifest.subject = Some(Descriptor::new(
        subject.media_type.clone(),
        subject.digest.clone(),
        subject.size,
    ));
    manifest.annotations = annotations;
    let mut all = vec![config];
    all.extend(blobs.iter().cloned());
    attach_manifest(dest, &manifest, &all)
}

/// Write a prepared artifact manifest (its `subject` set) and its blobs to `dest`.
pub fn attach_manifest(
    dest: &dyn ContentWrite,
    manifest: &ImageManifest,
    blobs: &[ArtifactBlob],
) -> Result<RawManifest> {
    let subject = manifest.subject.as_ref().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            "an attachment manifest needs a subject",
        )
    })?;
    if !dest.has_blob(subject)? {
        return Err(Error::not_found(format!(
            "{}: cannot attach to {}: it is not there",
            dest.location(),
            subject.digest
        )));
    }
    let raw = RawManifest::from_manifest(manifest)?;
    let referenced: Vec<&Descriptor> = std::iter::once(&manifest.config)
        .chain(manifest.layers.iter())
        .collect();
    for d in referenced {
        let blob = blobs.iter().find(|b| b.descriptor.digest == d.digest);
        match blob {
            Some(b) => dest.put_bytes(d, &b.data)?,
            None if dest.has_blob(d)? => {}
            None => {
                return Err(Error::not_found(format!(
                    "{}: blob {} of the attachment was not given",
                    dest.location(),
                    d.digest
                )))
            }
        }
    }
    dest.put_manifest(&raw, None)?;
    Ok(raw)
}

/// The manifests attached to `subject` in `content`, of `artifact_type` when given.
pub fn referrers(
    content: &dyn ContentRead,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Result<Vec<Descriptor>> {
    content.referrers_of_type(subject, artifact_type)
}

/// An attachment's manifest and the bytes of each of its layers (payloads are small:
/// SBOMs, signatures).
pub fn read_attachment(
    content: &dyn ContentRead,
    desc: &Descriptor,
) -> Result<(RawManifest, Vec<ArtifactBlob>)> {
    let raw = content.get_manifest(desc)?;
    let m = raw.as_image().ok_or_else(|| {
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "{}: attachment {} is an index",
                content.location(),
                desc.digest
            ),
        )
    })?;
    let mut blobs = Vec::new();
    for l in &m.layers {
        blobs.push(ArtifactBlob {
            descriptor: l.clone(),
            data: content.read_verified(l, 64 * DOCUMENT_LIMIT)?,
        });
    }
    Ok((raw, blobs))
}

/// Copy the attachments of `from` in `src` to `dst` as attachments of `to`: the same
/// payload and annotations, with the subject pointing at `to`. For an image whose
/// manifest changed on the way (a push that compresses layers gets a new digest). A
/// signature carried this way still names the old digest in its payload and does not
/// verify against the new one: sign what was pushed. Returns how many were copied.
pub fn reattach(
    src: &dyn ContentRead,
    dst: &dyn ContentWrite,
    from: &Digest,
    to: &Descriptor,
) -> Result<usize> {
    let mut n = 0;
    for r in src.referrers(from)? {
        let raw = src.get_manifest(&r)?;
        let Some(m) = raw.as_image() else {
            continue;
        };
        let mut m = m.clone();
        m.subject = Some(Descriptor::new(
            to.media_type.clone(),
            to.digest.clone(),
            to.size,
        ));
        for d in std::iter::once(&m.config).chain(m.layers.iter()) {
            if !dst.has_blob(d)? {
                let mut blob = src.open_blob(d)?;
                dst.put_blob(d, &mut blob)?;
            }
        }
        dst.put_manifest(&RawManifest::from_manifest(&m)?, None)?;
        n += 1;
    }
    Ok(n)
}
