//! A streaming tar reader for layers: USTAR, PAX (local and global records, binary-safe
//! values such as `security.capability`), GNU long names, base-256 numbers.
//!
//! Written for hostile input: checksums are verified, extension data is capped (per entry,
//! for the global state, and per archive), global PAX records are looked up rather than
//! copied into every entry, the ustar name prefix is honoured only under the POSIX `ustar\0`
//! magic (GNU headers keep atime and ctime in those bytes), and nothing is interpreted as a
//! path here; [`crate::apply`] decides where entries may go. This is the one reader strata
//! uses for every tar that comes from outside: layers, archives, contexts, ADD sources.

use std::collections::BTreeMap;
use std::io::{self, Read};

use crate::error::{Error, Result};

const BLOCK: usize = 512;
/// Cap for the extension data (PAX `x` records, GNU long names and link names, all the
/// consecutive extension headers before one entry together): generous for real xattrs and
/// paths, small enough that a hostile header cannot make the reader allocate without bound.
pub const MAX_ENTRY_EXTENSION: u64 = 16 << 20;
/// Cap for the global PAX state (`g` headers accumulate into it).
pub const MAX_GLOBAL_EXTENSION: u64 = 16 << 20;
/// Cap for all the extension data of one archive: real layers carry a few hundred bytes per
/// entry at most; parsing more is only cost.
pub const MAX_ARCHIVE_EXTENSION: u64 = 1 << 30;
/// Global PAX keywords that would give every following entry the same name, size or
/// attributes: refused rather than guessed at.
const GLOBAL_REFUSED: &[&[u8]] = &[
    b"path",
    b"linkpath",
    b"size",
    b"SCHILY.xattr.",
    b"GNU.sparse.",
];

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
    /// Global PAX records in effect; consulted by lookup, never copied per entry.
    global: BTreeMap<Vec<u8>, Vec<u8>>,
    global_bytes: u64,
    /// Extension bytes read so far in this archive.
    extension_total: u64,
    done: bool,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            remaining: 0,
            padding: 0,
            global: BTreeMap::new(),
            global_bytes: 0,
            extension_total: 0,
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
        // Extension bytes before this entry, all consecutive headers together.
        let mut entry_extension: u64 = 0;
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
            if let b'x' | b'g' | b'L' | b'K' = typeflag {
                let name = name_field(&block);
                let what = match typeflag {
                    b'x' => "pax extended header",
                    b'g' => "pax global header",
                    b'L' => "GNU long name",
                    _ => "GNU long link name",
                };
                let (used, cap, scope) = if typeflag == b'g' {
                    (self.global_bytes, MAX_GLOBAL_EXTENSION, "global headers")
                } else {
                    (
                        entry_extension,
                        MAX_ENTRY_EXTENSION,
                        "one entry's extension headers",
                    )
                };
                if size.saturating_add(used) > cap {
                    return Err(Error::invalid(
                        &name,
                        format!(
                            "{what} of {size} bytes takes {scope} past the {} MiB cap",
                            cap >> 20
                        ),
                    ));
                }
                if size.saturating_add(self.extension_total) > MAX_ARCHIVE_EXTENSION {
                    return Err(Error::invalid(
                        &name,
                        format!(
                            "{what} of {size} bytes takes the archive's extension data past \
                             the {} MiB cap",
                            MAX_ARCHIVE_EXTENSION >> 20
                        ),
                    ));
                }
                self.extension_total += size;
                let payload = self.read_payload(size)?;
                match typeflag {
                    b'x' => {
                        entry_extension += size;
                        parse_pax(&payload, &mut local)?;
                    }
                    b'g' => {
                        let mut records = BTreeMap::new();
                        parse_pax(&payload, &mut records)?;
                        if let Some(key) = records.keys().find(|k| {
                            GLOBAL_REFUSED.iter().any(|r| {
                                k.as_slice() == *r || (r.ends_with(b".") && k.starts_with(r))
                            })
                        }) {
                            return Err(Error::Unsupported {
                                what: format!(
                                    "global pax record {:?} (it would apply to every entry)",
                                    String::from_utf8_lossy(key)
                                ),
                            });
                        }
                        self.global_bytes += size;
                        self.global.extend(records);
                    }
                    b'L' => {
                        entry_extension += size;
                        long_name = Some(trim_nul(payload));
                    }
                    _ => {
                        entry_extension += size;
                        long_link = Some(trim_nul(payload));
                    }
                }
                continue;
            }
            // Only POSIX ustar has the name prefix; GNU's magic is "ustar  " and keeps atime
            // and ctime where the prefix would be.
            let posix = &block[257..263] == b"ustar\0";
            let ustar = &block[257..262] == b"ustar";
            let mut path = name_field(&block);
            if posix {
                let prefix = cstr(&block[345..500]);
                if !prefix.is_empty() {
                    let mut p = prefix.to_vec();
                    p.push(b'/');
                    p.extend_from_slice(&path);
                    path = p;
                }
            }
            let path = local.remove(&b"path"[..]).or(long_name).unwrap_or(path);
            let link = local
                .remove(&b"linkpath"[..])
                .or(long_link)
                .unwrap_or_else(|| cstr(&block[157..257]).to_vec());
            // Local records win over global ones; globals are looked up, not copied.
            let global = &self.global;
            let pax_get = |key: &[u8]| local.get(key).or_else(|| global.get(key));
            let num = |key: &[u8], field: &[u8], what: &str| -> Result<u64> {
                match pax_get(key) {
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
            let (mtime, mtime_nsec) = match pax_get(&b"mtime"[..]) {
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
            // Global headers hold no xattr or sparse records (refused above): only the
            // entry's own records matter here.
            let mut xattrs = BTreeMap::new();
            for (k, v) in local {
                if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                    let name = String::from_utf8(name.to_vec())
                        .map_err(|_| Error::invalid(&path, "non-UTF-8 xattr name"))?;
                    xattrs.insert(name, v);
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
                // GNU incremental dumpdir: a directory whose data lists its contents.
                b'D' => TarKind::Dir,
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

/// Whether `block` is a tar header in any dialect (v7, ustar, GNU, PAX): not all zeros and
/// its checksum verifies. How callers tell a tar from other files, as Go's reader (and so
/// docker's ADD) does, rather than by the `ustar` magic v7 headers lack.
pub fn is_tar_header(block: &[u8]) -> bool {
    let Ok(block) = <&[u8; BLOCK]>::try_from(block) else {
        return false;
    };
    !block.iter().all(|&b| b == 0) && verify_checksum(block).is_ok()
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
