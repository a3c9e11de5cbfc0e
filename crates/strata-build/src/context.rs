//! The build context, read in place and hashed only as far as a step needs.
//!
//! Cache keys are built from file *content* and the metadata a COPY preserves (relative path,
//! type, permission bits, symlink target) — never from mtimes, inode numbers or absolute paths,
//! so an identical context in another directory hits the cache. Hashing is incremental: a
//! [`StatCache`] remembers each file's digest keyed by the stat data that changes whenever the
//! file does, so an unchanged tree of 20,000 files costs one `lstat` per file.
//!
//! Memory is one compact [`ContextEntry`] per path, in a vector sorted by path, and nothing
//! else per file: the stat cache is not held in memory but streamed from its file once and
//! merge-joined into the entries (see `context/statcache.rs`), and digests are raw bytes
//! inside the entries.

mod statcache;

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use strata_oci::{Digest, Digester};

pub use statcache::StatCache;

/// A raw sha256 digest of a context file.
type Sha256 = [u8; 32];

/// What kind of entry a context path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink(Box<str>),
    Other,
}

/// One path of the context, relative to its root with `/` separators.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    /// Stat data identifying this version of the file.
    stat: StatKey,
    /// Content digest of a regular file, once known (from the stat cache or hashed). Set
    /// through a shared reference: the entries are shared with the stat cache that saves them.
    digest: OnceLock<Sha256>,
}

impl ContextEntry {
    /// Size in bytes of a regular file, 0 for anything else.
    pub fn size(&self) -> u64 {
        match self.kind {
            EntryKind::File => self.stat.size,
            _ => 0,
        }
    }
}

/// The stat data that identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct StatKey {
    size: u64,
    mtime_s: i64,
    mtime_ns: u32,
    ctime_s: i64,
    ctime_ns: u32,
    ino: u64,
    dev: u64,
}

impl StatKey {
    fn of(meta: &fs::Metadata) -> Self {
        StatKey {
            size: meta.size(),
            mtime_s: meta.mtime(),
            mtime_ns: meta.mtime_nsec() as u32,
            ctime_s: meta.ctime(),
            ctime_ns: meta.ctime_nsec() as u32,
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

/// Hash a file's content with sha256, streaming.
pub fn hash_file(path: &Path) -> io::Result<Digest> {
    hash_file_raw(path).map(|raw| digest_of(&raw))
}

fn hash_file_raw(path: &Path) -> io::Result<Sha256> {
    let mut f = fs::File::open(path)?;
    let mut d = Digester::sha256();
    // On the stack: one buffer per hashing thread and no allocation per file.
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(raw_of(&d.finish()));
        }
        d.update(&buf[..n]);
    }
}

/// The raw bytes of a sha256 digest (context files are only ever hashed with sha256).
fn raw_of(d: &Digest) -> Sha256 {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    };
    let hex = d.hex().as_bytes();
    let mut raw = [0u8; 32];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
    }
    raw
}

/// `sha256:<hex>` of raw digest bytes, as [`Digest`] prints.
fn digest_string(raw: &Sha256) -> String {
    // Cache keys format one of these per context file: `write!` per byte was a sixth of a
    // no-op rebuild.
    let mut hex = [0u8; 64];
    hex::encode_to_slice(raw, &mut hex).expect("64 hex digits for 32 bytes");
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    s.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
    s
}

fn digest_of(raw: &Sha256) -> Digest {
    Digest::parse(&digest_string(raw)).expect("64 lowercase hex digits make a valid digest")
}

/// An error reading the context, naming the path.
#[derive(Debug, thiserror::Error)]
#[error("build context: {path}: {source}")]
pub struct ContextError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Append to `out` the entries of `dir` (relative paths prefixed with `rel`) and, recursively
/// and in parallel, of its included subdirectories, in no particular order. `DirEntry::metadata`
/// stats relative to the open directory, which avoids a full path walk per file.
///
/// One shared vector rather than one per directory concatenated upwards: that held every
/// entry two or three times over at the end of the scan.
fn scan_dir(
    dir: &Path,
    rel: String,
    include: &(dyn Fn(&str, bool) -> bool + Sync),
    out: &Mutex<Vec<ContextEntry>>,
) -> Result<(), ContextError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContextError { path, source }
    };
    let mut entries = Vec::new();
    let mut subdirs = Vec::new();
    for item in fs::read_dir(dir).map_err(err(dir))? {
        let item = item.map_err(err(dir))?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        // Sized exactly: these strings live as long as the context.
        let mut rel_path = String::with_capacity(rel.len() + 1 + name.len());
        if !rel.is_empty() {
            rel_path.push_str(&rel);
            rel_path.push('/');
        }
        rel_path.push_str(&name);
        let meta = item.metadata().map_err(err(&item.path()))?;
        let ft = meta.file_type();
        if !include(&rel_path, ft.is_dir()) {
            continue;
        }
        let kind = if ft.is_dir() {
            subdirs.push((item.path(), rel_path.clone()));
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File
        } else if ft.is_symlink() {
            let target = fs::read_link(item.path()).map_err(err(&item.path()))?;
            EntryKind::Symlink(target.to_string_lossy().into())
        } else {
            EntryKind::Other
        };
        entries.push(ContextEntry {
            path: rel_path,
            kind,
            mode: meta.permissions().mode() & 0o7777,
            stat: StatKey::of(&meta),
            digest: OnceLock::new(),
        });
    }
    out.lock()
        .unwrap_or_else(|e| e.into_inner())
        .append(&mut entries);
    // `append` keeps the emptied vector's capacity: give it back before descending.
    drop(entries);
    subdirs
        .into_par_iter()
        .try_for_each(|(d, r)| scan_dir(&d, r, include, out))
}

