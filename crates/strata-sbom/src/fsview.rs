//! A view of an image's final filesystem built by streaming its layer tars, bottom first.
//!
//! For every path it remembers only the layer that last wrote it (memory grows with the
//! number of paths, never with file sizes). The contents of the few files catalogers read
//! (package databases, metadata files) are kept; binaries and archives are examined while they
//! stream past and only what was found in them is kept. Whiteouts and opaque directories are
//! applied as the OCI image spec says, so a package removed in a later layer disappears.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use strata_layer::{TarKind, TarReader};

use crate::binaries;
use crate::error::{Error, Result};
use crate::java;
use crate::model::Package;

/// Package databases and metadata files larger than this are refused with a note: no real one
/// comes close, and a hostile layer must not make the reader allocate without bound.
pub const MAX_TEXT_FILE: u64 = 256 << 20;
/// Binaries and archives larger than this are noted and skipped, for the same reason.
pub const MAX_EXAMINED_FILE: u64 = 512 << 20;

/// What was kept for one path of the final filesystem.
#[derive(Debug, Clone)]
pub enum Captured {
    /// The bytes of a metadata file a cataloger parses.
    Text(Vec<u8>),
    /// Packages found inside a binary or an archive as it streamed past.
    Found(Vec<Package>),
}

/// Why a path is worth keeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Text,
    Archive,
    MaybeElf,
}

/// The final filesystem of an image, as far as catalogers need it.
#[derive(Debug, Default)]
pub struct ImageFs {
    /// Every path (relative, no leading `/`) and the index of the layer that last wrote it.
    paths: BTreeMap<Vec<u8>, usize>,
    captured: BTreeMap<String, (usize, Captured)>,
    /// Per package database path: `name\0version` → the layer from which that entry has been
    /// present without interruption (the layer that introduced it).
    db_entries: HashMap<String, HashMap<String, usize>>,
    /// Symbolic links and their targets, so paths through `/lib -> usr/lib` (merged /usr)
    /// resolve as they would in a container.
    symlinks: HashMap<Vec<u8>, Vec<u8>>,
    layers: Vec<String>,
    notes: Vec<String>,
}

