//! Unpacking a layer onto a root directory, safely.
//!
//! Every entry is placed through descriptors opened component by component under the root
//! (see the `resolve` module); existing files are replaced, never written through, so neither a
//! hostile entry nor a symlink or hard link planted earlier can reach outside the root.
//! Whiteouts apply to what lower layers left in the root; entries of the layer being
//! applied are never whited out by it, whatever their order in the tar.

mod meta;
mod resolve;

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use strata_oci::Digest;

pub use resolve::SymlinkPolicy;

use crate::compress::Compression;
use crate::digest_io::LayerReader;
use crate::error::{display_name, Error, Result};
use crate::tar_read::{TarHeader, TarKind, TarReader};
use crate::tree::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use meta::Meta;
use resolve::{clean, join, Resolver};

/// What to do with OCI whiteout entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhiteoutMode {
    /// Delete what they name from the root (unpacking onto lower layers' contents).
    #[default]
    Delete,
    /// Write overlayfs whiteouts (char device 0/0) and opaque xattrs, for a layer unpacked
    /// alone into its own directory and stacked as an overlay lower dir. `user_xattr`
    /// selects `user.overlay.opaque` (overlay mounted with `userxattr`) over
    /// `trusted.overlay.opaque`.
    Overlay { user_xattr: bool },
    /// Not a layer: `.wh.*` entries are ordinary files (ADD archives and build contexts, as
    /// docker extracts them).
    Literal,
}

/// What to do with character and block device entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DevicePolicy {
    /// Create them; fails with [`crate::ErrorKind::NotPermitted`] without `CAP_MKNOD`.
    #[default]
    Create,
    /// Leave them out (counted in [`ApplyStats::skipped`]), e.g. when unprivileged.
    Skip,
    /// Fail on the first device entry.
    Refuse,
}

/// Whether to give entries the owners the layer records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ownership {
    /// chown when running as root, otherwise keep the caller's ids.
    #[default]
    Auto,
    /// Always chown; failing to is an error.
    Preserve,
    /// Never chown.
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// The declared compression; the magic bytes decide (see [`crate::decompress`]).
    pub compression: Option<Compression>,
    pub whiteouts: WhiteoutMode,
    pub devices: DevicePolicy,
    pub ownership: Ownership,
    pub symlinks: SymlinkPolicy,
    /// Apply `SCHILY.xattr.*` records.
    pub xattrs: bool,
    /// Fail (after unpacking) unless the tar's sha256 is this diffID.
    pub expected_diff_id: Option<Digest>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            compression: None,
            whiteouts: WhiteoutMode::default(),
            devices: DevicePolicy::default(),
            ownership: Ownership::default(),
            symlinks: SymlinkPolicy::default(),
            xattrs: true,
            expected_diff_id: None,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub devices: u64,
    pub whiteouts: u64,
    pub opaques: u64,
    /// Entries deliberately not applied (devices under [`DevicePolicy::Skip`], aufs
    /// `.wh..wh.*` metadata, global PAX headers).
    pub skipped: u64,
    pub file_bytes: u64,
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    pub tar_size: u64,
}

/// Unpack the layer blob `reader` onto the directory `root`.
pub fn apply_layer<R: Read>(reader: R, root: &Path, options: &ApplyOptions) -> Result<ApplyStats> {
    let layer = LayerReader::new(reader, options.compression)?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root_fd = rustix::fs::open(root, flags, Mode::empty())
        .map_err(|e| Error::io(root, io::Error::from_raw_os_error(e.raw_os_error())))?;
    let chown = match options.ownership {
        Ownership::Auto => rustix::process::geteuid().is_root(),
        Ownership::Preserve => true,
        Ownership::Ignore => false,
    };
    let mut a = Applier {
        r: Resolver {
            root: root_fd,
            root_path: root.to_owned(),
            policy: options.symlinks,
        },
        options,
        chown,
        touched: HashSet::new(),
        dirs: Vec::new(),
        counts: Counts::default(),
        buf: vec![0u8; 128 * 1024],
        parent_cache: None,
    };
    // Header blocks are read 512 bytes at a time; buffering above the digesting reader keeps
    // those reads cheap without changing what is digested.
    let mut tar = TarReader::new(io::BufReader::with_capacity(256 * 1024, layer));
    while let Some(header) = tar.next_header()? {
        a.entry(header, &mut tar)?;
    }
    a.finish_dirs()?;
    let counts = a.counts;
    let (diff_id, tar_size) = tar.into_inner().into_inner().finish()?;
    if let Some(want) = &options.expected_diff_id {
        if *want != diff_id {
            return Err(Error::DiffIdMismatch {
                expected: want.clone(),
                actual: diff_id,
            });
        }
    }
    Ok(ApplyStats {
        entries: counts.entries,
        files: counts.files,
        dirs: counts.dirs,
        symlinks: counts.symlinks,
        hardlinks: counts.hardlinks,
        devices: counts.devices,
        whiteouts: counts.whiteouts,
        opaques: counts.opaques,
        skipped: counts.skipped,
        file_bytes: counts.file_bytes,
        diff_id,
        tar_size,
    })
}

