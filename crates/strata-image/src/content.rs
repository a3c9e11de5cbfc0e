//! The content interface every transport implements: a narrow trait with provided methods
//! (go-containerregistry's `partial`), split by role as containerd splits its content store.
//!
//! - [`ContentRead`] (containerd's *provider* plus a resolver): resolve a reference to the
//!   top-level manifest descriptor, open a blob verified at end of stream, check presence,
//!   list the referrers of a subject. An implementer writes five methods; reading whole
//!   documents and parsing manifests are provided.
//! - [`ContentWrite`] (the *ingester*): put a blob (committed only when its digest and size
//!   match), put a manifest and optionally point a tag at it. Manifests with a `subject`
//!   become referrers of it.
//!
//! Vocabulary: a *reference* is what the transport uses to name a top-level manifest (a
//! store name, a layout's `org.opencontainers.image.ref.name`, an archive's `RepoTags`
//! entry, a registry tag or digest); `None` asks for the only image the source holds (a
//! registry's `latest`). Every error names [`ContentRead::location`].

use std::io::Read;

use strata_oci::{Descriptor, Digest, RawManifest};

use crate::error::{Error, ErrorKind, Result};

/// Documents (manifests, indexes, configs) larger than this are refused.
pub const DOCUMENT_LIMIT: u64 = 4 << 20;

/// Read access to one place images live.
pub trait ContentRead: Send + Sync {
    /// The place, as the user spells it (`oci:/tmp/layout`, `docker://host/repo`, `store
    /// /var/lib/strata`); errors name it.
    fn location(&self) -> String;

    /// The descriptor of the manifest or index `reference` names (see the module docs).
    fn resolve(&self, reference: Option<&str>) -> Result<Descriptor>;

    /// A blob's bytes; the reader fails at end of stream unless they match `desc`'s digest
    /// and size. Manifests are blobs too.
    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>>;

    /// Whether the blob is present.
    fn has_blob(&self, desc: &Descriptor) -> Result<bool>;

    /// Descriptors of the manifests whose `subject` is `subject` (OCI 1.1 referrers), with
    /// their `artifactType` and annotations. Empty when there are none.
    fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>>;

    /// A whole small blob, verified; refused over `limit` bytes.
    fn read_verified(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        if desc.size > limit {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{}: blob {} is {} bytes, over the {limit}-byte limit for documents",
                    self.location(),
                    desc.digest,
                    desc.size
                ),
            ));
        }
        let mut out = Vec::with_capacity(desc.size as usize);
        self.open_blob(desc)?
            .read_to_end(&mut out)
            .map_err(|e| Error::io(format!("{}: blob {}", self.location(), desc.digest), e))?;
        Ok(out)
    }

    /// The manifest or index `desc` points at, verified and parsed.
    fn get_manifest(&self, desc: &Descriptor) -> Result<RawManifest> {
        let bytes = self.read_verified(desc, DOCUMENT_LIMIT)?;
        RawManifest::parse_verified(bytes, Some(desc.media_type.as_str()), &desc.digest)
            .map_err(|e| Error::from(e).context(self.location()))
    }

    /// [`referrers`](Self::referrers) whose `artifactType` is `artifact_type` (all when `None`).
    fn referrers_of_type(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let mut all = self.referrers(subject)?;
        if let Some(t) = artifact_type {
            all.retain(|d| d.artifact_type.as_ref().is_some_and(|a| a.as_str() == t));
        }
        Ok(all)
    }
}

/// Write access to one place images live.
pub trait ContentWrite: ContentRead {
    /// Store the blob `desc` names from `data`. Nothing becomes visible unless the bytes hash
    /// to `desc.digest` and have `desc.size`; a blob already present is not written again.
    fn put_blob(&self, desc: &Descriptor, data: &mut (dyn Read + Send)) -> Result<()>;

    /// Store a manifest or index whose blobs (and children) are present, pointing `tag` at
    /// it when given. A manifest with a `subject` is recorded as a referrer of it.
    fn put_manifest(&self, raw: &RawManifest, tag: Option<&str>) -> Result<()>;

    /// Whether this destination can hold an index (a registry, a layout) or keeps one
    /// platform's image only (the store).
    fn keeps_indexes(&self) -> bool {
        true
    }

    /// Store small bytes as the blob `desc` names.
    fn put_bytes(&self, desc: &Descriptor, bytes: &[u8]) -> Result<()> {
        self.put_blob(desc, &mut &bytes[..])
    }
}

/// The descriptor a referrers listing gives for `raw`: its media type, digest, size,
/// `artifactType` (the manifest's own, else its config's media type, as OCI 1.1 says) and
/// annotations.
pub fn referrer_descriptor(raw: &RawManifest) -> Descriptor {
    let mut d = raw.descriptor();
    match &raw.parsed {
        strata_oci::Manifest::Image(m) => {
            d.artifact_type = m
                .artifact_type
                .clone()
                .or_else(|| Some(m.config.media_type.clone()));
            d.annotations = m.annotations.clone();
        }
        strata_oci::Manifest::Index(i) => {
            d.artifact_type = i.artifact_type.clone();
            d.annotations = i.annotations.clone();
        }
    }
    d
}

/// The subject a manifest refers to, if any.
pub fn subject_of(raw: &RawManifest) -> Option<&Descriptor> {
    match &raw.parsed {
        strata_oci::Manifest::Image(m) => m.subject.as_ref(),
        strata_oci::Manifest::Index(i) => i.subject.as_ref(),
    }
}
