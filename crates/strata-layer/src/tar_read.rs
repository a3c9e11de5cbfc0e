//! A streaming tar reader for layers: USTAR, PAX (local and global records, binary-safe
//! values such as `security.capability`), GNU long names, base-256 numbers.
//!
//! Written for hostile input: checksums are verified, extension headers are size-capped and
//! nothing is interpreted as a path here; [`crate::apply`] decides where entries may go.

use std::collections::BTreeMap;
use std::io::{self, Read};

use crate::error::{Error, Result};

const BLOCK: usize = 512;
/// Cap for PAX and GNU long-name payloads: generous for real xattrs and paths, small enough
/// that a hostile header cannot make the reader allocate without bound.
const MAX_EXTENSION: u64 = 16 << 20;

/// Entry types as the typeflag byte says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarKind {
    File,
    HardLink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
    /// Any other typeflag (contiguous files count as files).
    Other(u8),
}

/// One member's header with all extensions applied.
#[derive(Debug, Clone)]
pub struct TarHeader {
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    pub kind: TarKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    pub major: u32,
    pub minor: u32,
    /// `SCHILY.xattr.*` records, by xattr name.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Reads members one after another; the data of the current member is read through
/// [`TarReader::data`].
pub struct TarReader<R> {
    inner: R,
    remaining: u64,
    padding: u64,
    global: BTreeMap<Vec<u8>, Vec<u8>>,
    done: bool,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            remaining: 0,
            padding: 0,
            global: BTreeMap::new(),
            done: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The data of the current member (reads stop at its end).
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData { r: self }
    }

    /// The next member, or `None` after the end-of-archive marker.
    pub fn next_header(&mut self) -> Result<Option<TarHeader>> {
        if self.done {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut local: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            let mut block = [0u8; BLOCK];
            if !self.read_block(&mut block)? {
                // EOF without the two zero blocks: accepted (many writers omit them).
                self.done = true;
                return Ok(None);
            }
            if block.iter().all(|&b| b == 0) {
                self.done = true;
                return Ok(None);
            }
            verify_checksum(&block)?;
            let typeflag = block[156];
            let size = number(&block[124..136]).ok_or_else(|| bad_header("size"))?;
            match typeflag {
                b'x' | b'g' | b'L' | b'K' => {
                    if size > MAX_EXTENSION {
                        return Err(Error::invalid(
                            &name_field(&block),
                            format!("extension header of {size} bytes exceeds {MAX_EXTENSION}"),
                        ));
                    }
                    let payload = self.read_payload(size)?;
                    match typeflag {
                        b'x' => parse_pax(&payload, &mut local)?,
                        b'g' => parse_pax(&payload, &mut self.global)?,
                        b'L' => long_name = Some(trim_nul(payload)),
                        _ => long_link = Some(trim_nul(payload)),
                    }
                    continue;
                }
                _ => {}
            }
            let mut pax = self.global.clone();
            pax.extend(local);
            let ustar = &block[257..262] == b"ustar";
            let mut path = name_field(&block);
            if ustar {
                let prefix = cstr(&block[345..500]);
                if !prefix.is_empty() {
                    let mut p = prefix.to_vec();
                    p.push(b'/');
                    p.extend_from_slice(&path);
                    path = p;
                }
            }
            let path = pax.remove(&b"path"[..]).or(long_name).unwrap_or(path);
            let link = pax
                .remove(&b"linkpath"[..])
                .or(long_link)
                .unwrap_or_else(|| cstr(&block[157..257]).to_vec());
            let num = |key: &[u8], field: &[u8], what: &str| -> Result<u64> {
                match pax.get(key) {
                    Some(v) => parse_decimal(v)
                        .ok_or_else(|| Error::invalid(&path, format!("bad pax {what}"))),
                    None => number(field)
                        .ok_or_else(|| Error::invalid(&path, format!("bad {what} field"))),
                }
            };
            let size = num(b"size", &block[124..136], "size")?;
            let uid = num(b"uid", &block[108..116], "uid")?;
            let gid = num(b"gid", &block[116..124], "gid")?;
            let mode =
                number(&block[100..108]).ok_or_else(|| Error::invalid(&path, "bad mode field"))?;
            let (mtime, mtime_nsec) = match pax.get(&b"mtime"[..]) {
                Some(v) => parse_time(v).ok_or_else(|| Error::invalid(&path, "bad pax mtime"))?,
                None => {
                    let t = number(&block[136..148])
                        .ok_or_else(|| Error::invalid(&path, "bad mtime field"))?;
                    (t as i64, 0)
                }
            };
            let (major, minor) = if ustar {
                (
                    number(&block[329..337]).unwrap_or(0) as u32,
                    number(&block[337..345]).unwrap_or(0) as u32,
                )
            } else {
                (0, 0)
            };
            let mut xattrs = BTreeMap::new();
            for (k, v) in &pax {
                if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                    let name = String::from_utf8(name.to_vec())
                        .map_err(|_| Error::invalid(&path, "non-UTF-8 xattr name"))?;
                    xattrs.insert(name, v.clone());
                } else if k.starts_with(b"GNU.sparse.") {
                    return Err(Error::Unsupported {
                        what: format!("sparse tar entry {:?}", crate::error::display_name(&path)),
                    });
                }
            }
            let kind = match typeflag {
                b'0' | b'7' => TarKind::File,
                // Pre-POSIX archives mark directories only by a trailing slash.
                0 if path.ends_with(b"/") => TarKind::Dir,
                0 => TarKind::File,
                b'1' => TarKind::HardLink,
                b'2' => TarKind::Symlink,
                b'3' => TarKind::Char,
                b'4' => TarKind::Block,
                b'5' => TarKind::Dir,
                b'6' => TarKind::Fifo,
                other => TarKind::Other(other),
            };
            self.remaining = size;
            self.padding = padding(size);
            return Ok(Some(TarHeader {
                path,
                link,
                kind,
                mode: (mode & 0o7777) as u32,
                uid,
                gid,
                size,
                mtime,
                mtime_nsec,
                major,
                minor,
                xattrs,
            }));
        }
    }

    fn skip_rest(&mut self) -> Result<()> {
        let n = self.remaining + self.padding;
        if n > 0 {
            let copied =
                io::copy(&mut (&mut self.inner).take(n), &mut io::sink()).map_err(stream_err)?;
            if copied != n {
                return Err(truncated());
            }
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    fn read_payload(&mut self, size: u64) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(size as usize);
        (&mut self.inner)
            .take(size)
            .read_to_end(&mut buf)
            .map_err(stream_err)?;
        if buf.len() as u64 != size {
            return Err(truncated());
        }
        self.padding = padding(size);
        self.skip_rest()?;
        Ok(buf)
    }

    /// Fill `block`; `false` on a clean EOF before its first byte.
    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool> {
        let mut n = 0;
        while n < BLOCK {
            match self.inner.read(&mut block[n..]) {
                Ok(0) if n == 0 => return Ok(false),
                Ok(0) => return Err(truncated()),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(stream_err(e)),
            }
        }
        Ok(true)
    }
}

