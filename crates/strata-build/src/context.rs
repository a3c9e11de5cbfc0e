//! The build context, read in place and hashed only as far as a step needs.
//!
//! Cache keys are built from file *content* and the metadata a COPY preserves (relative path,
//! type, permission bits, symlink target) — never from mtimes, inode numbers or absolute paths,
//! so an identical context in another directory hits the cache. Hashing is incremental: a
//! [`StatCache`] remembers each file's digest keyed by the stat data that changes whenever the
//! file does, so an unchanged tree of 20,000 files costs one `lstat` per file.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use strata_oci::{Digest, Digester};

/// What kind of entry a context path is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    File,
    Dir,
    Symlink(String),
    Other,
}

/// One path of the context, relative to its root with `/` separators.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    pub size: u64,
    /// Stat data identifying this version of the file (kept instead of the whole metadata to
    /// keep large contexts small in memory).
    stat: StatKey,
}

/// The stat data that identifies one version of a file without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StatKey {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl StatKey {
    fn of(meta: &fs::Metadata) -> Self {
        StatKey {
            size: meta.size(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

/// Remembered content digests of context files, keyed by relative path and stat data.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StatCache {
    entries: HashMap<String, (StatKey, Digest)>,
    #[serde(skip)]
    dirty: bool,
}

impl StatCache {
    /// Load a cache file; a missing or unreadable file gives an empty cache (it is only a hint).
    pub fn load(path: &Path) -> Self {
        fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Write the cache atomically if it changed.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        // Streamed: a serialised copy of a large cache would double its memory.
        let mut out = io::BufWriter::new(fs::File::create(&tmp)?);
        serde_json::to_writer(&mut out, self).map_err(io::Error::other)?;
        io::Write::flush(&mut out)?;
        fs::rename(&tmp, path)
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
}

/// Hash a file's content with sha256, streaming.
pub fn hash_file(path: &Path) -> io::Result<Digest> {
    let mut f = fs::File::open(path)?;
    let mut d = Digester::sha256();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(d.finish());
        }
        d.update(&buf[..n]);
    }
}

/// An error reading the context, naming the path.
#[derive(Debug, thiserror::Error)]
#[error("build context: {path}: {source}")]
pub struct ContextError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Entries of `dir` (relative paths prefixed with `rel`) and, recursively and in parallel,
/// of its included subdirectories. `DirEntry::metadata` stats relative to the open directory,
/// which avoids a full path walk per file.
fn scan_dir(
    dir: &Path,
    rel: String,
    include: &(dyn Fn(&str, bool) -> bool + Sync),
) -> Result<Vec<ContextEntry>, ContextError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContextError { path, source }
    };
    let mut out = Vec::new();
    let mut subdirs = Vec::new();
    for item in fs::read_dir(dir).map_err(err(dir))? {
        let item = item.map_err(err(dir))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let rel_path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
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
            EntryKind::Symlink(target.to_string_lossy().into_owned())
        } else {
            EntryKind::Other
        };
        let mode = meta.permissions().mode() & 0o7777;
        let size = if ft.is_file() { meta.len() } else { 0 };
        out.push(ContextEntry {
            path: rel_path,
            kind,
            mode,
            size,
            stat: StatKey::of(&meta),
        });
    }
    let nested: Vec<Vec<ContextEntry>> = subdirs
        .into_par_iter()
        .map(|(d, r)| scan_dir(&d, r, include))
        .collect::<Result<_, _>>()?;
    out.extend(nested.into_iter().flatten());
    Ok(out)
}

/// The context directory and the entries a `.dockerignore` lets through.
pub struct Context {
    root: PathBuf,
    entries: BTreeMap<String, ContextEntry>,
    digests: HashMap<String, Digest>,
}

