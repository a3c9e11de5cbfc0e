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
    /// Give every entry this mtime (applied before the clamp).
    pub mtime: Option<i64>,
    /// Force every entry's `(uid, gid)`, e.g. `COPY --chown`.
    pub owner: Option<(u64, u64)>,
    /// Record extended attributes as `SCHILY.xattr.*` PAX records.
    pub xattrs: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            source_date_epoch: None,
            mtime: None,
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
    if let Some(mtime) = options.mtime {
        e.mtime = mtime;
    }
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
    /// The opaque marker of the directory being walked, emitted in its sorted place.
    pending_marker: Option<Entry>,
    stats: WriteStats,
}

impl<'o, W: Write> Walker<'o, W> {
    fn new(out: W, options: &'o WriteOptions, overlay: bool) -> Self {
        Walker {
            tar: TarWriter::new(out),
            options,
            overlay,
            links: HashMap::new(),
            pending_marker: None,
            stats: WriteStats::default(),
        }
    }

    fn run(mut self, root: &Path) -> Result<WriteStats> {
        let md = fs::symlink_metadata(root).map_err(|e| Error::io(root, e))?;
        if !md.is_dir() {
            return Err(Error::io(root, std::io::Error::other("not a directory")));
        }
        self.walk(root, b"", None)?;
        self.tar.finish()?;
        Ok(self.stats)
    }

    fn emit(&mut self, mut e: Entry) -> Result<()> {
        stamp(&mut e, self.options);
        self.tar.append(&e)?;
        count(&mut self.stats, &e);
        Ok(())
    }

    /// Emit the children of `dir` (at `rel` in the layer). Siblings are sorted by the name
    /// they get in the layer, so a whiteout sorts as `.wh.<name>` and an opaque directory's
    /// marker sorts among its children: the output is in [`crate::entry::path_order`].
    fn walk(&mut self, dir: &Path, rel: &[u8], opaque_mtime: Option<i64>) -> Result<()> {
        let mut children = Vec::new();
        for item in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let name = item.map_err(|e| Error::io(dir, e))?.file_name();
            let path = dir.join(&name);
            let md = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            let mut key = name.as_bytes().to_vec();
            if self.overlay && is_whiteout(&path, &md)? {
                key.splice(0..0, WHITEOUT_PREFIX.iter().copied());
            }
            children.push((key, Some((name, md))));
        }
        if let Some(mtime) = opaque_mtime {
            let mut marker = rel.to_vec();
            marker.push(b'/');
            marker.extend_from_slice(OPAQUE_MARKER);
            let mut m = Entry::new(marker, EntryKind::File(FileData::Bytes(Vec::new())), 0);
            m.mtime = mtime;
            children.push((OPAQUE_MARKER.to_vec(), None));
            self.pending_marker = Some(m);
        }
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, child) in children {
            let Some((name, md)) = child else {
                let m = self.pending_marker.take().expect("marker prepared above");
                self.emit(m)?;
                continue;
            };
            let path = dir.join(&name);
            let mut child_rel = rel.to_vec();
            if !child_rel.is_empty() {
                child_rel.push(b'/');
            }
            child_rel.extend_from_slice(name.as_bytes());
            let opaque = self.entry(&path, name.as_bytes(), child_rel.clone(), &md)?;
            if md.is_dir() {
                self.walk(&path, &child_rel, opaque.then_some(md.mtime()))?;
            }
        }
        Ok(())
    }

    /// Emit one entry; `Ok(true)` when it is an opaque directory.
    fn entry(&mut self, path: &Path, name: &[u8], rel: Vec<u8>, md: &Metadata) -> Result<bool> {
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
                self.emit(e)?;
                return Ok(false);
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
            return Ok(false);
        };
        let mut e = Entry::new(rel.clone(), kind, md.mode() & 0o7777);
        e.uid = md.uid() as u64;
        e.gid = md.gid() as u64;
        e.mtime = md.mtime();
        if self.options.xattrs {
            e.xattrs = xattrs;
        }
        self.emit(e)?;
        Ok(opaque)
    }
}

/// An overlayfs whiteout: a 0/0 character device, or (xwhiteouts, `userxattr` mounts) an
/// empty file marked with an `overlay.whiteout` xattr.
fn is_whiteout(path: &Path, md: &Metadata) -> Result<bool> {
    let ft = md.file_type();
    if ft.is_char_device() && md.rdev() == 0 {
        return Ok(true);
    }
    if ft.is_file() && md.len() == 0 {
        for key in ["trusted.overlay.whiteout", "user.overlay.whiteout"] {
            match xattr::get(path, key) {
                Ok(Some(_)) => return Ok(true),
                Ok(None) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(false),
                Err(e) => return Err(Error::io(path, e)),
            }
        }
    }
    Ok(false)
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
