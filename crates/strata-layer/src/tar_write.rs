//! A deterministic tar encoder: USTAR headers plus PAX records for whatever does not fit
//! (long names and link targets, large ids, sizes and times, xattrs).
//!
//! Every field comes from the [`Entry`]; nothing from the host (user names, atime, ctime,
//! device of the source) reaches the output, so the same entries give the same bytes.

use std::fs::File;
use std::io::{self, Read, Write};

use crate::entry::{Entry, EntryKind, FileData};
use crate::error::{Error, Result};

const BLOCK: usize = 512;
const MAX_OCTAL_7: u64 = 0o7777777;
const MAX_OCTAL_11: u64 = 0o77777777777;

/// Writes [`Entry`] values as tar members onto `W`.
pub struct TarWriter<W: Write> {
    out: W,
}

impl<W: Write> TarWriter<W> {
    pub fn new(out: W) -> Self {
        TarWriter { out }
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Append one member. The path must be relative and free of `.`/`..` components.
    pub fn append(&mut self, entry: &Entry) -> Result<()> {
        validate_path(&entry.path)?;
        let (typeflag, size, link): (u8, u64, &[u8]) = match &entry.kind {
            EntryKind::File(data) => (b'0', data.size(), b""),
            EntryKind::Dir => (b'5', 0, b""),
            EntryKind::Symlink(target) => (b'2', 0, target),
            EntryKind::HardLink(target) => {
                validate_path(target)?;
                (b'1', 0, target)
            }
            EntryKind::CharDevice { .. } => (b'3', 0, b""),
            EntryKind::BlockDevice { .. } => (b'4', 0, b""),
            EntryKind::Fifo => (b'6', 0, b""),
        };
        let mut name = entry.path.clone();
        if entry.kind == EntryKind::Dir {
            name.push(b'/');
        }
        let (major, minor) = match entry.kind {
            EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
                (major as u64, minor as u64)
            }
            _ => (0, 0),
        };

        let mut pax = Vec::new();
        if name.len() > 100 {
            pax_record(&mut pax, b"path", &name);
        }
        if link.len() > 100 {
            pax_record(&mut pax, b"linkpath", link);
        }
        for (key, id) in [(&b"uid"[..], entry.uid), (b"gid", entry.gid)] {
            if id > MAX_OCTAL_7 {
                pax_record(&mut pax, key, id.to_string().as_bytes());
            }
        }
        if size > MAX_OCTAL_11 {
            pax_record(&mut pax, b"size", size.to_string().as_bytes());
        }
        if entry.mtime < 0 || entry.mtime as u64 > MAX_OCTAL_11 {
            pax_record(&mut pax, b"mtime", entry.mtime.to_string().as_bytes());
        }
        for (key, value) in &entry.xattrs {
            let mut k = b"SCHILY.xattr.".to_vec();
            k.extend_from_slice(key.as_bytes());
            pax_record(&mut pax, &k, value);
        }
        let io_err = |e| Error::io(String::from_utf8_lossy(&entry.path).into_owned(), e);
        if !pax.is_empty() {
            let h = Header {
                name: b"././@PaxHeader",
                mode: 0o644,
                size: pax.len() as u64,
                typeflag: b'x',
                ..Header::default()
            };
            self.out.write_all(&h.encode()).map_err(io_err)?;
            self.out.write_all(&pax).map_err(io_err)?;
            pad(&mut self.out, pax.len() as u64).map_err(io_err)?;
        }
        let h = Header {
            name: &name,
            mode: entry.mode & 0o7777,
            uid: entry.uid.min(MAX_OCTAL_7),
            gid: entry.gid.min(MAX_OCTAL_7),
            size: size.min(MAX_OCTAL_11),
            mtime: entry.mtime.clamp(0, MAX_OCTAL_11 as i64) as u64,
            typeflag,
            link,
            major,
            minor,
        };
        self.out.write_all(&h.encode()).map_err(io_err)?;
        match &entry.kind {
            EntryKind::File(FileData::Bytes(b)) => self.out.write_all(b).map_err(io_err)?,
            EntryKind::File(FileData::Path { path, size }) => {
                let file = File::open(path).map_err(|e| Error::io(path, e))?;
                let copied = io::copy(&mut file.take(*size), &mut self.out)
                    .map_err(|e| Error::io(path, e))?;
                if copied != *size {
                    return Err(Error::io(
                        path,
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "file shrank from {size} to {copied} bytes while being archived"
                            ),
                        ),
                    ));
                }
            }
            _ => {}
        }
        pad(&mut self.out, size).map_err(io_err)?;
        Ok(())
    }

    /// Write the end-of-archive marker (two zero blocks) and return the writer.
    pub fn finish(mut self) -> Result<W> {
        self.out
            .write_all(&[0u8; 2 * BLOCK])
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::io("<tar>", e))?;
        Ok(self.out)
    }
}

fn validate_path(path: &[u8]) -> Result<()> {
    let bad = path.is_empty()
        || path[0] == b'/'
        || path.contains(&0)
        || path
            .split(|&c| c == b'/')
            .any(|c| c.is_empty() || c == b"." || c == b"..");
    if bad {
        return Err(Error::invalid(
            path,
            "layer paths must be relative, without empty, '.' or '..' components",
        ));
    }
    Ok(())
}

fn pad(out: &mut impl Write, size: u64) -> io::Result<()> {
    let rem = (size % BLOCK as u64) as usize;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

/// One PAX record: `"<len> <key>=<value>\n"` where `len` counts the whole record, itself
/// included.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[derive(Default)]
struct Header<'a> {
    name: &'a [u8],
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    typeflag: u8,
    link: &'a [u8],
    major: u64,
    minor: u64,
}

