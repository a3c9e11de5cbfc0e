//! Compression detection by magic number.
//!
//! Archives may arrive gzip- or zstd-compressed (`docker save | gzip`), and docker-archive
//! layers may be compressed too; neither carries a reliable name, so the first bytes decide.

use std::io::{BufRead, BufReader, Read};

use strata_oci::media_type::Compression;

use crate::error::{Error, Result};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// The compression the leading bytes `head` announce.
pub fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wrap `reader` in the decompressor its first bytes call for.
pub fn decompressed<'a, R: Read + 'a>(reader: R) -> Result<(Compression, Box<dyn Read + 'a>)> {
    let mut buffered = BufReader::with_capacity(256 * 1024, reader);
    let head = buffered
        .fill_buf()
        .map_err(|e| Error::io("reading archive header", None, e))?;
    let compression = compression_of(head);
    let out: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| Error::io("starting zstd decoder", None, e))?,
        ),
    };
    Ok((compression, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_and_decodes_gzip_and_zstd() {
        let data = b"hello layer".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 1).unwrap();
        for (bytes, want) in [
            (gz, Compression::Gzip),
            (zs, Compression::Zstd),
            (data.clone(), Compression::None),
        ] {
            let (got, mut r) = decompressed(&bytes[..]).unwrap();
            assert_eq!(got, want);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
    }
}