impl Context {
    /// Index `root`, keeping only paths for which `include(rel_path, is_dir)` is true; a directory
    /// for which it returns false is not descended into.
    pub fn scan(
        root: &Path,
        include: &(dyn Fn(&str, bool) -> bool + Sync),
    ) -> Result<Self, ContextError> {
        let mut entries = BTreeMap::new();
        for e in scan_dir(root, String::new(), include)? {
            entries.insert(e.path.clone(), e);
        }
        Ok(Context {
            root: root.to_path_buf(),
            entries,
            digests: HashMap::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn entries(&self) -> impl Iterator<Item = &ContextEntry> {
        self.entries.values()
    }

    pub fn get(&self, rel: &str) -> Option<&ContextEntry> {
        self.entries.get(rel)
    }

    /// Entries at or below `rel` ("" is the whole context), in path order.
    pub fn subtree<'a>(&'a self, rel: &'a str) -> Box<dyn Iterator<Item = &'a ContextEntry> + 'a> {
        if rel.is_empty() {
            return Box::new(self.entries.values());
        }
        let prefix = format!("{rel}/");
        let below = self
            .entries
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(_, e)| e);
        Box::new(self.entries.get(rel).into_iter().chain(below))
    }

    /// Make sure the content digest of every regular file in `paths` is known, hashing in
    /// parallel only those the stat cache cannot vouch for. Returns how many were hashed.
    pub fn hash_files(
        &mut self,
        paths: &[String],
        cache: &mut StatCache,
    ) -> Result<usize, ContextError> {
        let mut todo = Vec::new();
        for p in paths {
            if self.digests.contains_key(p) {
                continue;
            }
            let Some(e) = self.entries.get(p) else {
                continue;
            };
            if e.kind != EntryKind::File {
                continue;
            }
            let key = e.stat.clone();
            match cache.entries.get(p) {
                Some((k, d)) if *k == key => {
                    self.digests.insert(p.clone(), d.clone());
                }
                _ => todo.push((p.clone(), key)),
            }
        }
        let root = &self.root;
        let hashed: Vec<_> = todo
            .into_par_iter()
            .map(|(p, key)| {
                let full = root.join(&p);
                hash_file(&full)
                    .map(|d| (p, key, d))
                    .map_err(|source| ContextError { path: full, source })
            })
            .collect::<Result<_, _>>()?;
        let n = hashed.len();
        for (p, key, d) in hashed {
            cache.entries.insert(p.clone(), (key, d.clone()));
            self.digests.insert(p, d);
        }
        if n > 0 {
            cache.dirty = true;
        }
        Ok(n)
    }

    /// The content digest of a regular file hashed earlier by [`Context::hash_files`].
    pub fn file_digest(&self, rel: &str) -> Option<&Digest> {
        self.digests.get(rel)
    }

    /// A digest over the selected entries: their path relative to `base`, kind, mode, size,
    /// content digest and link target. Files must have been hashed first.
    pub fn selection_digest<'a>(
        &self,
        base: &str,
        selected: impl IntoIterator<Item = &'a ContextEntry>,
    ) -> Digest {
        let mut d = Digester::sha256();
        for e in selected {
            let rel = e
                .path
                .strip_prefix(base)
                .unwrap_or(&e.path)
                .trim_start_matches('/');
            let (tag, extra) = match &e.kind {
                EntryKind::File => (
                    "f",
                    self.digests
                        .get(&e.path)
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ),
                EntryKind::Dir => ("d", String::new()),
                EntryKind::Symlink(t) => ("l", t.clone()),
                EntryKind::Other => ("o", String::new()),
            };
            let line = format!("{tag}\0{rel}\0{:o}\0{}\0{extra}\n", e.mode, e.size);
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

    fn digest_all(root: &Path, cache: &mut StatCache) -> (Digest, usize) {
        let mut ctx = Context::scan(root, &|_, _| true).unwrap();
        let paths: Vec<String> = ctx.entries().map(|e| e.path.clone()).collect();
        let n = ctx.hash_files(&paths, cache).unwrap();
        (ctx.selection_digest("", ctx.entries()), n)
    }

    #[test]
    fn same_content_elsewhere_same_digest() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(a.path());
        tree(b.path());
        let (da, _) = digest_all(a.path(), &mut StatCache::default());
        let (db, _) = digest_all(b.path(), &mut StatCache::default());
        assert_eq!(da, db);
    }

    #[test]
    fn stat_cache_skips_unchanged_and_sees_changes() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let mut cache = StatCache::default();
        let (d1, n1) = digest_all(a.path(), &mut cache);
        assert_eq!(n1, 3);
        let (d2, n2) = digest_all(a.path(), &mut cache);
        assert_eq!((d1.clone(), n2), (d2, 0));
        fs::write(a.path().join("src/sub/x"), "y").unwrap();
        let (d3, n3) = digest_all(a.path(), &mut cache);
        assert_eq!(n3, 1);
        assert_ne!(d1, d3);
        fs::set_permissions(a.path().join("a.txt"), fs::Permissions::from_mode(0o600)).unwrap();
        assert_ne!(digest_all(a.path(), &mut cache).0, d3);
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
}
