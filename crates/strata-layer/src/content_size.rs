//! A layer's size as docker reports it (`docker images`, `history`, `inspect .Size`): the
//! sum of the sizes of the non-directory entries of the unpacked layer, each inode counted
//! once. Docker's layer store takes this number from a walk of the layer's diff directory
//! after unpacking it (`lstat` sizes, so a symlink counts the length of its target, a
//! whiteout device or an empty file nothing); tar headers, padding and directory entries
//! never count, so an 11-byte file written by RUN makes an `11B` layer and a WORKDIR `0B`.
//!
//! Three ways to the same number: [`tar_content_size`] reads the layer tar (a hard-link
//! member names an inode counted already), [`dir_content_size`] walks an unpacked layer, and
//! [`ContentSizeCounter`] counts tar bytes written to it, so a download that already streams
//! a layer (to check its diffID) gets the size without a second pass.

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::tar_read::{TarKind, TarReader};

/// docker's size of the layer whose (uncompressed) tar is `tar`.
pub fn tar_content_size<R: Read>(tar: R) -> Result<u64> {
    tar_entries_size(&mut TarReader::new(tar))
}

/// [`tar_content_size`] over a reader the caller keeps (to drain or verify what follows the
/// end-of-archive marker).
pub fn tar_entries_size<R: Read>(reader: &mut TarReader<R>) -> Result<u64> {
    let mut total = 0u64;
    while let Some(h) = reader.next_header()? {
        total += match h.kind {
            TarKind::File | TarKind::Other(_) => h.size,
            TarKind::Symlink => h.link.len() as u64,
            TarKind::HardLink | TarKind::Dir | TarKind::Char | TarKind::Block | TarKind::Fifo => 0,
        };
    }
    Ok(total)
}

/// docker's size of the layer unpacked at `root` (not `root` itself): `lstat` sizes of
/// everything but directories, hard-linked inodes once.
pub fn dir_content_size(root: &Path) -> Result<u64> {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            if meta.len() == 0 || !seen.insert((meta.dev(), meta.ino())) {
                continue;
            }
            total += meta.len();
        }
    }
    Ok(total)
}

/// Cap for PAX and GNU long-name payloads, as the tar reader's.
const MAX_EXTENSION: u64 = 16 << 20;

/// A sink for a layer's tar bytes that counts [`tar_content_size`] as they pass. Anything
/// that is not a well-formed tar makes [`ContentSizeCounter::finish`] return `None`; writes
/// never fail, so the counter can sit beside a digest without changing what it accepts.
#[derive(Debug, Default)]
pub struct ContentSizeCounter {
    block: Vec<u8>,
    /// Bytes of member data and padding still to pass by.
    skip: u64,
    /// An extension header's payload being collected: typeflag, bytes, bytes still due.
    extension: Option<(u8, Vec<u8>, u64)>,
    /// `size` and `linkpath` lengths from a PAX header, and a GNU long link's length, for
    /// the next member.
    pax_size: Option<u64>,
    next_link_len: Option<u64>,
    total: u64,
    ended: bool,
    broken: bool,
}

fn padding_of(size: u64) -> u64 {
    (512 - size % 512) % 512
}

/// A tar numeric field: octal text, or GNU base-256.
fn tar_number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(n);
    }
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