impl ImageFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Layer diffIDs in the order they were added.
    pub fn layers(&self) -> &[String] {
        &self.layers
    }

    /// Notes about files that could not be examined.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The layer that last wrote `path` (image-absolute or relative), if it exists; symbolic
    /// links in its directories are followed.
    pub fn layer_of(&self, path: &str) -> Option<usize> {
        let raw = path.trim_start_matches('/').as_bytes();
        if let Some(l) = self.paths.get(raw) {
            return Some(*l);
        }
        if self.symlinks.is_empty() {
            return None;
        }
        self.paths.get(&self.resolve_dirs(raw)?).copied()
    }

    /// `path` with symbolic links among its leading components replaced by their targets.
    fn resolve_dirs(&self, path: &[u8]) -> Option<Vec<u8>> {
        let mut current = normalize(path)?;
        // A bound on link hops, as the kernel has, so a loop cannot hang the cataloguer.
        for _ in 0..40 {
            let comps: Vec<Vec<u8>> = current.split(|&b| b == b'/').map(<[u8]>::to_vec).collect();
            let mut replaced = None;
            for i in 1..comps.len() {
                let prefix = comps[..i].join(&b'/');
                if let Some(target) = self.symlinks.get(&prefix) {
                    let mut joined = if target.starts_with(b"/") {
                        target.clone()
                    } else {
                        let mut parent = comps[..i - 1].join(&b'/');
                        parent.push(b'/');
                        parent.extend_from_slice(target);
                        parent
                    };
                    joined.push(b'/');
                    joined.extend_from_slice(&comps[i..].join(&b'/'));
                    replaced = Some(normalize_dots(&joined)?);
                    break;
                }
            }
            match replaced {
                Some(next) => current = next,
                None => return Some(current),
            }
        }
        None
    }

    /// Whether `path` exists in the final filesystem.
    pub fn exists(&self, path: &str) -> bool {
        self.layer_of(path).is_some()
    }

    /// Number of paths in the final filesystem.
    pub fn path_count(&self) -> usize {
        self.paths.len()
    }

    /// Captured files, by relative path.
    pub fn captured(&self) -> impl Iterator<Item = (&str, usize, &Captured)> {
        self.captured.iter().map(|(p, (l, c))| (p.as_str(), *l, c))
    }

    /// The kept bytes of a metadata file.
    pub fn text(&self, path: &str) -> Option<&[u8]> {
        match self.captured.get(path.trim_start_matches('/')) {
            Some((_, Captured::Text(b))) => Some(b),
            _ => None,
        }
    }

    /// The layer from which database `db` has listed `name` at `version` without interruption.
    pub fn introduced_in(&self, db: &str, name: &str, version: &str) -> Option<usize> {
        self.db_entries
            .get(db)
            .and_then(|m| m.get(&format!("{name}\0{version}")))
            .copied()
    }

    /// Add the next layer (an uncompressed tar stream) on top of the view.
    pub fn add_layer<R: Read>(&mut self, diff_id: &str, tar: R) -> Result<()> {
        let layer = self.layers.len();
        self.layers.push(diff_id.to_owned());
        let mut reader = TarReader::new(tar);
        let mut opaque_dirs: Vec<Vec<u8>> = Vec::new();
        while let Some(header) = reader
            .next_header()
            .map_err(|e| Error::layer(diff_id, e.to_string()))?
        {
            let Some(path) = normalize(&header.path) else {
                continue;
            };
            let (dir, base) = split(&path);
            if base == b".wh..wh..opq" {
                opaque_dirs.push(dir.to_vec());
                continue;
            }
            if let Some(hidden) = base.strip_prefix(b".wh.") {
                let mut target = dir.to_vec();
                if !target.is_empty() {
                    target.push(b'/');
                }
                target.extend_from_slice(hidden);
                self.remove_tree(&target, layer, true);
                continue;
            }
            // A new entry replaces whatever the path was, including a directory's children
            // when a non-directory takes its place.
            if header.kind != TarKind::Dir {
                self.remove_tree(&path, layer, false);
            }
            self.paths.insert(path.clone(), layer);
            let Ok(path_str) = String::from_utf8(path) else {
                continue;
            };
            self.captured.remove(&path_str);
            self.symlinks.remove(path_str.as_bytes());
            match header.kind {
                TarKind::Symlink => {
                    self.symlinks
                        .insert(path_str.into_bytes(), header.link.clone());
                }
                TarKind::File => {
                    let wanted = wanted(&path_str, header.mode, header.size);
                    if let Some(w) = wanted {
                        self.capture(layer, diff_id, &path_str, w, header.size, &mut reader)?;
                    }
                }
                TarKind::HardLink => {
                    if let Some(target) = normalize(&header.link)
                        .and_then(|t| String::from_utf8(t).ok())
                        .and_then(|t| self.captured.get(&t).cloned())
                    {
                        let (_, c) = target;
                        let c = match c {
                            Captured::Found(pkgs) => Captured::Found(relocate(pkgs, &path_str)),
                            text => text,
                        };
                        self.captured.insert(path_str, (layer, c));
                    }
                }
                _ => {}
            }
        }
        for dir in opaque_dirs {
            self.clear_below(&dir, layer);
        }
        Ok(())
    }

    fn capture<R: Read>(
        &mut self,
        layer: usize,
        diff_id: &str,
        path: &str,
        wanted: Wanted,
        size: u64,
        reader: &mut TarReader<R>,
    ) -> Result<()> {
        let cap = if wanted == Wanted::Text {
            MAX_TEXT_FILE
        } else {
            MAX_EXAMINED_FILE
        };
        if size > cap {
            self.notes.push(format!(
                "/{path} in layer {diff_id} is {size} bytes, over the {cap}-byte limit; not examined"
            ));
            return Ok(());
        }
        let mut data = reader.data();
        let mut bytes = Vec::new();
        if wanted == Wanted::MaybeElf {
            let mut magic = [0u8; 4];
            if data.read_exact(&mut magic).is_err() || &magic != b"\x7fELF" {
                return Ok(());
            }
            bytes.reserve(size as usize);
            bytes.extend_from_slice(&magic);
        } else {
            bytes.reserve(size as usize);
        }
        data.read_to_end(&mut bytes)
            .map_err(|e| Error::layer(diff_id, format!("reading /{path}: {e}")))?;
        let abs = format!("/{path}");
        let captured = match wanted {
            Wanted::Text => {
                if let Some(keys) = db_keys(path, &bytes) {
                    self.note_db_entries(path, layer, keys);
                }
                Captured::Text(bytes)
            }
            Wanted::Archive => match java::catalog_archive(&abs, &bytes) {
                Ok(pkgs) if pkgs.is_empty() => return Ok(()),
                Ok(pkgs) => Captured::Found(pkgs),
                Err(note) => {
                    self.notes.push(note);
                    return Ok(());
                }
            },
            Wanted::MaybeElf => {
                let (pkgs, notes) = binaries::catalog_elf(&abs, &bytes);
                self.notes.extend(notes);
                if pkgs.is_empty() {
                    return Ok(());
                }
                Captured::Found(pkgs)
            }
        };
        self.captured.insert(path.to_owned(), (layer, captured));
        Ok(())
    }

    /// Keep, for each entry a package database lists, the layer it first appeared in; an
    /// entry missing from a later rewrite starts over when it comes back.
    fn note_db_entries(&mut self, db: &str, layer: usize, keys: Vec<String>) {
        let old = self.db_entries.remove(db).unwrap_or_default();
        let mut new = HashMap::with_capacity(keys.len());
        for k in keys {
            let first = old.get(&k).copied().unwrap_or(layer);
            new.insert(k, first);
        }
        self.db_entries.insert(db.to_owned(), new);
    }

    /// Remove `path` and everything below it that earlier layers wrote (`whiteout`), or that
    /// any layer wrote when a file replaces a directory.
    fn remove_tree(&mut self, path: &[u8], layer: usize, whiteout: bool) {
        let keep_current = whiteout;
        if let Some(&l) = self.paths.get(path) {
            if !(keep_current && l == layer) {
                self.paths.remove(path);
                self.symlinks.remove(path);
                if let Ok(p) = std::str::from_utf8(path) {
                    self.captured.remove(p);
                    // A rewritten database keeps its history (entries still listed keep the
                    // layer that introduced them); a deleted one loses it.
                    if whiteout {
                        self.db_entries.remove(p);
                    }
                }
            }
        }
        self.clear_below_where(path, |l| !(keep_current && l == layer));
    }

    /// Opaque directory: drop children written by earlier layers.
    fn clear_below(&mut self, dir: &[u8], layer: usize) {
        self.clear_below_where(dir, |l| l < layer);
    }

    fn clear_below_where(&mut self, dir: &[u8], drop: impl Fn(usize) -> bool) {
        let mut prefix = dir.to_vec();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        let doomed: Vec<Vec<u8>> = self
            .paths
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(_, &l)| drop(l))
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            self.paths.remove(&p);
            self.symlinks.remove(&p);
            if let Ok(s) = std::str::from_utf8(&p) {
                self.captured.remove(s);
                self.db_entries.remove(s);
            }
        }
    }
}

