//! COPY and ADD: select sources, apply BuildKit's destination rules, and stage the copied
//! files as the new layer's snapshot directory (which is also what the layer tar is written
//! from, so the snapshot and the layer cannot disagree).
//!
//! Rules, as BuildKit applies them:
//! - sources are relative to the context root (a leading `/` and `..` cannot leave it);
//! - a directory source copies its *contents*; a file goes to `dest/<name>` when `dest` ends
//!   with `/`, names an existing directory, or several sources / a wildcard are given, and to
//!   `dest` itself otherwise;
//! - a relative `dest` is relative to WORKDIR; missing parents are created;
//! - new files and directories belong to 0:0 unless `--chown`; modes are kept unless
//!   `--chmod`; mtimes are kept.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use filetime::FileTime;
use strata_dockerfile::ast::{Chmod, Source};
use strata_dockerfile::dockerignore::Matcher;

use crate::add_archive;
use crate::error::{BuildError, Result};
use crate::file_index::{IndexCursor, IndexWriter, INDEX_FILE};
use crate::fsview;

/// Where a COPY reads from.
pub enum SourceRoot<'a> {
    /// The build context, already filtered by `.dockerignore`.
    Context(&'a crate::context::Context),
    /// A directory holding a stage's or image's merged root filesystem.
    Dir(&'a Path),
}

/// One COPY/ADD, words expanded.
pub struct CopyJob<'a> {
    pub sources: &'a [Source],
    pub dest: &'a str,
    pub workdir: &'a str,
    pub owner: Option<(u32, u32)>,
    pub chmod: Option<&'a Chmod>,
    pub parents: bool,
    pub exclude: &'a [String],
    /// ADD: extract local tar archives.
    pub unpack_archives: bool,
    /// An earlier snapshot of the same COPY to hard-link unchanged files from.
    pub reuse: Option<&'a Reuse>,
}

/// An earlier snapshot of the same COPY and the content index it left. A file is linked
/// from it only when the index gives the same content digest and the old file has exactly
/// the metadata the new one would get; snapshots are never modified, so sharing the inode
/// is safe.
pub struct Reuse {
    pub dir: PathBuf,
    /// Its `files-v1` index.
    pub index: PathBuf,
}

/// A file selected for copying: where it comes from and where it lands (image path).
#[derive(Debug, Clone)]
struct Planned {
    from: Option<PathBuf>,
    inline: Option<Vec<u8>>,
    to: String,
    meta: Option<fs::Metadata>,
    /// Content digest of a context file (known from the cache key computation).
    digest: Option<[u8; 32]>,
}

pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `fnmatch` for one path component: `*`, `?`, `[...]` (with `!`/`^` negation), `\` escapes.
pub fn glob_component(pattern: &str, name: &str) -> bool {
    fn inner(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| inner(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && inner(&p[1..], &n[1..]),
            Some('[') => {
                let Some(c) = n.first() else { return false };
                let mut i = 1;
                let negate = matches!(p.get(1), Some('!') | Some('^'));
                if negate {
                    i += 1;
                }
                let mut matched = false;
                let start = i;
                while i < p.len() && (p[i] != ']' || i == start) {
                    if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                        matched |= p[i] <= *c && *c <= p[i + 2];
                        i += 3;
                    } else {
                        matched |= p[i] == *c;
                        i += 1;
                    }
                }
                if i >= p.len() {
                    return false;
                }
                matched != negate && inner(&p[i + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && inner(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && inner(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    inner(&p, &n)
}

/// Whether a relative path matches a wildcard source, component by component; a `**`
/// component matches any number of components, including none.
pub fn glob_path(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| glob_path(rest, &path[skip..])),
        Some((p, rest)) => {
            !path.is_empty() && glob_component(p, path[0]) && glob_path(rest, &path[1..])
        }
    }
}

/// Context paths matching a wildcard source (already cleaned).
pub fn glob_context(ctx: &crate::context::Context, rel: &str) -> Vec<String> {
    let pattern: Vec<&str> = rel.split('/').collect();
    ctx.entries()
        .filter(|e| {
            let comps: Vec<&str> = e.path.split('/').collect();
            glob_path(&pattern, &comps)
        })
        .map(|e| e.path.clone())
        .collect()
}

/// Every path below `dir` (relative to `root`), depth first in name order.
fn all_paths(root: &Path, dir: &str, out: &mut Vec<String>) {
    let Ok(rd) = fs::read_dir(root.join(dir)) else {
        return;
    };
    let mut entries: Vec<(String, bool)> = rd
        .flatten()
        .map(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (e.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .collect();
    entries.sort();
    for (name, is_dir) in entries {
        let rel = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        out.push(rel.clone());
        if is_dir {
            all_paths(root, &rel, out);
        }
    }
}

/// Clean a source path to be relative to the root: no leading `/`, no `.`, `..` clamped.
pub fn clean_rel(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

/// Resolve `dest` against WORKDIR to an absolute image path, keeping a trailing `/`.
pub fn dest_path(dest: &str, workdir: &str) -> (String, bool) {
    let trailing = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
    let joined = if dest.starts_with('/') {
        dest.to_owned()
    } else {
        format!("{workdir}/{dest}")
    };
    (format!("/{}", clean_rel(&joined)), trailing)
}

/// Follow symlinks the image has along `dest` (absolute), as BuildKit resolves a copy's
/// destination inside the root: `/via/` with `/via -> /real` becomes `/real`. The last
/// component is followed only when it leads to a directory.
fn resolve_dest(lowers: &[PathBuf], dest: &str) -> String {
    let mut todo: Vec<String> = clean_rel(dest)
        .split('/')
        .rev()
        .map(str::to_owned)
        .collect();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        if c.is_empty() {
            continue;
        }
        let candidate = format!("{}/{c}", done.join("/"));
        let link = fsview::lookup(lowers, &candidate)
            .filter(|m| m.file_type().is_symlink())
            .and_then(|_| {
                let rel = candidate.trim_start_matches('/');
                lowers
                    .iter()
                    .rev()
                    .find_map(|l| fs::read_link(l.join(rel)).ok())
            });
        let Some(target) = link.filter(|_| hops < 40) else {
            done.push(c);
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        let resolved = if target.starts_with('/') {
            format!("/{}", clean_rel(&target))
        } else {
            format!("/{}", clean_rel(&format!("{}/{target}", done.join("/"))))
        };
        if todo.is_empty() && !fsview::lookup(lowers, &resolved).is_some_and(|m| m.is_dir()) {
            done.push(c);
            continue;
        }
        hops += 1;
        done.clear();
        todo.extend(clean_rel(&resolved).split('/').rev().map(str::to_owned));
    }
    format!("/{}", done.join("/"))
}

/// Paths (relative to the root) of the entries a source names, with whether a wildcard matched.
fn select(root: &SourceRoot<'_>, source: &str) -> Result<(Vec<String>, bool)> {
    let rel = clean_rel(source);
    if !has_glob(&rel) {
        let exists = match root {
            SourceRoot::Context(ctx) => rel.is_empty() || ctx.get(&rel).is_some(),
            SourceRoot::Dir(d) => fs::symlink_metadata(d.join(&rel)).is_ok(),
        };
        if !exists {
            return Err(BuildError::not_found(format!(
                "failed to compute cache key: \"/{rel}\": not found"
            )));
        }
        return Ok((vec![rel], false));
    }
    let matches = match root {
        SourceRoot::Context(ctx) => glob_context(ctx, &rel),
        SourceRoot::Dir(d) if rel.split('/').any(|c| c == "**") => {
            let pattern: Vec<&str> = rel.split('/').collect();
            let mut all = Vec::new();
            all_paths(d, "", &mut all);
            all.retain(|p| glob_path(&pattern, &p.split('/').collect::<Vec<_>>()));
            all
        }
        SourceRoot::Dir(d) => {
            let pattern: Vec<&str> = rel.split('/').collect();
            let mut level = vec![String::new()];
            for p in &pattern {
                let mut next = Vec::new();
                for dir in &level {
                    let Ok(rd) = fs::read_dir(d.join(dir)) else {
                        continue;
                    };
                    let mut names: Vec<String> = rd
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    names.sort();
                    for n in names.into_iter().filter(|n| glob_component(p, n)) {
                        next.push(if dir.is_empty() {
                            n
                        } else {
                            format!("{dir}/{n}")
                        });
                    }
                }
                level = next;
            }
            level
        }
    };
    if matches.is_empty() {
        return Err(BuildError::not_found(format!(
            "failed to compute cache key: no source files were specified for pattern \"{source}\""
        )));
    }
    Ok((matches, true))
}

struct Walker<'a> {
    root: &'a SourceRoot<'a>,
    exclude: Option<Matcher>,
}

impl Walker<'_> {
    fn abs(&self, rel: &str) -> PathBuf {
        match self.root {
            SourceRoot::Context(ctx) => ctx.root().join(rel),
            SourceRoot::Dir(d) => d.join(rel),
        }
    }

    /// The content digest of a regular context file.
    fn digest(&self, rel: &str, meta: &fs::Metadata) -> Option<[u8; 32]> {
        match self.root {
            SourceRoot::Context(ctx) if meta.is_file() => ctx.file_sha256(rel),
            _ => None,
        }
    }

    fn excluded(&self, rel: &str) -> bool {
        self.exclude.as_ref().is_some_and(|m| m.matches(rel))
    }

    /// Entries strictly below `rel`, parents first, read lazily: a large directory is
    /// never listed in memory.
    fn below<'s>(&'s self, rel: &'s str) -> Box<dyn Iterator<Item = Result<String>> + 's> {
        match self.root {
            SourceRoot::Context(ctx) => Box::new(
                ctx.subtree(rel)
                    .filter(move |e| e.path != rel)
                    .map(|e| Ok(e.path.clone())),
            ),
            SourceRoot::Dir(d) => {
                let base = d.join(rel);
                Box::new(
                    walkdir::WalkDir::new(&base)
                        .min_depth(1)
                        .sort_by_file_name()
                        .into_iter()
                        .map(move |e| {
                            let e = e.map_err(|e| {
                                BuildError::internal(format!("{}: {e}", base.display()))
                            })?;
                            let sub = e.path().strip_prefix(d).unwrap_or(e.path());
                            Ok(sub.to_string_lossy().into_owned())
                        }),
                )
            }
        }
    }
}

/// Stage the files of `job` into `stage_fs` (the new layer's directory). `lowers` is the
/// destination image's snapshot stack (bottom first), for existing-directory checks.
/// Returns the content index of the context files placed (`files-v1`, beside `stage_fs`),
/// if any.
pub fn stage_copy(
    job: &CopyJob<'_>,
    root: &SourceRoot<'_>,
    lowers: &[PathBuf],
    stage_fs: &Path,
) -> Result<Option<PathBuf>> {
    let (dest, trailing) = dest_path(job.dest, job.workdir);
    let dest = resolve_dest(lowers, &dest);
    let exclude = if job.exclude.is_empty() {
        None
    } else {
        Some(
            Matcher::new(job.exclude)
                .map_err(|e| BuildError::internal(format!("--exclude: {e}")))?,
        )
    };
    let walker = Walker { root, exclude };
    let mut selections = Vec::new();
    let mut any_glob = false;
    for s in job.sources {
        match s {
            Source::Path(p) => {
                let (sel, glob) = select(root, p)?;
                any_glob |= glob;
                selections.extend(sel);
            }
            Source::Heredoc { .. } => {}
        }
    }
    let dest_exists_dir = fsview::lookup(lowers, &dest).is_some_and(|m| m.is_dir());
    let dest_is_dir = trailing || any_glob || job.sources.len() > 1 || dest_exists_dir;
    let mut placer = Placer::new(job, lowers, stage_fs);
    if dest_is_dir {
        ensure_dir(stage_fs, lowers, &dest, job.owner)?;
    }
    for s in job.sources {
        if let Source::Heredoc { name, content, .. } = s {
            let to = if dest_is_dir {
                format!("{dest}/{name}")
            } else {
                dest.clone()
            };
            placer.add(Planned {
                from: None,
                inline: Some(content.clone().into_bytes()),
                to,
                meta: None,
                digest: None,
            })?;
        }
    }
    for rel in &selections {
        if walker.excluded(rel) {
            continue;
        }
        let abs = walker.abs(rel);
        let meta = fs::symlink_metadata(&abs)
            .map_err(|e| BuildError::not_found(format!("{}: {e}", abs.display())))?;
        let base_name = rel.rsplit('/').next().unwrap_or(rel).to_owned();
        if meta.is_dir() {
            let into = if job.parents && !rel.is_empty() {
                format!("{dest}/{rel}")
            } else {
                dest.clone()
            };
            // Copying a directory's contents into a directory the image already has keeps
            // that directory's owner and mode, as BuildKit does.
            let existing_root = into == dest && dest_exists_dir;
            if (!rel.is_empty() || job.parents) && !existing_root {
                placer.add(Planned {
                    from: Some(abs.clone()),
                    inline: None,
                    to: into.clone(),
                    meta: Some(meta),
                    digest: None,
                })?;
            }
            for sub in walker.below(rel) {
                let sub = sub?;
                let inner = sub
                    .strip_prefix(rel.as_str())
                    .unwrap_or(&sub)
                    .trim_start_matches('/');
                if walker.excluded(&sub) || walker.excluded(inner) {
                    continue;
                }
                let abs = walker.abs(&sub);
                let meta = fs::symlink_metadata(&abs)?;
                placer.add(Planned {
                    digest: walker.digest(&sub, &meta),
                    from: Some(abs),
                    inline: None,
                    to: format!("{into}/{inner}"),
                    meta: Some(meta),
                })?;
            }
        } else if job.unpack_archives && add_archive::is_archive(&abs) {
            placer.flush()?;
            add_archive::unpack_archive(&abs, &stage_fs.join(dest.trim_start_matches('/')))?;
        } else {
            let to = if job.parents {
                format!("{dest}/{rel}")
            } else if dest_is_dir {
                format!("{dest}/{base_name}")
            } else {
                dest.clone()
            };
            placer.add(Planned {
                digest: walker.digest(rel, &meta),
                from: Some(abs),
                inline: None,
                to,
                meta: Some(meta),
            })?;
        }
        // A later source overwrites an earlier one: finish this one first.
        placer.flush()?;
    }
    placer.finish()
}

/// Places planned entries in the staged layer: directories, links and special files in
/// order, regular files in parallel batches of bounded size, so memory does not grow with
/// the number of files copied.
struct Placer<'j, 'a> {
    job: &'j CopyJob<'a>,
    lowers: &'j [PathBuf],
    stage_fs: &'j Path,
    /// Parent directories known to exist in the staged layer.
    ensured: std::collections::HashSet<PathBuf>,
    /// First target of each multiply-linked source inode: later ones become hard links.
    links: std::collections::HashMap<(u64, u64), PathBuf>,
    /// Directories placed, with the mtime to restore once their contents are in.
    dirs: Vec<(PathBuf, FileTime)>,
    /// Regular files to copy, each with whether the previous snapshot's index records the
    /// same content for it.
    batch: Vec<(PathBuf, Planned, bool)>,
    index: IndexWriter,
    previous: Option<IndexCursor>,
}

const BATCH: usize = 2048;

impl<'j, 'a> Placer<'j, 'a> {
    fn new(job: &'j CopyJob<'a>, lowers: &'j [PathBuf], stage_fs: &'j Path) -> Self {
        Placer {
            job,
            lowers,
            stage_fs,
            ensured: Default::default(),
            links: Default::default(),
            dirs: Vec::new(),
            batch: Vec::new(),
            index: IndexWriter::new(stage_fs.with_file_name(INDEX_FILE)),
            previous: job.reuse.and_then(|r| IndexCursor::open(&r.index)),
        }
    }

    fn add(&mut self, p: Planned) -> Result<()> {
        let rel = clean_rel(&p.to);
        let target = self.stage_fs.join(&rel);
        if let Some(parent) = Path::new(&rel).parent() {
            // Most entries share their parent with the previous one: check each dir once.
            if self.ensured.insert(parent.to_path_buf()) {
                let parent = format!("/{}", parent.to_string_lossy());
                ensure_dir(self.stage_fs, self.lowers, &parent, self.job.owner)?;
            }
        }
        // Files hard-linked to each other in the source stay hard links, as in BuildKit.
        let inode = p
            .meta
            .as_ref()
            .filter(|m| m.is_file() && m.nlink() > 1)
            .map(|m| (m.dev(), m.ino()));
        if let Some(first) = inode.and_then(|k| self.links.get(&k)) {
            let _ = fs::remove_file(&target);
            fs::hard_link(first, &target)?;
            return Ok(());
        }
        let mut same_content = false;
        if let Some(d) = p.digest {
            self.index.push(&rel, d)?;
            same_content = self.previous.as_mut().and_then(|c| c.lookup(&rel)) == Some(d);
        }
        let plain_file =
            inode.is_none() && p.inline.is_none() && p.meta.as_ref().is_some_and(|m| m.is_file());
        if plain_file {
            self.batch.push((target, p, same_content));
            if self.batch.len() >= BATCH {
                self.flush()?;
            }
            return Ok(());
        }
        place(&p, &target, self.job)?;
        if let Some(k) = inode {
            self.links.insert(k, target.clone());
        }
        if let Some(m) = p.meta.as_ref().filter(|m| m.is_dir()) {
            let t = FileTime::from_unix_time(m.mtime(), m.mtime_nsec() as u32);
            self.dirs.push((target, t));
        }
        Ok(())
    }

    /// Copy (or link from the previous snapshot) the batched regular files, in parallel.
    fn flush(&mut self) -> Result<()> {
        use rayon::prelude::*;
        let (job, stage_fs) = (self.job, self.stage_fs);
        self.batch
            .par_iter()
            .try_for_each(|(target, p, same_content)| {
                let rel = target.strip_prefix(stage_fs).ok().filter(|_| *same_content);
                if let Some(old) = reusable(job, p, rel)? {
                    match fs::hard_link(old, target) {
                        Ok(()) => return Ok(()),
                        // Something is in the way: copying replaces it (or reports why not).
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                place(p, target, job)
            })?;
        self.batch.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<Option<PathBuf>> {
        self.flush()?;
        // Directory mtimes last: creating their contents changed them.
        for (dir, t) in self.dirs.iter().rev() {
            filetime::set_symlink_file_times(dir, *t, *t)?;
        }
        Ok(self.index.finish()?)
    }
}

/// The earlier snapshot's file to hard-link for `p` (whose content the index found equal),
/// if that file has exactly the metadata copying `p` would produce.
fn reusable(job: &CopyJob<'_>, p: &Planned, rel: Option<&Path>) -> Result<Option<PathBuf>> {
    let (Some(reuse), Some(meta), Some(rel)) = (job.reuse, &p.meta, rel) else {
        return Ok(None);
    };
    let old = reuse.dir.join(rel);
    let Ok(m) = fs::symlink_metadata(&old) else {
        return Ok(None);
    };
    let (uid, gid) = job.owner.unwrap_or((0, 0));
    let mode = chmod_bits(job.chmod, meta.mode() & 0o7777, false)?;
    let same = m.is_file()
        && m.len() == meta.len()
        && m.mode() & 0o7777 == mode
        && (m.uid(), m.gid()) == (uid, gid)
        && (m.mtime(), m.mtime_nsec()) == (meta.mtime(), meta.mtime_nsec());
    Ok(same.then_some(old))
}

fn place(p: &Planned, target: &Path, job: &CopyJob<'_>) -> Result<()> {
    let (uid, gid) = job.owner.unwrap_or((0, 0));
    if let Some(data) = &p.inline {
        fs::write(target, data)?;
        let mode = chmod_bits(job.chmod, 0o644, false)?;
        fs::set_permissions(target, fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::lchown(target, Some(uid), Some(gid))?;
        return Ok(());
    }
    let (Some(from), Some(meta)) = (&p.from, &p.meta) else {
        return Ok(());
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        match fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(BuildError::internal(format!(
                    "cannot copy directory {} onto a file at {}",
                    from.display(),
                    p.to
                )))
            }
            Err(_) => fs::create_dir(target)?,
        }
        let mode = chmod_bits(job.chmod, meta.mode() & 0o7777, true)?;
        fs::set_permissions(target, fs::Permissions::from_mode(mode))?;
    } else if ft.is_symlink() {
        let link = fs::read_link(from)?;
        let _ = fs::remove_file(target);
        std::os::unix::fs::symlink(link, target)?;
    } else if ft.is_file() {
        if fs::symlink_metadata(target).is_ok_and(|m| m.is_dir()) {
            return Err(BuildError::internal(format!(
                "cannot copy file {} onto directory {}",
                from.display(),
                p.to
            )));
        }
        let _ = fs::remove_file(target);
        fs::copy(from, target)?;
        let mode = chmod_bits(job.chmod, meta.mode() & 0o7777, false)?;
        fs::set_permissions(target, fs::Permissions::from_mode(mode))?;
    } else {
        // Sockets, fifos and devices in a context are skipped, as BuildKit does for sockets.
        return Ok(());
    }
    std::os::unix::fs::lchown(target, Some(uid), Some(gid))?;
    // chown clears setuid and setgid: put the mode back afterwards.
    if !ft.is_symlink() {
        let mode = chmod_bits(job.chmod, meta.mode() & 0o7777, ft.is_dir())?;
        if mode & 0o6000 != 0 {
            fs::set_permissions(target, fs::Permissions::from_mode(mode))?;
        }
    }
    if !ft.is_dir() {
        let t = FileTime::from_unix_time(meta.mtime(), meta.mtime_nsec() as u32);
        filetime::set_symlink_file_times(target, t, t)?;
    }
    Ok(())
}

/// Make sure `/dir` exists in the staged layer, copying metadata of directories the image
/// already has and creating new ones as 0755 (owned by `--chown`'s user, else root).
fn ensure_dir(
    stage_fs: &Path,
    lowers: &[PathBuf],
    dir: &str,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let rel = clean_rel(dir);
    if rel.is_empty() {
        return Ok(());
    }
    let mut path = stage_fs.to_path_buf();
    let mut image_path = String::new();
    for c in rel.split('/') {
        path.push(c);
        image_path.push('/');
        image_path.push_str(c);
        if fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        fs::create_dir(&path)?;
        match fsview::lookup(lowers, &image_path) {
            Some(m) if m.is_dir() => {
                fs::set_permissions(&path, fs::Permissions::from_mode(m.mode() & 0o7777))?;
                std::os::unix::fs::lchown(&path, Some(m.uid()), Some(m.gid()))?;
                let t = FileTime::from_unix_time(m.mtime(), m.mtime_nsec() as u32);
                filetime::set_symlink_file_times(&path, t, t)?;
            }
            _ => {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
                let (uid, gid) = owner.unwrap_or((0, 0));
                std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            }
        }
    }
    Ok(())
}

/// Apply `--chmod` to a file's mode.
pub fn chmod_bits(chmod: Option<&Chmod>, mode: u32, is_dir: bool) -> Result<u32> {
    match chmod {
        None => Ok(mode),
        Some(Chmod::Octal(bits)) => Ok(*bits),
        Some(Chmod::Symbolic(s)) => symbolic_mode(s, mode, is_dir),
        Some(Chmod::Unexpanded(s)) => Err(BuildError::internal(format!(
            "--chmod={s} was not expanded"
        ))),
    }
}

/// `u+x,go-w,a=r`-style modes, as chmod(1) applies them (`X` sets execute for directories
/// and for files already executable by someone).
pub fn symbolic_mode(spec: &str, mut mode: u32, is_dir: bool) -> Result<u32> {
    for clause in spec.split(',') {
        let op_pos = clause
            .find(['+', '-', '='])
            .ok_or_else(|| BuildError::internal(format!("invalid --chmod clause {clause:?}")))?;
        let (who, rest) = clause.split_at(op_pos);
        let mut mask = 0;
        for c in if who.is_empty() {
            "a".chars()
        } else {
            who.chars()
        } {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return Err(BuildError::internal(format!("invalid --chmod who {c:?}"))),
            };
        }
        let op = rest.as_bytes()[0];
        let mut bits = 0;
        for c in rest[1..].chars() {
            bits |= match c {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' if is_dir || mode & 0o111 != 0 => 0o111,
                'X' => 0,
                's' => 0o6000,
                't' => 0o1000,
                _ => {
                    return Err(BuildError::internal(format!(
                        "invalid --chmod permission {c:?}"
                    )))
                }
            };
        }
        let bits = bits & mask;
        mode = match op {
            b'+' => mode | bits,
            b'-' => mode & !bits,
            _ => (mode & !(mask & 0o777)) | bits,
        };
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let path = |p: &str, x: &str| {
            glob_path(
                &p.split('/').collect::<Vec<_>>(),
                &x.split('/').collect::<Vec<_>>(),
            )
        };
        assert!(path("src/**/*.txt", "src/a.txt"));
        assert!(path("src/**/*.txt", "src/x/y/c.txt"));
        assert!(!path("src/**/*.txt", "other/a.txt"));
        assert!(path("**/b", "b") && path("**/b", "a/b") && !path("**/b", "a/c"));
        assert!(path("a/*/c", "a/b/c") && !path("a/*/c", "a/b/x/c"));
        assert!(glob_component("*.txt", "a.txt"));
        assert!(!glob_component("*.txt", "a.rs"));
        assert!(glob_component("file?", "file1"));
        assert!(glob_component("[a-c]x", "bx"));
        assert!(!glob_component("[!a-c]x", "bx"));
    }

    #[test]
    fn dests() {
        assert_eq!(dest_path(".", "/app"), ("/app".to_owned(), true));
        assert_eq!(dest_path("x", "/app"), ("/app/x".to_owned(), false));
        assert_eq!(dest_path("/y/", "/app"), ("/y".to_owned(), true));
        assert_eq!(clean_rel("/../a/./b/../c"), "a/c");
    }

    #[test]
    fn symbolic() {
        assert_eq!(symbolic_mode("u+x", 0o644, false).unwrap(), 0o744);
        assert_eq!(symbolic_mode("go-r", 0o644, false).unwrap(), 0o600);
        assert_eq!(symbolic_mode("a=r", 0o755, false).unwrap(), 0o444);
        assert_eq!(symbolic_mode("a+X", 0o644, true).unwrap(), 0o755);
    }
}
