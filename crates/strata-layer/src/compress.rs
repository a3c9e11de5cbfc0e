//! Layer compression: none, gzip and zstd, chosen from a media type or detected from the
//! stream's magic bytes.

use std::io::{self, BufReader, Cursor, Read, Write};

pub use strata_oci::media_type::Compression;
use strata_oci::MediaType;

use crate::error::{Error, Result};
use crate::pgzip::ParGzEncoder;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The compression a layer media type declares; an unknown (non-layer) type is an error.
pub fn compression_of(media_type: &MediaType) -> Result<Compression> {
    media_type
        .layer_compression()
        .ok_or_else(|| Error::Unsupported {
            what: format!("media type {media_type} is not a layer type strata can unpack"),
        })
}

/// The compression the first bytes of a blob reveal. Anything that is neither gzip nor zstd
/// is taken to be a plain tar (the tar reader rejects it later if it is not).
pub fn detect(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if prefix.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Read the first bytes of `reader`, detect its compression and return a reader that
/// yields the whole stream again (nothing is lost to the peek).
pub fn sniff<R: Read>(mut reader: R) -> io::Result<(Compression, impl Read)> {
    let mut prefix = [0u8; 4];
    let mut n = 0;
    while n < prefix.len() {
        match reader.read(&mut prefix[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let compression = detect(&prefix[..n]);
    Ok((
        compression,
        Cursor::new(prefix).take(n as u64).chain(reader),
    ))
}

/// A reader yielding the uncompressed bytes of `reader`.
///
/// `declared` is the compression the media type claims. The magic bytes decide, as in docker
/// and containerd, because registries do serve plain tars labelled gzip; the blob and diffID
/// digests pin the content either way. A declared compressed type over bytes without any
/// compression magic is read as a plain tar, which the tar reader then validates.
pub fn decompress<'a, R: Read + 'a>(
    reader: R,
    declared: Option<Compression>,
) -> io::Result<Box<dyn Read + 'a>> {
    let _ = declared;
    let (compression, reader) = sniff(reader)?;
    Ok(match compression {
        Compression::None => Box::new(reader),
        // Multi-member aware: pigz-style and concatenated gzip streams are valid layers.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(reader))),
        Compression::Zstd => Box::new(zstd::Decoder::new(reader)?),
    })
}

/// How to compress a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressOptions {
    pub compression: Compression,
    /// gzip 0–9 (default 6), zstd 1–22 (default 3). `None` takes the default.
    ///
    /// For gzip the level applies to data deflate can shrink with matches. Whatever the
    /// level (except 0, which stores everything), 64 KiB stretches that look random or
    /// already compressed are stored, stretches without repeats (base64, weights) are
    /// Huffman-coded only, and mostly random stretches with a few repeats get greedy
    /// matching: the same sizes within a fraction of a percent at a fraction of the time.
    pub level: Option<i32>,
    /// Worker threads; 0 means all available cores. Output bytes do not depend on this.
    pub threads: usize,
}

impl CompressOptions {
    pub fn new(compression: Compression) -> Self {
        CompressOptions {
            compression,
            level: None,
            threads: 0,
        }
    }

    fn thread_count(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.threads
        }
    }
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions::new(Compression::Gzip)
    }
}

/// A compressing writer; call [`Encoder::finish`] to write trailers and get `W` back.
pub enum Encoder<W: Write> {
    None(W),
    Gzip(ParGzEncoder<W>),
    Zstd(zstd::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    pub fn new(inner: W, options: &CompressOptions) -> Result<Self> {
        let threads = options.thread_count();
        Ok(match options.compression {
            Compression::None => {
                if options.level.is_some() {
                    return Err(Error::Unsupported {
                        what: "a compression level for an uncompressed layer".into(),
                    });
                }
                Encoder::None(inner)
            }
            Compression::Gzip => {
                let level = options.level.unwrap_or(6);
                if !(0..=9).contains(&level) {
                    return Err(Error::Unsupported {
                        what: format!("gzip level {level} (0-9)"),
                    });
                }
                Encoder::Gzip(ParGzEncoder::new(inner, level as u32, threads))
            }
            Compression::Zstd => {
                let level = options.level.unwrap_or(3);
                if !(1..=22).contains(&level) {
                    return Err(Error::Unsupported {
                        what: format!("zstd level {level} (1-22)"),
                    });
                }
                let map = |e| Error::io("<zstd encoder>", e);
                let mut e = zstd::Encoder::new(inner, level).map_err(map)?;
                // Always the multi-threaded code path, even for one worker: its output does
                // not depend on the worker count, while single-threaded mode's output differs.
                // That keeps compressed digests identical across machines.
                e.multithread(threads as u32).map_err(map)?;
                e.include_checksum(true).map_err(map)?;
                Encoder::Zstd(e)
            }
        })
    }

    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}
