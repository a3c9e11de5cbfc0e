//! Hostile tar archives, written byte by byte so every header format and every lie a writer
//! can tell is reachable: traversal in each format (v7, POSIX ustar prefix, GNU long names,
//! PAX records), links out of the root, whiteout tricks, extension-header bombs, FIFOs and
//! devices. [`corpus`] names each case and says how strata must answer it; the suites run
//! it through every entry point that reads a tar.

use std::io::{self, Read};

const BLOCK: usize = 512;

/// The header dialect of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Pre-POSIX: no magic.
    V7,
    /// POSIX `ustar\0` `00`, with the 155-byte name prefix.
    Ustar,
    /// GNU `ustar  \0`: bytes 345.. hold atime and ctime, never a prefix.
    Gnu,
}

/// What a member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(Vec<u8>),
    HardLink(Vec<u8>),
    Fifo,
    Char(u32, u32),
}

/// A tar built member by member; headers are exactly what the caller asks for.
#[derive(Default)]
pub struct HostileTar {
    bytes: Vec<u8>,
}

impl HostileTar {
    pub fn new() -> Self {
        Self::default()
    }

    /// A member whose name goes in the header's name field as given (100 bytes at most).
    pub fn member(self, format: Format, name: &[u8], kind: Kind) -> Self {
        self.member_with_prefix(format, b"", name, kind, &[])
    }

    /// A member with a value for bytes 345..500 (the ustar prefix, or GNU's atime/ctime
    /// area) and arbitrary extra header bytes `(offset, bytes)`.
    pub fn member_with_prefix(
        mut self,
        format: Format,
        prefix: &[u8],
        name: &[u8],
        kind: Kind,
        patches: &[(usize, &[u8])],
    ) -> Self {
        let (flag, link, data): (u8, &[u8], &[u8]) = match &kind {
            Kind::File(d) => (b'0', b"", d),
            Kind::Dir => (b'5', b"", b""),
            Kind::Symlink(t) => (b'2', t, b""),
            Kind::HardLink(t) => (b'1', t, b""),
            Kind::Fifo => (b'6', b"", b""),
            Kind::Char(..) => (b'3', b"", b""),
        };
        let mut h = header(format, name, flag, data.len() as u64);
        h[157..157 + link.len()].copy_from_slice(link);
        h[345..345 + prefix.len()].copy_from_slice(prefix);
        if let Kind::Char(major, minor) = kind {
            octal(&mut h[329..337], major as u64);
            octal(&mut h[337..345], minor as u64);
        }
        for (at, b) in patches {
            h[*at..*at + b.len()].copy_from_slice(b);
        }
        seal(&mut h);
        self.bytes.extend_from_slice(&h);
        self.bytes.extend_from_slice(data);
        pad(&mut self.bytes);
        self
    }

    /// An extension header (`x`, `g`, `L` or `K`) carrying `payload`.
    pub fn extension(mut self, flag: u8, payload: &[u8]) -> Self {
        let name: &[u8] = if matches!(flag, b'L' | b'K') {
            b"././@LongLink"
        } else {
            b"PaxHeader"
        };
        let format = if matches!(flag, b'L' | b'K') {
            Format::Gnu
        } else {
            Format::Ustar
        };
        let mut h = header(format, name, flag, payload.len() as u64);
        seal(&mut h);
        self.bytes.extend_from_slice(&h);
        self.bytes.extend_from_slice(payload);
        pad(&mut self.bytes);
        self
    }

    /// A PAX `x` header with these records.
    pub fn pax(self, records: &[(&[u8], &[u8])]) -> Self {
        let mut payload = Vec::new();
        for (k, v) in records {
            pax_record(&mut payload, k, v);
        }
        self.extension(b'x', &payload)
    }

    /// The archive with its two end blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0u8; 2 * BLOCK]);
        self.bytes
    }

    /// The archive so far, without end blocks (for streams that continue lazily).
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// A stream that starts with an extension header claiming `claimed` bytes and then
/// produces that many bytes lazily: the size of the attack, none of its memory.
pub fn claimed_extension(flag: u8, claimed: u64) -> impl Read {
    let name: &[u8] = if matches!(flag, b'L' | b'K') {
        b"././@LongLink"
    } else {
        b"PaxHeader"
    };
    let mut h = header(Format::Gnu, name, flag, claimed);
    seal(&mut h);
    // A valid-looking PAX record prefix, then filler: `1073741824 path=aaaa…`.
    let lead = format!("{claimed} path=").into_bytes();
    io::Cursor::new(h.to_vec())
        .chain(io::Cursor::new(lead.clone()))
        .chain(io::repeat(b'a').take(claimed.saturating_sub(lead.len() as u64)))
}

/// One PAX record, `"<len> <key>=<value>\n"`.
pub fn pax_record(out: &mut Vec<u8>, k: &[u8], v: &[u8]) {
    let body = k.len() + v.len() + 3;
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} ").as_bytes());
    out.extend_from_slice(k);
    out.push(b'=');
    out.extend_from_slice(v);
    out.push(b'\n');
}

