//! Uncompressed layer streams checked against their diffID.
//!
//! The compressed blob is verified by the transport's reader when it reaches its end; the
//! uncompressed bytes are hashed here and compared with the config's diffID when the tar
//! ends. At that point the rest of the compressed stream is drained, so the blob digest is
//! always checked too, even when the decompressor stops before the last byte.

use std::io::{self, BufReader, Cursor, Read};

use strata_oci::{Descriptor, Digest, Digester};

use strata_layer::Compression;

/// One layer as the manifest and config describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// The blob as the manifest names it (possibly compressed).
    pub descriptor: Descriptor,
    /// The digest of the uncompressed tar, from the config's `rootfs.diff_ids`.
    pub diff_id: Digest,
}

type Sniffed<'a> = io::Chain<io::Take<Cursor<[u8; 4]>>, Box<dyn Read + Send + 'a>>;

enum Decoder<'a> {
    Plain(Sniffed<'a>),
    Gzip(flate2::read::MultiGzDecoder<Sniffed<'a>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<Sniffed<'a>>>),
}

impl Read for Decoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

impl Decoder<'_> {
    /// Read what the decompressor left of the blob, so its verifier sees the end.
    fn drain(&mut self) -> io::Result<()> {
        let inner: &mut dyn Read = match self {
            Decoder::Plain(r) => r,
            Decoder::Gzip(r) => r.get_mut(),
            Decoder::Zstd(r) => r.get_mut(),
        };
        io::copy(inner, &mut io::sink()).map(|_| ())
    }
}

/// The uncompressed tar of a layer blob, failing at its end unless it hashes to `diff_id`.
pub struct UncompressedLayer<'a> {
    decoder: Decoder<'a>,
    digester: Option<Digester>,
    diff_id: Digest,
    what: String,
}

impl<'a> UncompressedLayer<'a> {
    /// Wrap `blob` (already verified at its end by the transport). The compression is taken
    /// from the magic bytes, as docker and containerd do: the digests pin the content.
    pub fn new(
        mut blob: Box<dyn Read + Send + 'a>,
        diff_id: Digest,
        what: String,
    ) -> io::Result<Self> {
        let mut head = [0u8; 4];
        let mut n = 0;
        while n < head.len() {
            match blob.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let compression = strata_layer::detect(&head[..n]);
        let sniffed: Sniffed<'a> = Cursor::new(head).take(n as u64).chain(blob);
        let decoder = match compression {
            Compression::None => Decoder::Plain(sniffed),
            Compression::Gzip => Decoder::Gzip(flate2::read::MultiGzDecoder::new(sniffed)),
            Compression::Zstd => Decoder::Zstd(zstd::stream::read::Decoder::new(sniffed)?),
        };
        Ok(UncompressedLayer {
            decoder,
            digester: Some(Digester::new(diff_id.algorithm())),
            diff_id,
            what,
        })
    }
}

impl Read for UncompressedLayer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .decoder
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.what)))?;
        if n > 0 {
            if let Some(d) = self.digester.as_mut() {
                d.update(&buf[..n]);
            }
            return Ok(n);
        }
        if !buf.is_empty() {
            if let Some(d) = self.digester.take() {
                self.decoder
                    .drain()
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.what)))?;
                let got = d.finish();
                if got != self.diff_id {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{}: uncompressed content has digest {got}, the config's diff_id is {}",
                            self.what, self.diff_id
                        ),
                    ));
                }
            }
        }
        Ok(0)
    }
}