/// Refuse an entry the way [`apply_layer`] would before touching the disk: a path or hard
/// link target that climbs out of the root, a whiteout naming `..`, an entry type strata
/// cannot unpack. For readers that keep a tar as it is (`import`) but must not accept what
/// every later unpack refuses.
pub fn check_entry(h: &TarHeader) -> Result<()> {
    let comps = clean(&h.path)?;
    if let Some(name) = comps.last() {
        if name.strip_prefix(WHITEOUT_PREFIX) == Some(&b".."[..]) {
            return Err(Error::escape(&h.path, "whiteout names '..'"));
        }
    }
    match h.kind {
        TarKind::HardLink => {
            clean(&h.link).map_err(|e| match e {
                Error::PathEscape { reason, .. } => Error::escape(
                    &h.path,
                    format!("hard link target {:?}: {reason}", display_name(&h.link)),
                ),
                other => other,
            })?;
        }
        TarKind::Other(flag) => {
            return Err(Error::Unsupported {
                what: format!(
                    "tar entry type {:?} of {:?}",
                    flag as char,
                    display_name(&h.path)
                ),
            })
        }
        _ => {}
    }
    Ok(())
}

/// [`check_entry`] over a whole archive, in order: also refuses an entry, or a hard link
/// target, that passes through a symlink an earlier entry of the archive planted, as the
/// applier does under its default [`SymlinkPolicy::Refuse`].
#[derive(Debug, Default)]
pub struct EntryChecker {
    /// Paths (cleaned) that are symlinks after the entries seen so far.
    symlinks: HashSet<Vec<u8>>,
}

impl EntryChecker {
    pub fn check(&mut self, h: &TarHeader) -> Result<()> {
        check_entry(h)?;
        let comps = clean(&h.path)?;
        self.refuse_through_symlink(&h.path, &comps)?;
        if h.kind == TarKind::HardLink {
            self.refuse_through_symlink(&h.path, &clean(&h.link)?)?;
        }
        let key = join(&comps);
        if h.kind == TarKind::Symlink {
            self.symlinks.insert(key);
        } else if !self.symlinks.is_empty() {
            self.symlinks.remove(&key);
        }
        Ok(())
    }

