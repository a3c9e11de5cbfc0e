//! [`BlobSink`] and [`BlobSource`] over the strata store.
//!
//! Every blob a load commits is recorded in the load's lease in the same step as the
//! commit, so garbage collection cannot sweep it between commit and the image record, and
//! a killed load leaves nothing but leased (later: expired, then swept) blobs. Blobs the
//! store already has are not rewritten, only added to the lease.

use std::io::Read;

use strata_oci::Digest;
use strata_store::{Lease, Store};

use crate::error::{Error, ErrorKind, Result};
use crate::sink::{BlobSink, BlobSource};

/// Commits blobs into a [`Store`] under a [`Lease`].
pub struct StoreSink<'a> {
    store: &'a Store,
    lease: &'a Lease,
}

impl<'a> StoreSink<'a> {
    pub fn new(store: &'a Store, lease: &'a Lease) -> Self {
        StoreSink { store, lease }
    }
}

fn from_store(what: String, err: strata_store::Error) -> Error {
    let kind = match err.kind {
        strata_store::ErrorKind::DigestMismatch | strata_store::ErrorKind::SizeMismatch => {
            ErrorKind::DigestMismatch
        }
        strata_store::ErrorKind::NotFound => ErrorKind::NotFound,
        _ => ErrorKind::Store,
    };
    let message = format!("{what}: {}", err.message);
    Error::new(kind, message).with_source(err)
}

impl BlobSink for StoreSink<'_> {
    fn note_unpacked_size(&self, diff_id: &Digest, size: u64) -> Result<()> {
        self.store
            .record_unpacked_size(diff_id, size)
            .map_err(|e| from_store(format!("noting the unpacked size of {diff_id}"), e))
    }

    fn ingest(
        &mut self,
        reader: &mut dyn Read,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> Result<(Digest, u64)> {
        if let Some((digest, Some(size))) = expected {
            if self.store.blob_size(digest).ok() == Some(size) {
                // Known content: protect it, and let the caller see its first bytes
                // (compression sniffing) without copying the rest.
                self.lease
                    .add(std::slice::from_ref(digest))
                    .map_err(|e| from_store(format!("leasing blob {digest}"), e))?;
                let mut head = [0u8; 8];
                let _ = reader
                    .read(&mut head)
                    .map_err(|e| Error::io(format!("reading blob {digest}"), None, e))?;
                return Ok((digest.clone(), size));
            }
        }
        let writer_expect = expected.and_then(|(d, s)| s.map(|s| (d.clone(), s)));
        let mut writer = self
            .store
            .writer(writer_expect)
            .map_err(|e| from_store("starting blob write".into(), e))?
            .with_lease(self.lease.id());
        std::io::copy(reader, &mut writer)
            .map_err(|e| Error::io("writing blob to the store", None, e))?;
        let (digest, size) = writer
            .commit()
            .map_err(|e| from_store("committing blob".into(), e))?;
        if let Some((want, _)) = expected {
            if want != &digest {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("blob {want}: content has digest {digest}"),
                ));
            }
        }
        Ok((digest, size))
    }

    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + '_>> {
        self.store.open_blob_boxed(digest)
    }
}

/// Reading blobs to save, verified at end of stream by the store's reader.
pub trait StoreExt {
    fn open_blob_boxed(&self, digest: &Digest) -> Result<Box<dyn Read + '_>>;
}

impl StoreExt for Store {
    fn open_blob_boxed(&self, digest: &Digest) -> Result<Box<dyn Read + '_>> {
        let reader = self
            .open_blob(digest)
            .map_err(|e| from_store(format!("opening blob {digest}"), e))?;
        Ok(Box::new(reader))
    }
}

impl BlobSource for Store {
    fn open_blob(&self, digest: &Digest) -> Result<Box<dyn Read + '_>> {
        self.open_blob_boxed(digest)
    }
}