/// Give packages found through a hard link the link's own location.
fn relocate(mut pkgs: Vec<Package>, path: &str) -> Vec<Package> {
    for p in &mut pkgs {
        p.location = format!("/{path}");
    }
    pkgs
}

/// `./a/b/` → `a/b`; `None` for the root itself and for paths with `..`.
fn normalize(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return None,
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Like [`normalize`], but `..` steps back a component (clamped at the root), as when
/// following a relative link target.
fn normalize_dots(raw: &[u8]) -> Option<Vec<u8>> {
    let mut comps: Vec<&[u8]> = Vec::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                comps.pop();
            }
            c => comps.push(c),
        }
    }
    (!comps.is_empty()).then(|| comps.join(&b'/'))
}

fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// Whether catalogers need this regular file, and how.
fn wanted(path: &str, mode: u32, size: u64) -> Option<Wanted> {
    let text = matches!(
        path,
        "var/lib/dpkg/status"
            | "lib/apk/db/installed"
            | "etc/os-release"
            | "usr/lib/os-release"
            | "var/lib/rpm/rpmdb.sqlite"
            | "usr/lib/sysimage/rpm/rpmdb.sqlite"
            | "var/lib/rpm/Packages"
            | "var/lib/rpm/Packages.db"
            | "usr/lib/sysimage/rpm/Packages"
            | "usr/lib/sysimage/rpm/Packages.db"
    ) || is_dpkg_status_d(path)
        || (path.starts_with("var/lib/dpkg/info/") && path.ends_with(".list"))
        || is_doc_copyright(path)
        || is_python_metadata(path)
        || is_npm_manifest(path);
    if text {
        return Some(Wanted::Text);
    }
    let lower = path.to_ascii_lowercase();
    if [".jar", ".war", ".ear", ".jpi", ".hpi"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return Some(Wanted::Archive);
    }
    if mode & 0o111 != 0 && size >= 64 {
        return Some(Wanted::MaybeElf);
    }
    None
}

