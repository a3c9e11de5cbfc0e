//! Test helpers: a raw tar builder that writes whatever bytes it is given (the crate's own
//! writer refuses hostile names), scratch roots and a root-privilege gate.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use strata_layer::{apply_layer, ApplyOptions, ApplyStats, Error};

pub enum Raw<'a> {
    File(&'a [u8]),
    Dir,
    Symlink(&'a [u8]),
    Link(&'a [u8]),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

/// A tar assembled header by header, names taken verbatim.
#[derive(Default)]
pub struct RawTar {
    pub bytes: Vec<u8>,
}

impl RawTar {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(mut self, path: &[u8], kind: Raw<'_>) -> Self {
        self.push(path, kind, 0o755, &[]);
        self
    }

    pub fn add_with_pax(mut self, path: &[u8], kind: Raw<'_>, pax: &[(&str, &[u8])]) -> Self {
        self.push(path, kind, 0o644, pax);
        self
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0u8; 1024]);
        self.bytes
    }

    fn push(&mut self, path: &[u8], kind: Raw<'_>, mode: u32, extra: &[(&str, &[u8])]) {
        let (flag, data, link, dev): (u8, &[u8], &[u8], (u32, u32)) = match kind {
            Raw::File(d) => (b'0', d, b"", (0, 0)),
            Raw::Dir => (b'5', b"", b"", (0, 0)),
            Raw::Symlink(t) => (b'2', b"", t, (0, 0)),
            Raw::Link(t) => (b'1', b"", t, (0, 0)),
            Raw::Char(a, b) => (b'3', b"", b"", (a, b)),
            Raw::Block(a, b) => (b'4', b"", b"", (a, b)),
            Raw::Fifo => (b'6', b"", b"", (0, 0)),
        };
        let mut pax = Vec::new();
        if path.len() > 100 {
            record(&mut pax, b"path", path);
        }
        if link.len() > 100 {
            record(&mut pax, b"linkpath", link);
        }
        for (k, v) in extra {
            record(&mut pax, k.as_bytes(), v);
        }
        if !pax.is_empty() {
            self.header(b"pax", b'x', 0o644, pax.len() as u64, b"", (0, 0));
            self.bytes.extend_from_slice(&pax);
            self.pad(pax.len());
        }
        self.header(path, flag, mode, data.len() as u64, link, dev);
        self.bytes.extend_from_slice(data);
        self.pad(data.len());
    }

    fn header(
        &mut self,
        name: &[u8],
        flag: u8,
        mode: u32,
        size: u64,
        link: &[u8],
        dev: (u32, u32),
    ) {
        let mut b = [0u8; 512];
        let n = name.len().min(100);
        b[..n].copy_from_slice(&name[..n]);
        octal(&mut b[100..108], mode as u64);
        octal(&mut b[108..116], 0);
        octal(&mut b[116..124], 0);
        octal(&mut b[124..136], size);
        octal(&mut b[136..148], 1_600_000_000);
        b[156] = flag;
        let l = link.len().min(100);
        b[157..157 + l].copy_from_slice(&link[..l]);
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        octal(&mut b[329..337], dev.0 as u64);
        octal(&mut b[337..345], dev.1 as u64);
        b[148..156].fill(b' ');
        let sum: u64 = b.iter().map(|&c| c as u64).sum();
        octal(&mut b[148..155], sum);
        self.bytes.extend_from_slice(&b);
    }

    fn pad(&mut self, len: usize) {
        let rem = len % 512;
        if rem != 0 {
            self.bytes.extend(std::iter::repeat_n(0u8, 512 - rem));
        }
    }
}

fn octal(field: &mut [u8], v: u64) {
    let w = field.len() - 1;
    let s = format!("{v:0w$o}");
    field[..w].copy_from_slice(s.as_bytes());
}

fn record(out: &mut Vec<u8>, k: &[u8], v: &[u8]) {
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

/// A scratch area: `outer/root` is the unpack root, `outer` itself must stay as it was.
pub struct Scratch {
    _dir: tempfile::TempDir,
    pub outer: PathBuf,
    pub root: PathBuf,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let outer = dir.path().to_owned();
        let root = outer.join("root");
        fs::create_dir(&root).unwrap();
        fs::write(outer.join("secret"), b"host file").unwrap();
        Scratch {
            _dir: dir,
            outer,
            root,
        }
    }

    pub fn apply(&self, tar: &[u8]) -> Result<ApplyStats, Error> {
        apply_layer(tar, &self.root, &ApplyOptions::default())
    }

    pub fn apply_with(&self, tar: &[u8], options: &ApplyOptions) -> Result<ApplyStats, Error> {
        apply_layer(tar, &self.root, options)
    }

    /// Nothing outside the root was created, removed or changed.
    pub fn assert_outside_untouched(&self) {
        let mut names: Vec<_> = fs::read_dir(&self.outer)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec!["root", "secret"],
            "entries appeared next to the root"
        );
        assert_eq!(fs::read(self.outer.join("secret")).unwrap(), b"host file");
        assert!(
            fs::symlink_metadata("/pwned").is_err(),
            "/pwned was created"
        );
    }
}

/// Every path under `root`, relative, sorted.
pub fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Whether root-only tests can run. In CI (`STRATA_CI=1`) lacking root is a failure.
pub fn have_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    if std::env::var("STRATA_CI").as_deref() == Ok("1") {
        panic!("{test} needs root and STRATA_CI=1 is set");
    }
    eprintln!("skipping {test}: needs root");
    false
}
