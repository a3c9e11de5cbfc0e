//! The local store as content: names resolve like `strata images` does, blobs come
//! verified from the store, writes go through its committing writer under one lease per
//! handle (so GC cannot sweep blobs before their manifest is recorded).

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use strata_oci::{Descriptor, Digest, RawManifest};
use strata_store::{Lease, NewImage, Store, TagRef};

use crate::content::{referrer_descriptor, subject_of, ContentRead, ContentWrite};
use crate::error::{Error, ErrorKind, Result};

/// How long a writer's lease protects its blobs if the process dies.
const WRITE_LEASE_TTL: Duration = Duration::from_secs(3600);

/// The local store.
pub struct StoreContent {
    store: Store,
    lease: Mutex<Option<Lease>>,
}

impl StoreContent {
    pub fn new(store: Store) -> Self {
        StoreContent {
            store,
            lease: Mutex::new(None),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Run `f` with this handle's lease id, creating the lease on first use.
    fn with_lease<T>(&self, f: impl FnOnce(&Lease) -> Result<T>) -> Result<T> {
        let mut guard = self.lease.lock().expect("lease lock");
        if guard.is_none() {
            *guard = Some(self.store.lease(Some(WRITE_LEASE_TTL))?);
        }
        f(guard.as_ref().expect("lease created"))
    }

    fn err(&self, e: impl Into<Error>) -> Error {
        e.into().context(self.location())
    }
}

impl ContentRead for StoreContent {
    fn location(&self) -> String {
        format!("store {}", self.store.root().display())
    }

    fn resolve(&self, reference: Option<&str>) -> Result<Descriptor> {
        let name = reference.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{}: an image name is required", self.location()),
            )
        })?;
        let image = self.store.resolve(name).map_err(|e| self.err(e))?;
        let r = image.record;
        Ok(Descriptor::new(
            r.media_type,
            r.manifest_digest,
            r.manifest_size,
        ))
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let size = self
            .store
            .blob_size(&desc.digest)
            .map_err(|e| self.err(e))?;
        if size != desc.size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{}: blob {} has {size} bytes, its descriptor says {}",
                    self.location(),
                    desc.digest,
                    desc.size
                ),
            ));
        }
        let reader = self
            .store
            .open_blob(&desc.digest)
            .map_err(|e| self.err(e))?;
        Ok(Box::new(reader))
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        Ok(self.store.blob_size(&desc.digest).ok() == Some(desc.size))
    }

    fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        self.store.attachments(subject).map_err(|e| self.err(e))
    }
}

impl ContentWrite for StoreContent {
    fn keeps_indexes(&self) -> bool {
        false
    }

    fn put_blob(&self, desc: &Descriptor, data: &mut (dyn Read + Send)) -> Result<()> {
        self.with_lease(|lease| {
            if self.has_blob(desc)? {
                lease.add(std::slice::from_ref(&desc.digest))?;
                return Ok(());
            }
            let mut w = self
                .store
                .writer(Some((desc.digest.clone(), desc.size)))?
                .with_lease(lease.id());
            std::io::copy(data, &mut w).map_err(|e| {
                Error::io(
                    format!("{}: writing blob {}", self.location(), desc.digest),
                    e,
                )
            })?;
            w.commit().map_err(|e| self.err(e))?;
            Ok(())
        })
    }

    fn put_manifest(&self, raw: &RawManifest, tag: Option<&str>) -> Result<()> {
        self.put_bytes(&raw.descriptor(), &raw.bytes)?;
        if let Some(subject) = subject_of(raw) {
            if tag.is_some() {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{}: manifest {} refers to {}; attachments are found through their subject, not tagged",
                        self.location(),
                        raw.digest,
                        subject.digest
                    ),
                ));
            }
            return self
                .store
                .add_attachment(&subject.digest, &referrer_descriptor(raw))
                .map_err(|e| self.err(e));
        }
        if raw.as_index().is_some() {
            return match tag {
                None => Ok(()),
                Some(t) => Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{}: cannot tag index {} as {t}: the store keeps one platform's image (pick one with --platform)",
                        self.location(),
                        raw.digest
                    ),
                )),
            };
        }
        let tags = match tag {
            Some(t) => vec![TagRef::parse(t).map_err(|e| self.err(e))?],
            None => Vec::new(),
        };
        self.store
            .add_images(&[NewImage {
                manifest: &raw.bytes,
                media_type: &raw.media_type,
                tags: &tags,
            }])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