/// The scanned context: shared with the [`StatCache`] it was joined with, which writes the
/// entries' digests back to its file at the end of the build.
#[derive(Debug, Clone)]
struct Table {
    root: PathBuf,
    /// Sorted by path bytes (the order of `str`), paths unique.
    entries: Vec<ContextEntry>,
}

/// The context directory and the entries a `.dockerignore` lets through.
pub struct Context {
    table: Arc<Table>,
}

impl Context {
    /// Index `root`, keeping only paths for which `include(rel_path, is_dir)` is true; a directory
    /// for which it returns false is not descended into.
    pub fn scan(
        root: &Path,
        include: &(dyn Fn(&str, bool) -> bool + Sync),
    ) -> Result<Self, ContextError> {
        let entries = Mutex::new(Vec::new());
        scan_dir(root, String::new(), include, &entries)?;
        let mut entries = entries.into_inner().unwrap_or_else(|e| e.into_inner());
        entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        entries.shrink_to_fit();
        let table = Table {
            root: root.to_path_buf(),
            entries,
        };
        Ok(Context {
            table: Arc::new(table),
        })
    }

    pub fn root(&self) -> &Path {
        &self.table.root
    }

    pub fn entries(&self) -> impl Iterator<Item = &ContextEntry> {
        self.table.entries.iter()
    }

    fn index_of(&self, rel: &str) -> Option<usize> {
        self.table
            .entries
            .binary_search_by(|e| e.path.as_str().cmp(rel))
            .ok()
    }

    pub fn get(&self, rel: &str) -> Option<&ContextEntry> {
        self.index_of(rel).map(|i| &self.table.entries[i])
    }

