//! An archive's files, whether they arrive as a tar stream or sit in a directory.
//!
//! A tar stream (stdin, a pipe) can be read once only, and Docker writes `manifest.json`
//! last, so [`TarFiles`] cannot know what a file is for when it passes. It keeps small
//! files outside `blobs/` (Docker's JSON documents) in memory and streams every other file
//! straight into the sink (blob store), which hashes it on the way; the resolver then picks
//! what the documents reference, reading small blobs back from the sink.
//! Files under `blobs/<alg>/<hex>` are verified against their name as they are ingested.
//! Nothing becomes an image until resolution succeeds: unreferenced blobs stay under the
//! load's lease and are garbage collected.
//!
//! [`DirFiles`] serves an unpacked layout directory and ingests blobs on demand.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use strata_oci::Digest;

use strata_layer::{TarKind, TarReader};

use crate::error::{Error, ErrorKind, Result};
use crate::sink::{ingest_sniffed, BlobSink, Ingested};

/// A tar format error, naming the entry as the reader does.
fn tar_err(e: strata_layer::Error) -> Error {
    let kind = match e.kind() {
        strata_layer::ErrorKind::Io => ErrorKind::Io,
        strata_layer::ErrorKind::Unsupported => ErrorKind::Unsupported,
        _ => ErrorKind::Malformed,
    };
    Error::new(kind, format!("reading archive: {e}")).with_source(e)
}

/// Files up to this size are kept in memory (documents: manifests, configs, index.json).
pub const SMALL_FILE_LIMIT: u64 = 4 << 20;
/// Bound on the memory all small files together may take.
const SMALL_TOTAL_LIMIT: u64 = 256 << 20;
/// Bound on symlink hops when resolving a path.
const MAX_LINK_HOPS: usize = 16;

/// Read access to an archive's files by normalised path (`manifest.json`, `blobs/sha256/…`).
pub trait Files {
    /// Contents of a small file (read back from `sink` if it was committed there);
    /// `Ok(None)` when absent.
    fn small(&mut self, sink: &dyn BlobSink, path: &str) -> Result<Option<Vec<u8>>>;
    /// The blob holding file `path`, committing it to `sink` first if needed; checked against
    /// `expected` when given. `Ok(None)` when absent.
    fn blob(
        &mut self,
        sink: &mut dyn BlobSink,
        path: &str,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> Result<Option<Ingested>>;
    /// Whether `path` exists.
    fn exists(&mut self, path: &str) -> Result<bool>;
}

/// The archive path of a blob: `blobs/<alg>/<hex>`.
pub fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().as_str(), digest.hex())
}

/// Normalise an archive path: strip `./` and empty components, resolve `..` within the
/// archive. Paths escaping the archive root are errors.
pub fn normalize(path: &str) -> Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::malformed(format!(
                        "archive path {path:?} escapes the archive"
                    )));
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// A tar stream's files after one pass.
#[derive(Default)]
pub struct TarFiles {
    entries: HashMap<String, Entry>,
    links: HashMap<String, String>,
    small_total: u64,
}

#[derive(Default)]
struct Entry {
    bytes: Option<Vec<u8>>,
    blob: Option<Ingested>,
}

