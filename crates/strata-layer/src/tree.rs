//! Layer tars from a directory tree or from an overlayfs upper directory.
//!
//! The walk is depth-first with siblings sorted by name bytes, ids, modes and mtimes come
//! from `lstat` (optionally overridden or clamped), files with several links become one
//! regular entry plus hard-link entries (detected by device and inode), and the tree root
//! itself is not an entry. In overlay mode kernel whiteouts become OCI whiteout files and
//! opaque directories get a `.wh..wh..opq` marker, the way `docker commit` and BuildKit
//! turn a container's upper directory into a layer.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, Metadata};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::entry::{sort_entries, Entry, EntryKind, FileData};
use crate::error::{Error, Result};
use crate::tar_write::TarWriter;

pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// How entries are stamped when written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// `SOURCE_DATE_EPOCH`: mtimes later than this become this.
    pub source_date_epoch: Option<i64>,
    /// Force every entry's `(uid, gid)`, e.g. `COPY --chown`.
    pub owner: Option<(u64, u64)>,
    /// Record extended attributes as `SCHILY.xattr.*` PAX records.
    pub xattrs: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            source_date_epoch: None,
            owner: None,
            xattrs: true,
        }
    }
}

/// What a writer emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub devices: u64,
    pub whiteouts: u64,
    pub opaques: u64,
    /// Sockets have no tar representation; they are left out and counted here.
    pub skipped_sockets: u64,
    /// Regular file content bytes.
    pub file_bytes: u64,
}

/// Write the tree under `root` (not `root` itself) as a complete tar onto `out`.
pub fn write_tree<W: Write>(root: &Path, out: W, options: &WriteOptions) -> Result<WriteStats> {
    Walker::new(out, options, false).run(root)
}

/// Write the OCI diff an overlayfs upper directory represents as a complete tar onto `out`.
pub fn write_overlay_diff<W: Write>(
    upper: &Path,
    out: W,
    options: &WriteOptions,
) -> Result<WriteStats> {
    Walker::new(out, options, true).run(upper)
}

/// Write `entries` in layer order (see [`crate::entry::path_order`]) as a complete tar.
pub fn write_entries<W: Write>(
    mut entries: Vec<Entry>,
    out: W,
    options: &WriteOptions,
) -> Result<WriteStats> {
    sort_entries(&mut entries);
    if let Some(w) = entries.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(Error::invalid(
            &w[0].path,
            "duplicate path in layer entries",
        ));
    }
    let mut tar = TarWriter::new(out);
    let mut stats = WriteStats::default();
    for mut e in entries {
        stamp(&mut e, options);
        tar.append(&e)?;
        count(&mut stats, &e);
    }
    tar.finish()?;
    Ok(stats)
}

fn stamp(e: &mut Entry, options: &WriteOptions) {
    if let Some(epoch) = options.source_date_epoch {
        e.mtime = e.mtime.min(epoch);
    }
    if let Some((uid, gid)) = options.owner {
        e.uid = uid;
        e.gid = gid;
    }
    if !options.xattrs {
        e.xattrs.clear();
    }
}

fn count(stats: &mut WriteStats, e: &Entry) {
    stats.entries += 1;
    let name = e.path.rsplit(|&c| c == b'/').next().unwrap_or(&e.path);
    match &e.kind {
        EntryKind::File(_) if name == OPAQUE_MARKER => stats.opaques += 1,
        EntryKind::File(_) if name.starts_with(WHITEOUT_PREFIX) => stats.whiteouts += 1,
        EntryKind::File(d) => {
            stats.files += 1;
            stats.file_bytes += d.size();
        }
        EntryKind::Dir => stats.dirs += 1,
        EntryKind::Symlink(_) => stats.symlinks += 1,
        EntryKind::HardLink(_) => stats.hardlinks += 1,
        EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } | EntryKind::Fifo => {
            stats.devices += 1
        }
    }
}

struct Walker<'o, W: Write> {
    tar: TarWriter<W>,
    options: &'o WriteOptions,
    overlay: bool,
    /// First path seen for each multiply-linked inode.
    links: HashMap<(u64, u64), Vec<u8>>,
    stats: WriteStats,
}

impl<'o, W: Write> Walker<'o, W> {
    fn new(out: W, options: &'o WriteOptions, overlay: bool) -> Self {
        Walker {
            tar: TarWriter::new(out),
            options,
            overlay,
            links: HashMap::new(),
            stats: WriteStats::default(),
        }
    }

    fn run(mut self, root: &Path) -> Result<WriteStats> {
        let md = fs::symlink_metadata(root).map_err(|e| Error::io(root, e))?;
        if !md.is_dir() {
            return Err(Error::io(root, std::io::Error::other("not a directory")));
        }
        self.walk(root, b"")?;
        self.tar.finish()?;
        Ok(self.stats)
    }

