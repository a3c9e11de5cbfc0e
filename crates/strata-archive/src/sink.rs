//! Where blobs go on load and come from on save.
//!
//! The archive code sees the store through two narrow traits so that it can be tested
//! against an in-memory map and so that the store's lease and commit rules stay in one
//! place: an implementation of [`BlobSink`] must make a blob visible only after its digest
//! (and size, when expected) are verified, and must never keep a partial blob.

use std::collections::HashMap;
use std::io::Read;

use strata_oci::media_type::Compression;
use strata_oci::{Digest, Digester};

use crate::detect::compression_of;
use crate::error::{Error, ErrorKind, Result};

/// A blob that was committed to a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub digest: Digest,
    pub size: u64,
    /// What the blob's leading bytes say about its compression.
    pub compression: Compression,
}

/// Destination of loaded blobs.
pub trait BlobSink {
    /// Stream `reader` into a blob and commit it. With `expected`, commit only when the
    /// content hashes to it (and has `size`, when given); otherwise fail with
    /// [`ErrorKind::DigestMismatch`] and keep nothing.
    fn ingest(
        &mut self,
        reader: &mut dyn Read,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> Result<(Digest, u64)>;

    /// Read back a committed blob.
    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + '_>>;

    /// Note that the layer with `diff_id` is `size` bytes uncompressed (a store shows image
    /// sizes unpacked). Sinks that keep no such facts ignore it.
    fn note_unpacked_size(&self, _diff_id: &Digest, _size: u64) -> Result<()> {
        Ok(())
    }
}

/// Source of blobs to save. Implementations should verify what they return.
pub trait BlobSource {
    fn open_blob(&self, digest: &Digest) -> Result<Box<dyn Read + '_>>;
}

/// Ingest `reader` into `sink`, noting the compression its first bytes announce.
pub fn ingest_sniffed(
    sink: &mut dyn BlobSink,
    reader: &mut dyn Read,
    expected: Option<(&Digest, Option<u64>)>,
) -> Result<Ingested> {
    let mut sniff = Sniff {
        inner: reader,
        head: Vec::with_capacity(8),
    };
    let (digest, size) = sink.ingest(&mut sniff, expected)?;
    Ok(Ingested {
        digest,
        size,
        compression: compression_of(&sniff.head),
    })
}

/// Records the first few bytes read through it.
struct Sniff<'a> {
    inner: &'a mut dyn Read,
    head: Vec<u8>,
}

impl Read for Sniff<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let want = 8usize.saturating_sub(self.head.len()).min(n);
        self.head.extend_from_slice(&buf[..want]);
        Ok(n)
    }
}

/// Blobs in memory: the reference implementation of both traits, used by tests.
#[derive(Debug, Default)]
pub struct MemoryBlobs {
    pub blobs: HashMap<Digest, Vec<u8>>,
}

impl BlobSink for MemoryBlobs {
    fn ingest(
        &mut self,
        reader: &mut dyn Read,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> Result<(Digest, u64)> {
        let mut data = Vec::new();
        reader
            .read_to_end(&mut data)
            .map_err(|e| Error::io("reading blob", None, e))?;
        let digest = match expected {
            Some((want, _)) => {
                let mut d = Digester::new(want.algorithm());
                d.update(&data);
                d.finish()
            }
            None => Digest::sha256_of(&data),
        };
        if let Some((want, size)) = expected {
            if &digest != want || size.is_some_and(|s| s != data.len() as u64) {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!(
                        "blob {want}: content has digest {digest} and size {}",
                        data.len()
                    ),
                ));
            }
        }
        let size = data.len() as u64;
        self.blobs.insert(digest.clone(), data);
        Ok((digest, size))
    }

    fn open(&self, digest: &Digest) -> Result<Box<dyn Read + '_>> {
        self.open_blob(digest)
    }
}

impl BlobSource for MemoryBlobs {
    fn open_blob(&self, digest: &Digest) -> Result<Box<dyn Read + '_>> {
        match self.blobs.get(digest) {
            Some(data) => Ok(Box::new(&data[..])),
            None => Err(Error::new(
                ErrorKind::NotFound,
                format!("blob {digest} not found"),
            )),
        }
    }
}

/// Read a whole (small) blob back from `sink`.
pub fn read_all(sink: &dyn BlobSink, digest: &Digest) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    sink.open(digest)?
        .read_to_end(&mut out)
        .map_err(|e| Error::io(format!("reading blob {digest}"), None, e))?;
    Ok(out)
}