impl ContentSizeCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// docker's size of the layer written so far, if it was a well-formed tar.
    pub fn finish(self) -> Option<u64> {
        let complete = self.ended || (self.skip == 0 && self.block.is_empty());
        (!self.broken && self.extension.is_none() && complete).then_some(self.total)
    }

    fn header(&mut self) {
        let h = std::mem::take(&mut self.block);
        if h.iter().all(|&b| b == 0) {
            self.ended = true;
            return;
        }
        let Some(size) = tar_number(&h[124..136]) else {
            self.broken = true;
            return;
        };
        let typeflag = h[156];
        if matches!(typeflag, b'x' | b'g' | b'L' | b'K') {
            if size > MAX_EXTENSION {
                self.broken = true;
                return;
            }
            self.extension = Some((typeflag, Vec::new(), size));
            if size == 0 {
                self.extension_done();
            }
            return;
        }
        let size = self.pax_size.take().unwrap_or(size);
        let link_len = self
            .next_link_len
            .take()
            .unwrap_or_else(|| h[157..257].iter().take_while(|&&b| b != 0).count() as u64);
        self.total += match typeflag {
            b'0' | b'7' => size,
            0 if h[..100].iter().take_while(|&&b| b != 0).last() != Some(&b'/') => size,
            b'2' => link_len,
            _ => 0,
        };
        self.skip = size + padding_of(size);
    }

    fn extension_done(&mut self) {
        let Some((typeflag, payload, _)) = self.extension.take() else {
            return;
        };
        self.skip = padding_of(payload.len() as u64);
        match typeflag {
            b'x' => {
                // Records: "<len> <key>=<value>\n".
                let mut rest = &payload[..];
                while !rest.is_empty() {
                    let Some(sp) = rest.iter().position(|&b| b == b' ') else {
                        self.broken = true;
                        return;
                    };
                    let Some(len) = std::str::from_utf8(&rest[..sp])
                        .ok()
                        .and_then(|l| l.parse::<usize>().ok())
                        .filter(|&l| l > sp && l <= rest.len())
                    else {
                        self.broken = true;
                        return;
                    };
                    let record = &rest[sp + 1..len];
                    let record = record.strip_suffix(b"\n").unwrap_or(record);
                    if let Some(v) = record.strip_prefix(b"size=") {
                        self.pax_size = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok());
                    } else if let Some(v) = record.strip_prefix(b"linkpath=") {
                        self.next_link_len = Some(v.len() as u64);
                    }
                    rest = &rest[len..];
                }
            }
            b'K' => {
                let len = payload.iter().take_while(|&&b| b != 0).count();
                self.next_link_len = Some(len as u64);
            }
            _ => {}
        }
    }
}

impl std::io::Write for ContentSizeCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while !rest.is_empty() && !self.ended && !self.broken {
            if self.skip > 0 {
                let n = (self.skip.min(rest.len() as u64)) as usize;
                self.skip -= n as u64;
                rest = &rest[n..];
            } else if let Some((_, payload, due)) = &mut self.extension {
                let n = ((*due).min(rest.len() as u64)) as usize;
                payload.extend_from_slice(&rest[..n]);
                *due -= n as u64;
                rest = &rest[n..];
                if *due == 0 {
                    self.extension_done();
                }
            } else {
                let n = (512 - self.block.len()).min(rest.len());
                self.block.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                if self.block.len() == 512 {
                    self.header();
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{write_tree, WriteOptions};

    #[test]
    fn tar_and_directory_agree_and_count_like_docker() {
        let tmp = std::env::temp_dir().join(format!("strata-csize-{}", std::process::id()));
        let root = tmp.join("root");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/eleven"), b"hello world").unwrap();
        std::fs::write(root.join("empty"), b"").unwrap();
        std::fs::hard_link(root.join("d/eleven"), root.join("link")).unwrap();
        std::os::unix::fs::symlink("d/eleven", root.join("sym")).unwrap();
        // 11 bytes of content once (hard link), 8 for the symlink target, nothing else.
        assert_eq!(dir_content_size(&root).unwrap(), 19);
        let mut tar = Vec::new();
        write_tree(&root, &mut tar, &WriteOptions::default()).unwrap();
        assert_eq!(tar_content_size(&tar[..]).unwrap(), 19);
        // Streamed in awkward pieces, the counter agrees.
        let mut c = ContentSizeCounter::new();
        for piece in tar.chunks(77) {
            std::io::Write::write_all(&mut c, piece).unwrap();
        }
        assert_eq!(c.finish(), Some(19));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn streamed_pax_long_names_and_links_count_like_the_reader() {
        use crate::entry::{Entry, EntryKind};
        let long = "d/".repeat(80) + "file";
        let target = "t/".repeat(70) + "x";
        let entries = vec![
            Entry::new(
                long.clone(),
                EntryKind::File(crate::FileData::Bytes(vec![1; 700])),
                0o644,
            ),
            Entry::new(
                "sym",
                EntryKind::Symlink(target.clone().into_bytes()),
                0o777,
            ),
        ];
        let mut tar = Vec::new();
        crate::write_entries(entries, &mut tar, &crate::WriteOptions::default()).unwrap();
        let want = 700 + target.len() as u64;
        assert_eq!(tar_content_size(&tar[..]).unwrap(), want);
        let mut c = ContentSizeCounter::new();
        std::io::Write::write_all(&mut c, &tar).unwrap();
        assert_eq!(c.finish(), Some(want));
        let mut c = ContentSizeCounter::new();
        std::io::Write::write_all(&mut c, b"not a tar at all").unwrap();
        assert_eq!(c.finish(), None);
    }

    #[test]
    fn an_empty_layer_is_zero() {
        let tar = [0u8; 1024];
        assert_eq!(tar_content_size(&tar[..]).unwrap(), 0);
    }
}