fn is_dpkg_status_d(path: &str) -> bool {
    path.strip_prefix("var/lib/dpkg/status.d/")
        .is_some_and(|rest| !rest.contains('/') && !rest.ends_with(".md5sums"))
}

fn is_doc_copyright(path: &str) -> bool {
    path.strip_prefix("usr/share/doc/")
        .and_then(|rest| rest.strip_suffix("/copyright"))
        .is_some_and(|pkg| !pkg.contains('/'))
}

/// `…/NAME.dist-info/METADATA`, `…/NAME.egg-info/PKG-INFO` or a single-file `…/NAME.egg-info`.
pub(crate) fn is_python_metadata(path: &str) -> bool {
    let (dir, base) = match path.rsplit_once('/') {
        Some(x) => x,
        None => return false,
    };
    (base == "METADATA" && dir.ends_with(".dist-info"))
        || (base == "PKG-INFO" && dir.ends_with(".egg-info"))
        || (base.ends_with(".egg-info") && (dir.ends_with("-packages") || dir.ends_with("/lib")))
}

/// `…/node_modules/NAME/package.json` or `…/node_modules/@SCOPE/NAME/package.json`.
pub(crate) fn is_npm_manifest(path: &str) -> bool {
    let Some(dir) = path.strip_suffix("/package.json") else {
        return false;
    };
    let mut comps = dir.rsplit('/');
    let (Some(name), Some(parent)) = (comps.next(), comps.next()) else {
        return false;
    };
    if name.is_empty() || name == "node_modules" {
        return false;
    }
    parent == "node_modules" || (parent.starts_with('@') && comps.next() == Some("node_modules"))
}

/// For package databases whose entries' introducing layer matters, the `name\0version` keys.
fn db_keys(path: &str, bytes: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(bytes).ok()?;
    match path {
        "var/lib/dpkg/status" => Some(
            crate::dpkg::parse_paragraphs(text)
                .into_iter()
                .filter_map(|p| Some(format!("{}\0{}", p.get("Package")?, p.get("Version")?)))
                .collect(),
        ),
        "lib/apk/db/installed" => Some(
            crate::apk::parse_records(text)
                .into_iter()
                .filter_map(|r| Some(format!("{}\0{}", r.get("P")?, r.get("V")?)))
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_metadata_paths() {
        assert!(is_npm_manifest("app/node_modules/left-pad/package.json"));
        assert!(is_npm_manifest("app/node_modules/@types/node/package.json"));
        assert!(!is_npm_manifest("app/package.json"));
        assert!(!is_npm_manifest("app/node_modules/x/lib/package.json"));
        assert!(is_python_metadata(
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"
        ));
        assert!(is_python_metadata(
            "usr/lib/python3/dist-packages/foo.egg-info"
        ));
        assert!(is_dpkg_status_d("var/lib/dpkg/status.d/base"));
        assert!(!is_dpkg_status_d("var/lib/dpkg/status.d/base.md5sums"));
        assert_eq!(normalize(b"./a//b/"), Some(b"a/b".to_vec()));
        assert_eq!(normalize(b"../etc"), None);
        assert_eq!(
            normalize_dots(b"usr/lib/../../etc/x"),
            Some(b"etc/x".to_vec())
        );
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    #[test]
    fn paths_resolve_through_directory_links() {
        let mut fs = ImageFs::new();
        fs.paths.insert(b"usr/lib/x/libz.so".to_vec(), 0);
        fs.symlinks.insert(b"lib".to_vec(), b"usr/lib".to_vec());
        fs.symlinks
            .insert(b"usr/lib64".to_vec(), b"../lib".to_vec());
        assert_eq!(fs.layer_of("/lib/x/libz.so"), Some(0));
        assert_eq!(fs.layer_of("/usr/lib64/x/libz.so"), Some(0));
        assert_eq!(fs.layer_of("/lib/x/other"), None);
    }
}