/// Reader over the current member's data.
pub struct EntryData<'a, R> {
    r: &'a mut TarReader<R>,
}

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.r.remaining == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(self.r.remaining.min(usize::MAX as u64) as usize);
        let n = self.r.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tar entry data truncated",
            ));
        }
        self.r.remaining -= n as u64;
        Ok(n)
    }
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn stream_err(e: io::Error) -> Error {
    Error::io("<layer stream>", e)
}

fn truncated() -> Error {
    Error::invalid(b"<tar>", "archive truncated")
}

fn bad_header(what: &str) -> Error {
    Error::invalid(b"<tar header>", format!("bad {what} field"))
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn name_field(block: &[u8; BLOCK]) -> Vec<u8> {
    cstr(&block[0..100]).to_vec()
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

fn verify_checksum(block: &[u8; BLOCK]) -> Result<()> {
    let stored = number(&block[148..156]).ok_or_else(|| bad_header("checksum"))?;
    let unsigned: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    // Some historic writers summed signed bytes.
    let signed: i64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as i8 as i64
            }
        })
        .sum();
    if stored == unsigned || stored as i64 == signed {
        Ok(())
    } else {
        Err(Error::invalid(
            &name_field(block),
            "header checksum mismatch",
        ))
    }
}

/// Octal (space/NUL padded) or GNU base-256 (high bit of the first byte set).
fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        if field[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut v: u64 = (field[0] & 0x3f) as u64;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let s = field.iter().skip_while(|&&b| b == b' ' || b == 0);
    let mut v: u64 = 0;
    for &b in s {
        match b {
            b'0'..=b'7' => v = v.checked_mul(8)?.checked_add((b - b'0') as u64)?,
            b' ' | 0 => break,
            _ => return None,
        }
    }
    Some(v)
}

fn parse_decimal(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// PAX time: `"<seconds>[.<fraction>]"`, seconds possibly negative.
fn parse_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = sec.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nsec: u32 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    for _ in digits.len()..9 {
        nsec *= 10;
    }
    if sec.starts_with('-') && nsec > 0 {
        // -1.5 is 1.5 s before the epoch: -2 s + 0.5 s.
        return Some((secs - 1, 1_000_000_000 - nsec));
    }
    Some((secs, nsec))
}

/// Records `"<len> <key>=<value>\n"`; values may hold any byte, newlines included.
fn parse_pax(data: &[u8], out: &mut BTreeMap<Vec<u8>, Vec<u8>>) -> Result<()> {
    let bad = || Error::invalid(b"<pax header>", "malformed pax record");
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break; // Trailing NUL padding written by some tools.
        }
        let sp = rest.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &rest[sp + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        if value.is_empty() {
            // An empty value deletes the keyword (POSIX).
            out.remove(key);
        } else {
            out.insert(key.to_vec(), value.to_vec());
        }
        rest = &rest[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(b"0000644\0"), Some(0o644));
        assert_eq!(number(b"   644 \0"), Some(0o644));
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(number(b"12x"), None);
    }

    #[test]
    fn pax_values_may_hold_newlines() {
        let mut m = BTreeMap::new();
        parse_pax(b"24 SCHILY.xattr.a=x\ny\0z\n11 path=pq\n", &mut m).unwrap();
        assert_eq!(m[&b"SCHILY.xattr.a"[..]], b"x\ny\0z");
        assert_eq!(m[&b"path"[..]], b"pq");
        assert!(parse_pax(b"99 path=x\n", &mut m).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time(b"1.5"), Some((1, 500_000_000)));
        assert_eq!(parse_time(b"-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_time(b"7"), Some((7, 0)));
        assert_eq!(parse_time(b"x"), None);
    }
}