fn header(format: Format, name: &[u8], flag: u8, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    if size < 0o77777777777 {
        octal(&mut h[124..136], size);
    } else {
        // GNU base-256 for sizes past 8 GiB.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = flag;
    match format {
        Format::V7 => {}
        Format::Ustar => {
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
        }
        Format::Gnu => h[257..265].copy_from_slice(b"ustar  \0"),
    }
    h
}

fn seal(h: &mut [u8; BLOCK]) {
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&c| c as u64).sum();
    octal(&mut h[148..155], sum);
}

fn pad(bytes: &mut Vec<u8>) {
    let rem = bytes.len() % BLOCK;
    if rem != 0 {
        bytes.resize(bytes.len() + BLOCK - rem, 0);
    }
}

fn octal(field: &mut [u8], v: u64) {
    let w = field.len() - 1;
    let s = format!("{v:0w$o}");
    field[..w].copy_from_slice(s.as_bytes());
}

/// How strata must answer a corpus case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Refused; the error message contains this text (the entry's name, or what is wrong).
    Refused(&'static str),
}

/// One hostile archive.
pub struct Case {
    pub name: &'static str,
    pub tar: Vec<u8>,
    pub expect: Expect,
}

/// Every hostile root-filesystem tar: traversal in every header format, links out of the
/// root, whiteout tricks, extension-header bombs. Each must be refused (naming the entry)
/// by every reader: `import`, ADD, a context on stdin, and the layer applier.
pub fn corpus() -> Vec<Case> {
    use Format::*;
    let file = || Kind::File(b"pwned\n".to_vec());
    let cases = vec![
        Case {
            name: "v7 dot-dot",
            tar: HostileTar::new().member(V7, b"../escape", file()).finish(),
            expect: Expect::Refused("../escape"),
        },
        Case {
            name: "ustar dot-dot",
            tar: HostileTar::new()
                .member(Ustar, b"a/../../escape", file())
                .finish(),
            expect: Expect::Refused("a/../../escape"),
        },
        Case {
            name: "gnu dot-dot",
            tar: HostileTar::new()
                .member(Gnu, b"../../etc/passwd", file())
                .finish(),
            expect: Expect::Refused("../../etc/passwd"),
        },
        Case {
            name: "ustar prefix dot-dot",
            tar: HostileTar::new()
                .member_with_prefix(Ustar, b"../..", b"escape", file(), &[])
                .finish(),
            expect: Expect::Refused("../../escape"),
        },
        Case {
            name: "pax path dot-dot",
            tar: HostileTar::new()
                .pax(&[(b"path", b"../pax-escape")])
                .member(Ustar, b"innocent", file())
                .finish(),
            expect: Expect::Refused("../pax-escape"),
        },
        Case {
            name: "gnu long name dot-dot",
            tar: HostileTar::new()
                .extension(b'L', b"../../long-escape\0")
                .member(Gnu, b"innocent", file())
                .finish(),
            expect: Expect::Refused("../../long-escape"),
        },
        Case {
            name: "hard link to ../../etc/passwd",
            tar: HostileTar::new()
                .member(
                    Ustar,
                    b"passwd",
                    Kind::HardLink(b"../../etc/passwd".to_vec()),
                )
                .finish(),
            expect: Expect::Refused("../../etc/passwd"),
        },
        Case {
            name: "gnu long link name dot-dot",
            tar: HostileTar::new()
                .extension(b'K', b"../../../etc/shadow\0")
                .member(Gnu, b"shadow", Kind::HardLink(b"x".to_vec()))
                .finish(),
            expect: Expect::Refused("../../../etc/shadow"),
        },
        Case {
            name: "pax linkpath dot-dot",
            tar: HostileTar::new()
                .pax(&[(b"linkpath", b"../../root/.ssh/id_rsa")])
                .member(Ustar, b"key", Kind::HardLink(b"x".to_vec()))
                .finish(),
            expect: Expect::Refused("../../root/.ssh/id_rsa"),
        },
        Case {
            name: "40 consecutive pax headers",
            tar: {
                let record = {
                    let mut r = Vec::new();
                    pax_record(&mut r, b"comment", &vec![b'c'; 1 << 20]);
                    r
                };
                let mut t = HostileTar::new();
                for _ in 0..40 {
                    t = t.extension(b'x', &record);
                }
                t.member(Ustar, b"f", file()).finish()
            },
            expect: Expect::Refused("MiB cap"),
        },
        Case {
            name: "global pax path",
            tar: HostileTar::new()
                .extension(b'g', &{
                    let mut r = Vec::new();
                    pax_record(&mut r, b"path", b"../global-escape");
                    r
                })
                .member(Ustar, b"f", file())
                .finish(),
            expect: Expect::Refused("global pax record \"path\""),
        },
    ];
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_valid_tar() {
        // The tar crate (a peer reader) accepts what the corpus writes, so each case is
        // refused for its content, never for a broken checksum.
        let t = HostileTar::new()
            .member(Format::Ustar, b"a", Kind::File(b"x".to_vec()))
            .member(Format::Gnu, b"b", Kind::Dir)
            .finish();
        let mut ar = tar::Archive::new(&t[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(corpus().len() >= 10);
    }
}