    fn refuse_through_symlink(&self, raw: &[u8], comps: &[&[u8]]) -> Result<()> {
        if self.symlinks.is_empty() {
            return Ok(());
        }
        for i in 1..comps.len() {
            let prefix = join(&comps[..i]);
            if self.symlinks.contains(&prefix) {
                return Err(Error::escape(
                    raw,
                    format!(
                        "passes through the symlink {:?} an earlier entry planted",
                        display_name(&prefix)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `io::copy` with a buffer sized for layer contents rather than its 8 KiB default.
fn copy_data(from: &mut impl Read, to: &mut File, buf: &mut [u8]) -> io::Result<u64> {
    use std::io::Write;
    let mut total = 0;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[derive(Default)]
struct Counts {
    entries: u64,
    files: u64,
    dirs: u64,
    symlinks: u64,
    hardlinks: u64,
    devices: u64,
    whiteouts: u64,
    opaques: u64,
    skipped: u64,
    file_bytes: u64,
}

struct Applier<'o> {
    r: Resolver,
    options: &'o ApplyOptions,
    chown: bool,
    /// Paths this layer created or wrote into (including parents it implied): whiteouts
    /// and opaque markers leave these alone.
    touched: HashSet<Vec<u8>>,
    /// Directory entries whose owner, xattrs, mode and times are set once all content is in
    /// place (a read-only mode must not block their own extraction).
    dirs: Vec<(Vec<u8>, Vec<u8>, Meta)>,
    counts: Counts,
    /// The directory of the previous entry, by its path in the layer.
    parent_cache: Option<(Vec<u8>, OwnedFd)>,
    /// Copy buffer reused across files: allocating it per file costs more than small files.
    buf: Vec<u8>,
}

impl Applier<'_> {
    fn entry<R: Read>(&mut self, h: TarHeader, tar: &mut TarReader<R>) -> Result<()> {
        let raw = h.path.clone();
        let etype = h.kind;
        self.counts.entries += 1;
        let comps = clean(&raw)?;
        let Some((name, parent)) = comps.split_last() else {
            // The root itself ("./"): only its metadata can change.
            if etype != TarKind::Dir {
                return Err(Error::invalid(&raw, "only a directory may name the root"));
            }
            let meta = meta::meta_of(&h, self.options.xattrs)?;
            self.counts.dirs += 1;
            self.dirs.push((Vec::new(), raw, meta));
            return Ok(());
        };
        if let Some(target) = name.strip_prefix(WHITEOUT_PREFIX) {
            if self.options.whiteouts != WhiteoutMode::Literal {
                return self.whiteout(&raw, parent, name, target);
            }
        }
        let meta = meta::meta_of(&h, self.options.xattrs)?;
        let parent_key = join(parent);
        let dir = match self.parent_cache.take() {
            Some((key, fd)) if key == parent_key => fd,
            _ => {
                let touched = &mut self.touched;
                let fd = self
                    .r
                    .open_dir(&raw, parent, true, |p| {
                        touched.insert(join(p));
                    })?
                    .expect("created on demand");
                for i in 1..=parent.len() {
                    self.touched.insert(join(&parent[..i]));
                }
                fd
            }
        };
        self.touched.insert(join(&comps));
        let existing = self.r.file_type(&dir, &comps, name)?;
        self.place(&h, meta, tar, &raw, &comps, &dir, existing)?;
        // Entries of one directory usually follow each other: keep its descriptor. Placing
        // an entry only removes things below `dir`, so the descriptor stays valid.
        self.parent_cache = Some((parent_key, dir));
        Ok(())
    }

    /// Create one non-whiteout entry named by `comps` in the already resolved `dir`.
    fn place<R: Read>(
        &mut self,
        h: &TarHeader,
        meta: Meta,
        tar: &mut TarReader<R>,
        raw: &[u8],
        comps: &[&[u8]],
        dir: &OwnedFd,
        existing: Option<FileType>,
    ) -> Result<()> {
        let name = *comps.last().expect("non-empty path");
        let etype = h.kind;
        match etype {
            TarKind::Dir => {
                if existing != Some(FileType::Directory) {
                    self.r.remove_all(dir, comps, name)?;
                    rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700))
                        .map_err(|e| self.fs_err(comps, e))?;
                }
                self.counts.dirs += 1;
                self.dirs.push((join(comps), raw.to_vec(), meta));
            }
            TarKind::File => {
                if existing.is_some() {
                    self.r.remove_all(dir, comps, name)?;
                }
                let flags = OFlags::WRONLY
                    | OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600))
                    .map_err(|e| self.fs_err(comps, e))?;
                let mut file = File::from(fd);
                let n = copy_data(&mut tar.data(), &mut file, &mut self.buf).map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        Error::invalid(raw, "archive truncated in the entry's data")
                    } else {
                        self.io_err(comps, e)
                    }
                })?;
                meta::set_fd(&file, &meta, raw, self.chown)?;
                self.counts.files += 1;
                self.counts.file_bytes += n;
            }
            TarKind::Symlink => {
                let target = h.link.clone();
                if target.is_empty() || target.contains(&0) {
                    return Err(Error::invalid(
                        raw,
                        "symlink target is empty or holds a NUL byte",
                    ));
                }
                self.r.remove_all(dir, comps, name)?;
                rustix::fs::symlinkat(target.as_slice(), dir, name)
                    .map_err(|e| self.fs_err(comps, e))?;
                meta::set_at(dir, name, &meta, raw, self.chown, true)?;
                self.counts.symlinks += 1;
            }
            TarKind::HardLink => {
                self.hard_link(&h.link, raw, dir, comps, name)?;
            }
            TarKind::Char | TarKind::Block | TarKind::Fifo => {
                let (ft, kind) = match etype {
                    TarKind::Char => (FileType::CharacterDevice, "character device"),
                    TarKind::Block => (FileType::BlockDevice, "block device"),
                    _ => (FileType::Fifo, "fifo"),
                };
                if ft != FileType::Fifo {
                    match self.options.devices {
                        DevicePolicy::Create => {}
                        DevicePolicy::Skip => {
                            self.counts.skipped += 1;
                            return Ok(());
                        }
                        DevicePolicy::Refuse => {
                            return Err(Error::NotPermitted {
                                entry: display_name(raw),
                                message: format!("{kind} entries are refused by the apply options"),
                            })
                        }
                    }
                }
                self.r.remove_all(dir, comps, name)?;
                let dev = rustix::fs::makedev(h.major, h.minor);
                match rustix::fs::mknodat(dir, name, ft, Mode::from_raw_mode(0o600), dev) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::PERM) => {
                        return Err(Error::NotPermitted {
                            entry: display_name(raw),
                            message: format!(
                                "creating a {kind} needs CAP_MKNOD (apply with DevicePolicy::Skip to leave devices out)"
                            ),
                        })
                    }
                    Err(e) => return Err(self.fs_err(comps, e)),
                }
                meta::set_at(dir, name, &meta, raw, self.chown, false)?;
                self.counts.devices += 1;
            }
            TarKind::Other(flag) => {
                return Err(Error::Unsupported {
                    what: format!(
                        "tar entry type {:?} of {:?}",
                        flag as char,
                        display_name(raw)
                    ),
                })
            }
        }
        Ok(())
    }

    fn hard_link(
        &mut self,
        target_raw: &[u8],
        raw: &[u8],
        dir: &OwnedFd,
        comps: &[&[u8]],
        name: &[u8],
    ) -> Result<()> {
        let target = clean(target_raw).map_err(|e| match e {
            Error::PathEscape { reason, .. } => Error::escape(
                raw,
                format!("hard link target {:?}: {reason}", display_name(target_raw)),
            ),
            other => other,
        })?;
        let Some((tname, tparent)) = target.split_last() else {
            return Err(Error::invalid(raw, "hard link to the root"));
        };
        let tdir = self
            .r
            .open_dir(raw, tparent, false, |_| {})?
            .ok_or_else(|| {
                Error::invalid(
                    raw,
                    format!(
                        "hard link target {:?} does not exist",
                        display_name(target_raw)
                    ),
                )
            })?;
        match self.r.file_type(&tdir, &target, tname)? {
            None => {
                return Err(Error::invalid(
                    raw,
                    format!(
                        "hard link target {:?} does not exist",
                        display_name(target_raw)
                    ),
                ))
            }
            Some(FileType::Directory) => {
                return Err(Error::invalid(raw, "hard link to a directory"));
            }
            Some(_) => {}
        }
        if target == comps {
            return Ok(()); // A link to itself: already there.
        }
        self.r.remove_all(dir, comps, name)?;
        rustix::fs::linkat(&tdir, *tname, dir, name, AtFlags::empty())
            .map_err(|e| self.fs_err(comps, e))?;
        self.counts.hardlinks += 1;
        Ok(())
    }

    fn whiteout(&mut self, raw: &[u8], parent: &[&[u8]], name: &[u8], target: &[u8]) -> Result<()> {
        // Whiteouts can remove the cached directory or one of its ancestors.
        self.parent_cache = None;
        if name == OPAQUE_MARKER {
            self.counts.opaques += 1;
            return self.opaque(raw, parent);
        }
        if name.starts_with(b".wh..wh.") {
            // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content, docker skips it too.
            self.counts.skipped += 1;
            return Ok(());
        }
        match target {
            b".." => return Err(Error::escape(raw, "whiteout names '..'")),
            b"" | b"." => return Err(Error::invalid(raw, "whiteout names no entry")),
            _ => {}
        }
        self.counts.whiteouts += 1;
        let mut path = parent.to_vec();
        path.push(target);
        if self.touched.contains(&join(&path)) {
            return Ok(());
        }
        match self.options.whiteouts {
            WhiteoutMode::Delete => {
                let Some(dir) = self.r.open_dir(raw, parent, false, |_| {})? else {
                    return Ok(()); // Nothing below to hide.
                };
                self.r.remove_all(&dir, &path, target)
            }
            WhiteoutMode::Literal => unreachable!("literal mode places .wh. entries as files"),
            WhiteoutMode::Overlay { .. } => {
                let dir = self.open_parent_creating(raw, parent)?;
                self.r.remove_all(&dir, &path, target)?;
                match rustix::fs::mknodat(&dir, target, FileType::CharacterDevice, Mode::empty(), 0)
                {
                    Ok(()) => Ok(()),
                    Err(rustix::io::Errno::PERM) => Err(Error::NotPermitted {
                        entry: display_name(raw),
                        message: "creating an overlay whiteout (char device 0/0) needs CAP_MKNOD"
                            .into(),
                    }),
                    Err(e) => Err(self.fs_err(&path, e)),
                }
            }
        }
    }

    fn opaque(&mut self, raw: &[u8], dir_comps: &[&[u8]]) -> Result<()> {
        match self.options.whiteouts {
            WhiteoutMode::Literal => unreachable!("literal mode places .wh. entries as files"),
            WhiteoutMode::Delete => {
                let Some(dir) = self.r.open_dir(raw, dir_comps, false, |_| {})? else {
                    return Ok(());
                };
                self.clear_untouched(&dir, join(dir_comps))
            }
            WhiteoutMode::Overlay { user_xattr } => {
                let dir = self.open_parent_creating(raw, dir_comps)?;
                let key = if user_xattr {
                    "user.overlay.opaque"
                } else {
                    "trusted.overlay.opaque"
                };
                rustix::fs::fsetxattr(&dir, key, b"y", rustix::fs::XattrFlags::empty()).map_err(
                    |e| Error::NotPermitted {
                        entry: display_name(raw),
                        message: format!("cannot set {key}: {e}"),
                    },
                )
            }
        }
    }

    /// Remove everything below `dir` that this layer did not put there.
    fn clear_untouched(&self, dir: &OwnedFd, rel: Vec<u8>) -> Result<()> {
        let names = resolve::list_dir(dir).map_err(|e| self.fs_err(&[&rel], e))?;
        for child in names {
            let mut path = rel.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&child);
            if !self.touched.contains(&path) {
                self.r.remove_all(dir, &[&path], &child)?;
            } else if self.r.file_type(dir, &[&path], &child)? == Some(FileType::Directory) {
                let sub = self.open_child_dir(dir, &[&path], &child)?;
                self.clear_untouched(&sub, path)?;
            }
        }
        Ok(())
    }

    fn open_parent_creating(&mut self, raw: &[u8], comps: &[&[u8]]) -> Result<OwnedFd> {
        let touched = &mut self.touched;
        let fd = self.r.open_dir(raw, comps, true, |p| {
            touched.insert(join(p));
        })?;
        Ok(fd.expect("created on demand"))
    }

    fn open_child_dir(&self, dir: &OwnedFd, comps: &[&[u8]], name: &[u8]) -> Result<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|e| self.fs_err(comps, e))
    }

    /// Owners, modes and times of directories, now that nothing more is created in them.
    /// Deepest last-listed first, so no later step touches an already-stamped directory.
    fn finish_dirs(&mut self) -> Result<()> {
        let dirs = std::mem::take(&mut self.dirs);
        for (path, raw, meta) in dirs.iter().rev() {
            let comps: Vec<&[u8]> = if path.is_empty() {
                Vec::new()
            } else {
                path.split(|&c| c == b'/').collect()
            };
            // A later entry may have replaced the directory (or a parent) with something
            // else; then there is nothing to stamp.
            let Some(fd) = self.r.open_dir(raw, &comps, false, |_| {}).ok().flatten() else {
                continue;
            };
            meta::set_fd(fd.as_fd(), meta, raw, self.chown)?;
        }
        Ok(())
    }

    fn fs_err(&self, comps: &[&[u8]], e: rustix::io::Errno) -> Error {
        self.io_err(comps, io::Error::from_raw_os_error(e.raw_os_error()))
    }

    fn io_err(&self, comps: &[&[u8]], e: io::Error) -> Error {
        let rel = String::from_utf8_lossy(&join(comps)).into_owned();
        Error::io(self.r.root_path.join(rel), e)
    }
}
