//! Listing a build context with `.dockerignore` rules applied.
//!
//! This is the crate's only file-system code. Each directory is read once,
//! its entries sorted by name so the order is stable. Every visited path is
//! matched once per pattern: a directory's per-pattern results are handed to
//! its children ([`MatchInfo`]), so the work is linear in the paths visited,
//! not in their depth. An excluded directory is not entered unless a `!`
//! exception could match something below it; when one does and re-includes
//! a path, the excluded directories above it are reported first, marked
//! [`WalkEntry::implied`], so a consumer can recreate them.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::FileType;
use std::path::{Path, PathBuf};

use super::{IgnoreError, MatchInfo, Matcher};

/// One included file, directory or symlink.
#[derive(Debug, Clone)]
pub struct WalkEntry {
    /// Slash-separated path relative to the root (lossy for names that are
    /// not UTF-8; use `full_path` to open the entry).
    pub path: String,
    /// The path on disk.
    pub full_path: PathBuf,
    /// The entry's type, not following symlinks.
    pub file_type: FileType,
    /// Number of components in `path`.
    pub depth: usize,
    /// The directory itself is excluded and is reported only because
    /// something inside it is re-included.
    pub implied: bool,
}

struct Frame {
    rel: String,
    full: PathBuf,
    file_type: Option<FileType>,
    depth: usize,
    entries: std::vec::IntoIter<(OsString, FileType)>,
    info: MatchInfo,
    /// The directory is excluded and has not been reported yet.
    pending: bool,
}

/// Iterator over the included entries of a context; see [`walk`].
pub struct Walk<'m> {
    matcher: &'m Matcher,
    stack: Vec<Frame>,
    ready: VecDeque<Result<WalkEntry, IgnoreError>>,
    /// Failure to list the root, reported as the first item.
    root_error: Option<IgnoreError>,
}

/// Lists everything under `root` that `matcher` does not exclude, depth
/// first, entries of a directory in name order. The root is not reported.
/// Symlinks are reported, never followed. I/O errors are yielded as items
/// naming the path; the walk continues with the next entry.
pub fn walk<'m>(root: &Path, matcher: &'m Matcher) -> Walk<'m> {
    let mut w = Walk {
        matcher,
        stack: Vec::new(),
        ready: VecDeque::new(),
        root_error: None,
    };
    match read_sorted(root) {
        Ok(entries) => w.stack.push(Frame {
            rel: String::new(),
            full: root.to_path_buf(),
            file_type: None,
            depth: 0,
            entries: entries.into_iter(),
            info: MatchInfo::default(),
            pending: false,
        }),
        Err(e) => w.root_error = Some(e),
    }
    w
}

fn read_sorted(dir: &Path) -> Result<Vec<(OsString, FileType)>, IgnoreError> {
    let rd = std::fs::read_dir(dir).map_err(|e| IgnoreError::io(dir, e))?;
    let mut entries = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| IgnoreError::io(dir, e))?;
        let ft = entry
            .file_type()
            .map_err(|e| IgnoreError::io(&entry.path(), e))?;
        entries.push((entry.file_name(), ft));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

impl Walk<'_> {
    /// Queues the excluded ancestors that have not been reported yet.
    fn flush_pending(&mut self) {
        for frame in &mut self.stack {
            if frame.pending {
                frame.pending = false;
                if let Some(ft) = frame.file_type {
                    self.ready.push_back(Ok(WalkEntry {
                        path: frame.rel.clone(),
                        full_path: frame.full.clone(),
                        file_type: ft,
                        depth: frame.depth,
                        implied: true,
                    }));
                }
            }
        }
    }

    fn visit(&mut self, name: OsString, ft: FileType) {
        let matcher = self.matcher;
        let Some(parent) = self.stack.last() else {
            return;
        };
        let name_str = name.to_string_lossy();
        let rel = if parent.rel.is_empty() {
            name_str.into_owned()
        } else {
            format!("{}/{name_str}", parent.rel)
        };
        let full = parent.full.join(&name);
        let depth = parent.depth + 1;
        if !ft.is_dir() {
            if !matcher.matches_leaf(&rel, &parent.info) {
                self.flush_pending();
                self.ready.push_back(Ok(WalkEntry {
                    path: rel,
                    full_path: full,
                    file_type: ft,
                    depth,
                    implied: false,
                }));
            }
            return;
        }
        let (excluded, info) = matcher.matches_with_parent(&rel, &parent.info);
        if excluded && !matcher.could_include_under(&rel) {
            return;
        }
        let entries = match read_sorted(&full) {
            Ok(e) => e,
            Err(e) => {
                self.ready.push_back(Err(e));
                return;
            }
        };
        if !excluded {
            self.flush_pending();
            self.ready.push_back(Ok(WalkEntry {
                path: rel.clone(),
                full_path: full.clone(),
                file_type: ft,
                depth,
                implied: false,
            }));
        }
        self.stack.push(Frame {
            rel,
            full,
            file_type: Some(ft),
            depth,
            entries: entries.into_iter(),
            info,
            pending: excluded,
        });
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<WalkEntry, IgnoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.root_error.take() {
            return Some(Err(e));
        }
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            let frame = self.stack.last_mut()?;
            match frame.entries.next() {
                None => {
                    self.stack.pop();
                }
                Some((name, ft)) => self.visit(name, ft),
            }
        }
    }
}