    /// Entries at or below `rel` ("" is the whole context), in path order.
    pub fn subtree<'a>(&'a self, rel: &'a str) -> Box<dyn Iterator<Item = &'a ContextEntry> + 'a> {
        let entries = &self.table.entries;
        if rel.is_empty() {
            return Box::new(entries.iter());
        }
        // `rel/...` is one contiguous run, but not necessarily right after `rel` itself:
        // `rel-x` sorts between them.
        let prefix = format!("{rel}/");
        let start = entries.partition_point(|e| e.path.as_str() < prefix.as_str());
        let below = entries[start..]
            .iter()
            .take_while(move |e| e.path.starts_with(&prefix));
        Box::new(self.get(rel).into_iter().chain(below))
    }

    /// Make sure the content digest of every regular file in `paths` is known, hashing in
    /// parallel only those the stat cache cannot vouch for. Returns how many were hashed.
    pub fn hash_files(
        &mut self,
        paths: &[String],
        cache: &mut StatCache,
    ) -> Result<usize, ContextError> {
        cache.join(&mut self.table);
        let entries = &self.table.entries;
        let mut todo: Vec<usize> = paths
            .iter()
            .filter_map(|p| self.index_of(p))
            .filter(|&i| entries[i].kind == EntryKind::File && entries[i].digest.get().is_none())
            .collect();
        todo.sort_unstable();
        todo.dedup();
        if todo.is_empty() {
            return Ok(0);
        }
        // Whatever gets hashed before an error is still right: worth saving.
        cache.mark_dirty();
        let root = &self.table.root;
        todo.par_iter().try_for_each(|&i| {
            let e = &entries[i];
            let full = root.join(&e.path);
            let raw = hash_file_raw(&full).map_err(|source| ContextError { path: full, source })?;
            let _ = e.digest.set(raw);
            Ok(())
        })?;
        Ok(todo.len())
    }

    /// The content digest of a regular file hashed earlier by [`Context::hash_files`].
    pub fn file_digest(&self, rel: &str) -> Option<Digest> {
        self.file_sha256(rel).map(|raw| digest_of(&raw))
    }

    /// [`Context::file_digest`] as raw sha256 bytes, without building a [`Digest`].
    pub fn file_sha256(&self, rel: &str) -> Option<[u8; 32]> {
        self.get(rel)?.digest.get().copied()
    }

    /// A digest over the selected entries: their path relative to `base`, kind, mode, size,
    /// content digest and link target. Files must have been hashed first.
    pub fn selection_digest<'a>(
        &self,
        base: &str,
        selected: impl IntoIterator<Item = &'a ContextEntry>,
    ) -> Digest {
        let mut d = Digester::sha256();
        let mut line = String::new();
        for e in selected {
            let rel = e
                .path
                .strip_prefix(base)
                .unwrap_or(&e.path)
                .trim_start_matches('/');
            let (tag, extra) = match &e.kind {
                EntryKind::File => ("f", e.digest.get().map(digest_string).unwrap_or_default()),
                EntryKind::Dir => ("d", String::new()),
                EntryKind::Symlink(t) => ("l", t.to_string()),
                EntryKind::Other => ("o", String::new()),
            };
            line.clear();
            let _ = writeln!(line, "{tag}\0{rel}\0{:o}\0{}\0{extra}", e.mode, e.size());
            d.update(line.as_bytes());
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) {
        fs::create_dir_all(dir.join("src/sub")).unwrap();
        fs::write(dir.join("a.txt"), "alpha").unwrap();
        fs::write(dir.join("src/main.rs"), "fn main() {}").unwrap();
        fs::write(dir.join("src/sub/x"), "x").unwrap();
        std::os::unix::fs::symlink("a.txt", dir.join("link")).unwrap();
    }

    /// One build's use of the context: load the cache, hash everything, save the cache.
    fn digest_all(root: &Path, cache_file: &Path) -> (Digest, usize) {
        let mut cache = StatCache::load(cache_file);
        let mut ctx = Context::scan(root, &|_, _| true).unwrap();
        let paths: Vec<String> = ctx.entries().map(|e| e.path.clone()).collect();
        let n = ctx.hash_files(&paths, &mut cache).unwrap();
        cache.save(cache_file).unwrap();
        (ctx.selection_digest("", ctx.entries()), n)
    }

    #[test]
    fn same_content_elsewhere_same_digest() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let state = tempfile::tempdir().unwrap();
        tree(a.path());
        tree(b.path());
        let (da, _) = digest_all(a.path(), &state.path().join("a.json"));
        let (db, _) = digest_all(b.path(), &state.path().join("b.json"));
        assert_eq!(da, db);
    }

    #[test]
    fn stat_cache_skips_unchanged_and_sees_changes() {
        let (a, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(a.path());
        let cache = state.path().join("ctx.json");
        let (d1, n1) = digest_all(a.path(), &cache);
        assert_eq!(n1, 3);
        let (d2, n2) = digest_all(a.path(), &cache);
        assert_eq!((d1.clone(), n2), (d2, 0));
        fs::write(a.path().join("src/sub/x"), "y").unwrap();
        let (d3, n3) = digest_all(a.path(), &cache);
        assert_eq!(n3, 1);
        assert_ne!(d1, d3);
        fs::set_permissions(a.path().join("a.txt"), fs::Permissions::from_mode(0o600)).unwrap();
        assert_ne!(digest_all(a.path(), &cache).0, d3);
    }

    #[test]
    fn filter_prunes_and_subtree_selects() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        fs::write(a.path().join("src-other"), "o").unwrap();
        let ctx = Context::scan(a.path(), &|p, _| p != "src/sub").unwrap();
        let paths: Vec<_> = ctx.subtree("src").map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["src", "src/main.rs"]);
    }

    #[test]
    fn file_digest_is_the_content_sha256() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let mut ctx = Context::scan(a.path(), &|_, _| true).unwrap();
        assert_eq!(ctx.file_digest("a.txt"), None);
        ctx.hash_files(&["a.txt".into(), "src".into()], &mut StatCache::default())
            .unwrap();
        assert_eq!(ctx.file_digest("a.txt"), Some(Digest::sha256_of(b"alpha")));
        let raw = ctx.file_sha256("a.txt").unwrap();
        assert_eq!((raw[0], raw[1], raw[31]), (0x8e, 0xd3, 0xf8));
        assert_eq!(ctx.file_digest("src"), None);
        assert_eq!(ctx.get("src/main.rs").unwrap().size(), 12);
        assert_eq!(ctx.get("src").unwrap().size(), 0);
    }

    #[test]
    fn entries_stay_small() {
        // The one per-file structure a build holds; growing it grows peak memory for every
        // large context. Path 24, kind 24, stat data 48, digest 36, mode 4.
        assert!(std::mem::size_of::<ContextEntry>() <= 136);
    }
}