impl TarFiles {
    /// Read the whole tar stream, committing large files and `blobs/` files to `sink`.
    pub fn collect(reader: &mut dyn Read, sink: &mut dyn BlobSink) -> Result<Self> {
        let mut files = TarFiles::default();
        // strata-layer's hardened reader: capped extension headers, POSIX-only prefix.
        let mut archive = TarReader::new(std::io::BufReader::with_capacity(256 << 10, reader));
        while let Some(header) = archive.next_header().map_err(tar_err)? {
            let raw = String::from_utf8_lossy(&header.path).into_owned();
            let path = normalize(&raw)?;
            let kind = header.kind;
            if kind == TarKind::Dir || path.is_empty() {
                continue;
            }
            if kind == TarKind::Symlink || kind == TarKind::HardLink {
                if header.link.is_empty() {
                    return Err(Error::malformed(format!("link {raw:?} has no target")));
                }
                let target = String::from_utf8_lossy(&header.link).into_owned();
                let resolved = if kind == TarKind::HardLink {
                    // Hard link names are relative to the archive root.
                    normalize(&target)?
                } else {
                    let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                    if target.starts_with('/') {
                        return Err(Error::malformed(format!(
                            "archive link {raw:?} points to absolute path {target:?}"
                        )));
                    }
                    normalize(&format!("{parent}/{target}"))?
                };
                files.entries.remove(&path);
                files.links.insert(path, resolved);
                continue;
            }
            if kind != TarKind::File {
                // FIFOs, devices and the rest are no part of an image archive (a FIFO
                // named as a blob would block whoever reads it).
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("archive entry {raw:?} is a {kind:?}, not a regular file"),
                ));
            }
            files.links.remove(&path);
            let size = header.size;
            let mut entry = archive.data();
            let expected = blob_digest_of_path(&path);
            let is_layer_tar = path.ends_with("/layer.tar") || path == "layer.tar";
            let mut e = Entry::default();
            // Documents outside blobs/ (manifest.json, <id>.json, ...) stay in memory; blobs
            // and layer files stream into the sink and are read back from there if needed,
            // so memory stays bounded however many blobs an archive holds.
            if size <= SMALL_FILE_LIMIT && !is_layer_tar && expected.is_none() {
                files.small_total += size;
                if files.small_total > SMALL_TOTAL_LIMIT {
                    return Err(Error::malformed(
                        "archive holds more small files than strata keeps in memory (256 MiB)",
                    ));
                }
                let mut bytes = Vec::with_capacity(size as usize);
                entry
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::io(format!("reading {path}"), None, e))?;
                e.bytes = Some(bytes);
            } else {
                e.blob = Some(
                    ingest_sniffed(sink, &mut entry, expected.as_ref().map(|d| (d, Some(size))))
                        .map_err(|err| named(err, &path))?,
                );
            }
            files.entries.insert(path, e);
        }
        Ok(files)
    }

    fn resolve(&self, path: &str) -> Result<String> {
        let mut current = normalize(path)?;
        for _ in 0..MAX_LINK_HOPS {
            match self.links.get(&current) {
                Some(next) => current = next.clone(),
                None => return Ok(current),
            }
        }
        Err(Error::malformed(format!(
            "archive path {path:?}: link cycle"
        )))
    }
}

fn named(err: Error, path: &str) -> Error {
    Error::new(err.kind, format!("archive file {path}: {}", err.message))
}

/// The digest a `blobs/<alg>/<hex>` path names, if it is one.
fn blob_digest_of_path(path: &str) -> Option<Digest> {
    let rest = path.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    Digest::parse(&format!("{alg}:{hex}")).ok()
}

impl Files for TarFiles {
    fn small(&mut self, sink: &dyn BlobSink, path: &str) -> Result<Option<Vec<u8>>> {
        let path = self.resolve(path)?;
        match self.entries.get(&path) {
            None => Ok(None),
            Some(Entry { bytes: Some(b), .. }) => Ok(Some(b.clone())),
            Some(Entry {
                blob: Some(blob), ..
            }) if blob.size <= SMALL_FILE_LIMIT => {
                crate::sink::read_all(sink, &blob.digest).map(Some)
            }
            Some(_) => Err(Error::malformed(format!(
                "archive file {path} is too large for a document (over {SMALL_FILE_LIMIT} bytes)"
            ))),
        }
    }

    fn blob(
        &mut self,
        sink: &mut dyn BlobSink,
        path: &str,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> Result<Option<Ingested>> {
        let path = self.resolve(path)?;
        let Some(entry) = self.entries.get_mut(&path) else {
            return Ok(None);
        };
        if let Some(blob) = &entry.blob {
            check_expected(&path, blob, expected)?;
            return Ok(Some(blob.clone()));
        }
        let bytes = entry.bytes.as_ref().expect("entry holds bytes or a blob");
        let blob = ingest_sniffed(sink, &mut &bytes[..], expected).map_err(|e| named(e, &path))?;
        entry.blob = Some(blob.clone());
        Ok(Some(blob))
    }

    fn exists(&mut self, path: &str) -> Result<bool> {
        let path = self.resolve(path)?;
        Ok(self.entries.contains_key(&path))
    }
}

fn check_expected(
    path: &str,
    blob: &Ingested,
    expected: Option<(&Digest, Option<u64>)>,
) -> Result<()> {
    if let Some((digest, size)) = expected {
        if &blob.digest != digest || size.is_some_and(|s| s != blob.size) {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "archive file {path}: expected {digest} ({} bytes), content is {} ({} bytes)",
                    size.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
                    blob.digest,
                    blob.size
                ),
            ));
        }
    }
    Ok(())
}

