//! One-pass digesting: a [`LayerWriter`] that produces the compressed blob while computing
//! both the diffID (sha256 of the tar) and the blob digest and size, and a [`LayerReader`]
//! that decompresses a blob while computing its diffID.

use std::io::{self, Read, Write};

use strata_oci::media_type::{Compression, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD};
use strata_oci::{Algorithm, Digest, DigestWriter, Digester, MediaType};

use crate::compress::{decompress, CompressOptions, Encoder};
use crate::error::{Error, Result};

/// What a layer is known by: its diffID (config `rootfs.diff_ids`) and the descriptor of the
/// compressed blob (manifest `layers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDigests {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar.
    pub diff_size: u64,
    /// sha256 of the blob as stored and pushed.
    pub digest: Digest,
    /// Bytes of the blob.
    pub size: u64,
    pub compression: Compression,
}

impl LayerDigests {
    /// The OCI layer media type for this blob's compression.
    pub fn media_type(&self) -> MediaType {
        MediaType::new(match self.compression {
            Compression::None => OCI_LAYER_TAR,
            Compression::Gzip => OCI_LAYER_GZIP,
            Compression::Zstd => OCI_LAYER_ZSTD,
        })
    }
}

/// A `Write` taking tar bytes and writing the compressed blob to `W`, digesting both sides.
pub struct LayerWriter<W: Write> {
    diff: Digester,
    diff_size: u64,
    encoder: Encoder<DigestWriter<W>>,
    compression: Compression,
}

impl<W: Write> LayerWriter<W> {
    pub fn new(inner: W, options: &CompressOptions) -> Result<Self> {
        let encoder = Encoder::new(DigestWriter::new(inner, Algorithm::Sha256), options)?;
        Ok(LayerWriter {
            diff: Digester::sha256(),
            diff_size: 0,
            encoder,
            compression: options.compression,
        })
    }

    /// Flush the compressor's trailer and return the inner writer with the digests.
    pub fn finish(self) -> Result<(W, LayerDigests)> {
        let blob = self
            .encoder
            .finish()
            .map_err(|e| Error::io("<layer blob>", e))?;
        let (inner, digest, size) = blob.finish();
        let digests = LayerDigests {
            diff_id: self.diff.finish(),
            diff_size: self.diff_size,
            digest,
            size,
            compression: self.compression,
        };
        Ok((inner, digests))
    }
}

impl<W: Write> Write for LayerWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.encoder.write(buf)?;
        self.diff.update(&buf[..n]);
        self.diff_size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.encoder.flush()
    }
}

/// A reader that digests and counts everything read through it.
pub struct DigestReader<R> {
    inner: R,
    digester: Digester,
    read: u64,
}

impl<R: Read> DigestReader<R> {
    pub fn new(inner: R, algorithm: Algorithm) -> Self {
        DigestReader {
            inner,
            digester: Digester::new(algorithm),
            read: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Read the rest of the stream (so the digest covers all of it) and return the digest,
    /// the total byte count and the inner reader.
    pub fn finish(mut self) -> io::Result<(R, Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((self.inner, self.digester.finish(), self.read))
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// A reader of a layer blob yielding tar bytes and computing the diffID as it goes.
pub struct LayerReader<'a> {
    inner: DigestReader<Box<dyn Read + 'a>>,
}

impl<'a> LayerReader<'a> {
    /// `compression` is the declared type; the magic bytes decide (see [`decompress`]).
    pub fn new<R: Read + 'a>(blob: R, compression: Option<Compression>) -> Result<Self> {
        let tar = decompress(blob, compression).map_err(|e| Error::io("<layer blob>", e))?;
        Ok(LayerReader {
            inner: DigestReader::new(tar, Algorithm::Sha256),
        })
    }

    /// Drain what is left of the tar (trailing padding counts towards the diffID) and return
    /// the diffID and the uncompressed size.
    pub fn finish(self) -> Result<(Digest, u64)> {
        let (_, digest, size) = self
            .inner
            .finish()
            .map_err(|e| Error::io("<layer blob>", e))?;
        Ok((digest, size))
    }
}

impl Read for LayerReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_digests_match_separate_computation() {
        let tar: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut w = LayerWriter::new(Vec::new(), &CompressOptions::new(c)).unwrap();
            w.write_all(&tar).unwrap();
            let (blob, d) = w.finish().unwrap();
            assert_eq!(d.diff_id, Digest::sha256_of(&tar));
            assert_eq!(d.digest, Digest::sha256_of(&blob));
            assert_eq!((d.size, d.diff_size), (blob.len() as u64, tar.len() as u64));
            assert_eq!(d.media_type().layer_compression(), Some(c));

            let mut r = LayerReader::new(&blob[..], None).unwrap();
            let mut head = [0u8; 10];
            r.read_exact(&mut head).unwrap();
            let (diff_id, size) = r.finish().unwrap();
            assert_eq!(
                (diff_id, size),
                (d.diff_id.clone(), tar.len() as u64),
                "{c:?}"
            );
        }
    }

    #[test]
    fn magic_bytes_win_over_the_declared_type() {
        let mut w = LayerWriter::new(Vec::new(), &CompressOptions::new(Compression::Zstd)).unwrap();
        w.write_all(b"data").unwrap();
        let (blob, d) = w.finish().unwrap();
        for declared in [Some(Compression::Gzip), Some(Compression::None), None] {
            let mut r = LayerReader::new(&blob[..], declared).unwrap();
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, b"data");
            assert_eq!(r.finish().unwrap().0, d.diff_id);
        }
    }
}
