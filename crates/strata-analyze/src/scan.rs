//! Reading one layer tar into a list of entries: metadata only, never contents.
//!
//! A layer is streamed once; each member keeps its cleaned path, type, header size, mode,
//! owner and link target, and (when asked) the sha256 of a regular file's bytes. Memory
//! is proportional to the number of entries, never to the bytes in the layer.

use std::io::Read;

use sha2::{Digest as _, Sha256};
use strata_layer::{TarKind, TarReader};

use crate::error::{Error, Result};

/// OCI whiteout prefix: `.wh.NAME` deletes `NAME` from the layers below.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// OCI opaque-directory marker: the directory's lower contents are hidden.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// dive never adds names with this prefix to its trees (it skips opaque markers).
pub const DOUBLE_WHITEOUT_PREFIX: &str = ".wh..wh.";

/// The type of a tar member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    HardLink,
    CharDevice,
    BlockDevice,
    Fifo,
    Other,
}

impl FileKind {
    /// One letter, as `ls -l` shows it.
    pub fn letter(self) -> char {
        match self {
            FileKind::File | FileKind::HardLink | FileKind::Other => '-',
            FileKind::Dir => 'd',
            FileKind::Symlink => 'l',
            FileKind::CharDevice => 'c',
            FileKind::BlockDevice => 'b',
            FileKind::Fifo => 'p',
        }
    }
}

/// One member of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Cleaned path, relative, no trailing slash (`usr/bin/env`). Whiteouts keep their name.
    pub path: String,
    pub kind: FileKind,
    /// The tar typeflag byte as Go's `archive/tar` reports it (`'0'` for regular files).
    pub typeflag: u8,
    /// Size from the header (regular files: content bytes; others usually 0).
    pub size: u64,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Symlink target or hard-link source, verbatim.
    pub link: String,
    /// sha256 of a regular file's contents, when [`ScanOptions::hash_contents`] is set.
    pub digest: Option<[u8; 32]>,
}

impl LayerEntry {
    /// The last path component.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// `Some(deleted path)` when this entry is a whiteout (but not an opaque marker).
    pub fn whiteout_target(&self) -> Option<String> {
        let name = self.name();
        if name == OPAQUE_MARKER {
            return None;
        }
        let target = name.strip_prefix(WHITEOUT_PREFIX)?;
        Some(match self.path.rsplit_once('/') {
            Some((parent, _)) => format!("{parent}/{target}"),
            None => target.to_owned(),
        })
    }

    /// `Some(directory)` when this entry marks its directory opaque (`""` is the root).
    pub fn opaque_dir(&self) -> Option<&str> {
        if self.name() != OPAQUE_MARKER {
            return None;
        }
        Some(self.path.rsplit_once('/').map_or("", |(p, _)| p))
    }
}

/// What to compute while scanning.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    /// Hash regular files' contents (needed by image diff, not by the efficiency score).
    pub hash_contents: bool,
}

/// One layer's entries in tar order.
#[derive(Debug, Clone, Default)]
pub struct LayerScan {
    pub entries: Vec<LayerEntry>,
    /// Sum of every member's header size: dive's layer size, what `history` shows for a
    /// layer's content.
    pub size: u64,
}

/// Read a whole (uncompressed) layer tar. `name` (index and digest) prefixes errors.
pub fn scan_layer<R: Read>(reader: R, name: &str, options: ScanOptions) -> Result<LayerScan> {
    let mut tar = TarReader::new(reader);
    let mut scan = LayerScan::default();
    while let Some(h) = tar.next_header().map_err(|e| Error::layer(name, e))? {
        let raw = String::from_utf8_lossy(&h.path);
        let Some(path) = clean_path(&raw) else {
            return Err(Error::new(
                crate::ErrorKind::InvalidLayer,
                format!("{name}: tar entry {raw:?} points outside the layer root"),
            ));
        };
        if path.is_empty() {
            // "./": the root itself; dive skips it too.
            continue;
        }
        let (kind, typeflag) = match h.kind {
            TarKind::File => (FileKind::File, b'0'),
            TarKind::HardLink => (FileKind::HardLink, b'1'),
            TarKind::Symlink => (FileKind::Symlink, b'2'),
            TarKind::Char => (FileKind::CharDevice, b'3'),
            TarKind::Block => (FileKind::BlockDevice, b'4'),
            TarKind::Dir => (FileKind::Dir, b'5'),
            TarKind::Fifo => (FileKind::Fifo, b'6'),
            TarKind::Other(b) => (FileKind::Other, b),
        };
        let digest = if options.hash_contents && kind == FileKind::File {
            let mut hasher = Sha256::new();
            std::io::copy(&mut tar.data(), &mut HashWriter(&mut hasher)).map_err(|e| {
                Error::new(crate::ErrorKind::Io, format!("{name}: reading {path}: {e}"))
            })?;
            Some(hasher.finalize().into())
        } else {
            None
        };
        scan.size += h.size;
        scan.entries.push(LayerEntry {
            path,
            kind,
            typeflag,
            size: h.size,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            link: String::from_utf8_lossy(&h.link).into_owned(),
            digest,
        });
    }
    Ok(scan)
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Go's `path.Clean` made relative: `./a//b/` → `a/b`, `/` and `.` → `""`; `None` when
/// `..` would climb above the root.
pub fn clean_path(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_matches_go_path_clean_made_relative() {
        assert_eq!(clean_path("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(clean_path("/etc/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(clean_path("./").as_deref(), Some(""));
        assert_eq!(clean_path("a/../b").as_deref(), Some("b"));
        assert_eq!(clean_path("../x"), None);
    }

    #[test]
    fn whiteout_and_opaque_names() {
        let e = |p: &str| LayerEntry {
            path: p.into(),
            kind: FileKind::File,
            typeflag: b'0',
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            link: String::new(),
            digest: None,
        };
        assert_eq!(e("a/.wh.b").whiteout_target().as_deref(), Some("a/b"));
        assert_eq!(e(".wh.top").whiteout_target().as_deref(), Some("top"));
        assert_eq!(e("a/.wh..wh..opq").whiteout_target(), None);
        assert_eq!(e("a/.wh..wh..opq").opaque_dir(), Some("a"));
        assert_eq!(e("a/b").opaque_dir(), None);
    }
}