/// Open a file of an archive or layout directory, refusing FIFOs, devices and the like
/// ([`strata_layer::open_regular`]).
pub fn open_regular(path: &Path) -> Result<std::fs::File> {
    strata_layer::open_regular(path).map_err(|e| Error::io("opening", Some(path), e))
}

/// An unpacked archive or OCI layout directory.
pub struct DirFiles {
    root: PathBuf,
    ingested: HashMap<String, Ingested>,
}

impl DirFiles {
    pub fn new(root: &Path) -> Result<Self> {
        let root = root
            .canonicalize()
            .map_err(|e| Error::io("opening layout directory", Some(root), e))?;
        Ok(DirFiles {
            root,
            ingested: HashMap::new(),
        })
    }

    /// The file for archive path `path`, refusing links that lead out of the directory.
    fn locate(&self, path: &str) -> Result<Option<PathBuf>> {
        let joined = self.root.join(normalize(path)?);
        match joined.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => Ok(Some(real)),
            Ok(_) => Err(Error::malformed(format!(
                "{} leads outside the layout directory",
                joined.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(40) => Err(Error::malformed(format!(
                "{}: link cycle",
                joined.display()
            ))),
            Err(e) => Err(Error::io("resolving", Some(&joined), e)),
        }
    }
}

impl Files for DirFiles {
    fn small(&mut self, _sink: &dyn BlobSink, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(file) = self.locate(path)? else {
            return Ok(None);
        };
        let meta = std::fs::metadata(&file).map_err(|e| Error::io("reading", Some(&file), e))?;
        if meta.len() > SMALL_FILE_LIMIT {
            return Err(Error::malformed(format!(
                "{} is too large for a document (over {SMALL_FILE_LIMIT} bytes)",
                file.display()
            )));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        open_regular(&file)?
            .take(SMALL_FILE_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading", Some(&file), e))?;
        Ok(Some(bytes))
    }

    fn blob(
        &mut self,
        sink: &mut dyn BlobSink,
        path: &str,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> Result<Option<Ingested>> {
        let key = normalize(path)?;
        if let Some(blob) = self.ingested.get(&key) {
            check_expected(&key, blob, expected)?;
            return Ok(Some(blob.clone()));
        }
        let Some(file) = self.locate(&key)? else {
            return Ok(None);
        };
        let named_digest = blob_digest_of_path(&key);
        let len = std::fs::metadata(&file)
            .map_err(|e| Error::io("reading", Some(&file), e))?
            .len();
        let expected = match (expected, named_digest.as_ref()) {
            (Some(e), _) => Some(e),
            (None, Some(d)) => Some((d, Some(len))),
            (None, None) => None,
        };
        if let (Some((want, _)), Some(named)) = (expected, named_digest.as_ref()) {
            if want != named {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("{key} is named {named} but {want} was expected"),
                ));
            }
        }
        let mut f = open_regular(&file)?;
        let blob = ingest_sniffed(sink, &mut f, expected).map_err(|e| named(e, &key))?;
        self.ingested.insert(key, blob.clone());
        Ok(Some(blob))
    }

    fn exists(&mut self, path: &str) -> Result<bool> {
        Ok(self.locate(path)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_keeps_paths_inside() {
        assert_eq!(normalize("./manifest.json").unwrap(), "manifest.json");
        assert_eq!(normalize("a/./b//c").unwrap(), "a/b/c");
        assert_eq!(normalize("a/../b").unwrap(), "b");
        assert!(normalize("../etc/passwd").is_err());
        assert!(normalize("a/../../x").is_err());
    }
}