impl Header<'_> {
    fn encode(&self) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        // Names longer than the field travel in PAX records; the header keeps a prefix.
        copy_truncated(&mut b[0..100], self.name);
        octal(&mut b[100..108], self.mode as u64);
        octal(&mut b[108..116], self.uid);
        octal(&mut b[116..124], self.gid);
        octal(&mut b[124..136], self.size);
        octal(&mut b[136..148], self.mtime);
        b[156] = self.typeflag;
        copy_truncated(&mut b[157..257], self.link);
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        // uname/gname stay empty: numeric ids are the only ownership a layer carries.
        octal(&mut b[329..337], self.major.min(MAX_OCTAL_7));
        octal(&mut b[337..345], self.minor.min(MAX_OCTAL_7));
        b[148..156].fill(b' ');
        let sum: u64 = b.iter().map(|&c| c as u64).sum();
        octal(&mut b[148..155], sum);
        b
    }
}

fn copy_truncated(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal filling all but the last byte of the field, which stays NUL.
fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let s = format!("{value:0width$o}");
    field[..width].copy_from_slice(&s.as_bytes()[s.len() - width..]);
    field[width] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for vlen in [0usize, 1, 5, 6, 7, 90, 95, 96, 97, 990, 996, 997] {
            let mut out = Vec::new();
            let value = vec![b'v'; vlen];
            pax_record(&mut out, b"path", &value);
            let (len, _) = std::str::from_utf8(&out).unwrap().split_once(' ').unwrap();
            assert_eq!(
                len.parse::<usize>().unwrap(),
                out.len(),
                "value length {vlen}"
            );
        }
    }

    #[test]
    fn tar_crate_reads_what_we_write() {
        let long = "d/".repeat(80) + "file";
        let mut e = Entry::new(
            long.as_bytes(),
            EntryKind::File(FileData::Bytes(b"hi".to_vec())),
            0o4755,
        );
        e.uid = 1 << 30;
        e.mtime = 1_700_000_000;
        e.xattrs.insert("user.k".into(), b"v w".to_vec());
        let mut w = TarWriter::new(Vec::new());
        w.append(&e).unwrap();
        let bytes = w.finish().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut entries = ar.entries().unwrap();
        let mut got = entries.next().unwrap().unwrap();
        assert_eq!(got.path_bytes().as_ref(), long.as_bytes());
        assert_eq!(got.header().uid().unwrap(), 1 << 30);
        assert_eq!(got.header().mode().unwrap(), 0o4755);
        assert_eq!(got.header().mtime().unwrap(), 1_700_000_000);
        let pax: Vec<_> = got
            .pax_extensions()
            .unwrap()
            .unwrap()
            .map(|r| r.unwrap())
            .filter(|r| r.key_bytes().starts_with(b"SCHILY"))
            .map(|r| (r.key().unwrap().to_owned(), r.value_bytes().to_vec()))
            .collect();
        assert_eq!(
            pax,
            vec![("SCHILY.xattr.user.k".to_owned(), b"v w".to_vec())]
        );
        let mut body = String::new();
        got.read_to_string(&mut body).unwrap();
        assert_eq!(body, "hi");
        assert!(entries.next().is_none());
    }

    #[test]
    fn own_reader_round_trips_every_kind() {
        let mut cap = Entry::new(
            "bin/ping",
            EntryKind::File(FileData::Bytes(vec![7; 700])),
            0o755,
        );
        // Binary values with newlines and NULs, as security.capability has.
        cap.xattrs
            .insert("security.capability".into(), vec![1, b'\n', 0, 2]);
        cap.mtime = -5;
        let entries = vec![
            Entry::new("bin", EntryKind::Dir, 0o755),
            cap,
            Entry::new("bin/p2", EntryKind::HardLink(b"bin/ping".to_vec()), 0o755),
            Entry::new(
                "dev/null",
                EntryKind::CharDevice { major: 1, minor: 3 },
                0o666,
            ),
            Entry::new(
                "dev/sda",
                EntryKind::BlockDevice { major: 8, minor: 0 },
                0o660,
            ),
            Entry::new("p", EntryKind::Fifo, 0o644),
            Entry::new("l", EntryKind::Symlink("x/".repeat(70).into_bytes()), 0o777),
        ];
        let mut w = TarWriter::new(Vec::new());
        for e in &entries {
            w.append(e).unwrap();
        }
        let bytes = w.finish().unwrap();
        let mut r = crate::tar_read::TarReader::new(&bytes[..]);
        for e in &entries {
            let h = r.next_header().unwrap().unwrap();
            let mut path = e.path.clone();
            if e.kind == EntryKind::Dir {
                path.push(b'/');
            }
            assert_eq!(h.path, path);
            assert_eq!((h.mode, h.mtime), (e.mode, e.mtime));
            assert_eq!(h.xattrs, e.xattrs);
            match &e.kind {
                EntryKind::Symlink(t) | EntryKind::HardLink(t) => assert_eq!(&h.link, t),
                EntryKind::CharDevice { major, minor }
                | EntryKind::BlockDevice { major, minor } => {
                    assert_eq!((h.major, h.minor), (*major, *minor))
                }
                EntryKind::File(FileData::Bytes(b)) => {
                    let mut data = Vec::new();
                    r.data().read_to_end(&mut data).unwrap();
                    assert_eq!(&data, b);
                }
                _ => {}
            }
        }
        assert!(r.next_header().unwrap().is_none());
    }

    #[test]
    fn rejects_dot_dot_paths() {
        let mut w = TarWriter::new(Vec::new());
        for p in [&b"../x"[..], b"/abs", b"a//b", b"a/./b", b""] {
            let e = Entry::new(p, EntryKind::Dir, 0o755);
            assert!(
                w.append(&e).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(p)
            );
        }
    }
}