    fn emit(&mut self, mut e: Entry) -> Result<()> {
        stamp(&mut e, self.options);
        self.tar.append(&e)?;
        count(&mut self.stats, &e);
        Ok(())
    }

    fn walk(&mut self, dir: &Path, rel: &[u8]) -> Result<()> {
        let mut names = Vec::new();
        for item in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            names.push(item.map_err(|e| Error::io(dir, e))?.file_name());
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let mut child = rel.to_vec();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(name.as_bytes());
            let md = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            let is_dir = md.is_dir();
            self.entry(&path, name.as_bytes(), child.clone(), &md)?;
            if is_dir {
                self.walk(&path, &child)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, name: &[u8], rel: Vec<u8>, md: &Metadata) -> Result<()> {
        if name.starts_with(WHITEOUT_PREFIX) {
            return Err(Error::Unsupported {
                what: format!(
                    "{}: names starting with \".wh.\" are whiteouts in a layer and cannot be stored",
                    path.display()
                ),
            });
        }
        let ft = md.file_type();
        let mut xattrs = if self.options.xattrs || self.overlay {
            read_xattrs(path)?
        } else {
            BTreeMap::new()
        };
        if self.overlay {
            for key in xattrs.keys().filter(|k| is_overlay_xattr(k)) {
                if key.ends_with(".redirect") || key.ends_with(".metacopy") {
                    return Err(Error::Unsupported {
                        what: format!(
                            "{}: overlay {key} (mount the overlay without redirect_dir/metacopy)",
                            path.display()
                        ),
                    });
                }
            }
            let whiteout_xattr = ["trusted.overlay.whiteout", "user.overlay.whiteout"]
                .iter()
                .any(|k| xattrs.contains_key(*k));
            if (ft.is_char_device() && md.rdev() == 0) || (ft.is_file() && whiteout_xattr) {
                let mut wh = parent_of(&rel).to_vec();
                wh.extend_from_slice(WHITEOUT_PREFIX);
                wh.extend_from_slice(name);
                let mut e = Entry::new(wh, EntryKind::File(FileData::Bytes(Vec::new())), 0);
                e.mtime = md.mtime();
                return self.emit(e);
            }
        }
        let opaque = self.overlay
            && ft.is_dir()
            && ["trusted.overlay.opaque", "user.overlay.opaque"]
                .iter()
                .any(|k| xattrs.get(*k).map(Vec::as_slice) == Some(b"y"));
        xattrs.retain(|k, _| !is_overlay_xattr(k));

        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            let key = (md.dev(), md.ino());
            match (md.nlink() > 1).then(|| self.links.get(&key)).flatten() {
                Some(first) => EntryKind::HardLink(first.clone()),
                None => {
                    if md.nlink() > 1 {
                        self.links.insert(key, rel.clone());
                    }
                    EntryKind::File(FileData::Path {
                        path: path.to_owned(),
                        size: md.len(),
                    })
                }
            }
        } else if ft.is_symlink() {
            let target = fs::read_link(path).map_err(|e| Error::io(path, e))?;
            EntryKind::Symlink(target.as_os_str().as_bytes().to_vec())
        } else if ft.is_char_device() || ft.is_block_device() {
            let (major, minor) = (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()));
            if ft.is_char_device() {
                EntryKind::CharDevice { major, minor }
            } else {
                EntryKind::BlockDevice { major, minor }
            }
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else {
            self.stats.skipped_sockets += 1;
            return Ok(());
        };
        let mut e = Entry::new(rel.clone(), kind, md.mode() & 0o7777);
        e.uid = md.uid() as u64;
        e.gid = md.gid() as u64;
        e.mtime = md.mtime();
        if self.options.xattrs {
            e.xattrs = xattrs;
        }
        self.emit(e)?;
        if opaque {
            let mut marker = rel;
            marker.push(b'/');
            marker.extend_from_slice(OPAQUE_MARKER);
            let mut m = Entry::new(marker, EntryKind::File(FileData::Bytes(Vec::new())), 0);
            m.mtime = md.mtime();
            self.emit(m)?;
        }
        Ok(())
    }
}

fn is_overlay_xattr(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

/// `rel`'s parent with a trailing slash, or empty at the top level.
fn parent_of(rel: &[u8]) -> &[u8] {
    match rel.iter().rposition(|&c| c == b'/') {
        Some(i) => &rel[..=i],
        None => b"",
    }
}

fn read_xattrs(path: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let names = match xattr::list(path) {
        Ok(names) => names,
        // A filesystem without xattr support simply has none.
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(out),
        Err(e) => return Err(Error::io(path, e)),
    };
    for name in names {
        let key = name.to_str().ok_or_else(|| Error::Unsupported {
            what: format!("{}: non-UTF-8 xattr name {name:?}", path.display()),
        })?;
        if let Some(value) = xattr::get(path, &name).map_err(|e| Error::io(path, e))? {
            out.insert(key.to_owned(), value);
        }
    }
    Ok(out)
}
