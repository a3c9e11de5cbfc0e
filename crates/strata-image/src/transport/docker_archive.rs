//! Classic `docker save` archives (`manifest.json`, `<id>.json`, `<v1id>/layer.tar`) as
//! read-only content, without importing them anywhere.
//!
//! The manifest such an archive implies is built by strata-archive's own loader
//! (`strata_archive::docker::resolve`), so an image opened here has the manifest digest
//! `strata load` gives it. The loader is run over adapters that read members in place: the
//! only bytes kept in memory are documents and the manifests it synthesises. A layer file
//! not named by its digest is hashed once when the archive is opened.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use strata_archive::files::Files;
use strata_archive::sink::{BlobSink, Ingested};
use strata_archive::LoadedImage;
use strata_oci::{Descriptor, Digest, Digester};
use strata_store::{TagRef, VerifyingReader};

use super::files::{FileAccess, TarFiles};
use super::layout::read_small;
use crate::content::{ContentRead, DOCUMENT_LIMIT};
use crate::error::{Error, ErrorKind, Result};

/// Where the bytes of a digest are.
#[derive(Clone)]
enum Located {
    Member(String),
    Memory(Arc<Vec<u8>>),
}

type Known = Arc<Mutex<HashMap<Digest, Located>>>;

/// A classic docker-archive.
pub struct DockerArchiveContent {
    tar: TarFiles,
    location: String,
    images: Vec<LoadedImage>,
    known: HashMap<Digest, Located>,
}

fn archive_err(e: Error) -> strata_archive::Error {
    let kind = match e.kind {
        ErrorKind::NotFound => strata_archive::ErrorKind::NotFound,
        ErrorKind::DigestMismatch => strata_archive::ErrorKind::DigestMismatch,
        ErrorKind::Unsupported => strata_archive::ErrorKind::Unsupported,
        ErrorKind::InvalidInput => strata_archive::ErrorKind::Malformed,
        _ => strata_archive::ErrorKind::Io,
    };
    strata_archive::Error::new(kind, e.message)
}

impl DockerArchiveContent {
    /// Read `manifest.json` of the indexed archive `tar` and derive its images.
    pub fn open(tar: TarFiles, location: String) -> Result<Self> {
        let known: Known = Arc::default();
        let bytes = read_small(&tar, "manifest.json")
            .map_err(|e| e.context(&location))?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "{location}: not a docker-archive or OCI image layout: neither manifest.json nor index.json found"
                    ),
                )
            })?;
        let entries = strata_archive::docker::parse_manifest_json(&bytes)
            .map_err(|e| Error::from(e).context(&location))?;
        let images = {
            let mut files = MemberFiles {
                tar: &tar,
                known: known.clone(),
            };
            let mut sink = MemorySink {
                tar: &tar,
                known: known.clone(),
            };
            strata_archive::docker::resolve(&mut files, &mut sink, &entries)
                .map_err(|e| Error::from(e).context(&location))?
        };
        let known = std::mem::take(&mut *known.lock().expect("known lock"));
        Ok(DockerArchiveContent {
            tar,
            location,
            images,
            known,
        })
    }
}

impl ContentRead for DockerArchiveContent {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn resolve(&self, reference: Option<&str>) -> Result<Descriptor> {
        let all_names = || {
            let names: Vec<&str> = self
                .images
                .iter()
                .flat_map(|i| i.names.iter().map(String::as_str))
                .collect();
            if names.is_empty() {
                "no named images".to_owned()
            } else {
                names.join(", ")
            }
        };
        let chosen: Vec<&LoadedImage> = match reference {
            // skopeo's `@N`: the N-th image of manifest.json.
            Some(r) if r.starts_with('@') => {
                let n: usize = r[1..].parse().map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!("{}: invalid source index {r:?}", self.location),
                    )
                })?;
                self.images.get(n).into_iter().collect()
            }
            Some(r) => {
                let want = TagRef::parse(r).ok().map(|t| t.key());
                self.images
                    .iter()
                    .filter(|i| {
                        i.names.iter().any(|n| {
                            n == r
                                || (want.is_some()
                                    && TagRef::parse(n).ok().map(|t| t.key()) == want)
                        })
                    })
                    .collect()
            }
            None => self.images.iter().collect(),
        };
        match chosen.as_slice() {
            [one] => Ok(one.manifest.clone()),
            [] => Err(Error::not_found(match reference {
                Some(r) => format!(
                    "{}: no image named {r} (it has: {})",
                    self.location,
                    all_names()
                ),
                None => format!("{}: holds no image", self.location),
            })),
            more => Err(Error::new(
                ErrorKind::Ambiguous,
                format!(
                    "{}: {} images match; name one (it has: {})",
                    self.location,
                    more.len(),
                    all_names()
                ),
            )),
        }
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let missing = || {
            Error::not_found(format!(
                "{}: blob {} is not in the archive",
                self.location, desc.digest
            ))
        };
        let reader: Box<dyn Read + Send + '_> =
            match self.known.get(&desc.digest).ok_or_else(missing)? {
                Located::Memory(bytes) => Box::new(io::Cursor::new(bytes.to_vec())),
                Located::Member(path) => {
                    let (size, r) = self.tar.open(path)?.ok_or_else(missing)?;
                    if size != desc.size {
                        return Err(Error::new(
                            ErrorKind::DigestMismatch,
                            format!(
                                "{}: {path} has {size} bytes, blob {} should have {}",
                                self.location, desc.digest, desc.size
                            ),
                        ));
                    }
                    r
                }
            };
        Ok(Box::new(VerifyingReader::new(
            reader,
            desc.digest.clone(),
            desc.size,
        )))
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        Ok(match self.known.get(&desc.digest) {
            Some(Located::Memory(b)) => b.len() as u64 == desc.size,
            Some(Located::Member(p)) => self.tar.size(p)? == Some(desc.size),
            None => false,
        })
    }

    fn referrers(&self, _subject: &Digest) -> Result<Vec<Descriptor>> {
        // A classic archive has no place for attachments.
        Ok(Vec::new())
    }
}

/// strata-archive's view of the archive's members, read in place.
struct MemberFiles<'a> {
    tar: &'a TarFiles,
    known: Known,
}

impl Files for MemberFiles<'_> {
    fn small(
        &mut self,
        _sink: &dyn BlobSink,
        path: &str,
    ) -> strata_archive::Result<Option<Vec<u8>>> {
        read_small(self.tar, path).map_err(archive_err)
    }

    fn blob(
        &mut self,
        _sink: &mut dyn BlobSink,
        path: &str,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> strata_archive::Result<Option<Ingested>> {
        let Some((size, mut r)) = self.tar.open(path).map_err(archive_err)? else {
            return Ok(None);
        };
        let mut head = [0u8; 8];
        let mut n = 0;
        while n < head.len() {
            match r.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => {
                    return Err(strata_archive::Error::io(
                        format!("reading {path}"),
                        None,
                        e,
                    ))
                }
            }
        }
        let named = path
            .strip_prefix("blobs/")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(alg, hex)| Digest::parse(&format!("{alg}:{hex}")).ok());
        let digest = match (expected, named) {
            (Some((d, want)), _) => {
                if want.is_some_and(|w| w != size) {
                    return Err(strata_archive::Error::new(
                        strata_archive::ErrorKind::DigestMismatch,
                        format!(
                            "archive file {path} has {size} bytes, expected {}",
                            want.unwrap_or(0)
                        ),
                    ));
                }
                d.clone()
            }
            // Named by its digest: checked when read.
            (None, Some(d)) => d,
            (None, None) => {
                let mut digester = Digester::sha256();
                digester.update(&head[..n]);
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let k = r.read(&mut buf).map_err(|e| {
                        strata_archive::Error::io(format!("reading {path}"), None, e)
                    })?;
                    if k == 0 {
                        break;
                    }
                    digester.update(&buf[..k]);
                }
                digester.finish()
            }
        };
        self.known
            .lock()
            .expect("known lock")
            .insert(digest.clone(), Located::Member(path.to_owned()));
        Ok(Some(Ingested {
            digest,
            size,
            compression: strata_layer::detect(&head[..n]),
        }))
    }

    fn exists(&mut self, path: &str) -> strata_archive::Result<bool> {
        Ok(self.tar.size(path).map_err(archive_err)?.is_some())
    }
}

/// Keeps what the loader writes (the manifests it synthesises) in memory, and reads back
/// members by digest.
struct MemorySink<'a> {
    tar: &'a TarFiles,
    known: Known,
}

impl BlobSink for MemorySink<'_> {
    fn ingest(
        &mut self,
        reader: &mut dyn Read,
        expected: Option<(&Digest, Option<u64>)>,
    ) -> strata_archive::Result<(Digest, u64)> {
        let mut data = Vec::new();
        reader
            .take(DOCUMENT_LIMIT + 1)
            .read_to_end(&mut data)
            .map_err(|e| strata_archive::Error::io("reading a document", None, e))?;
        if data.len() as u64 > DOCUMENT_LIMIT {
            return Err(strata_archive::Error::new(
                strata_archive::ErrorKind::Unsupported,
                "document over the 4 MiB limit",
            ));
        }
        let digest = match expected {
            Some((d, _)) => d.of_same_algorithm(&data),
            None => Digest::sha256_of(&data),
        };
        if let Some((want, size)) = expected {
            if &digest != want || size.is_some_and(|s| s != data.len() as u64) {
                return Err(strata_archive::Error::new(
                    strata_archive::ErrorKind::DigestMismatch,
                    format!("blob {want}: content has digest {digest}"),
                ));
            }
        }
        let size = data.len() as u64;
        self.known
            .lock()
            .expect("known lock")
            .insert(digest.clone(), Located::Memory(Arc::new(data)));
        Ok((digest, size))
    }

    fn open(&self, digest: &Digest) -> strata_archive::Result<Box<dyn Read + '_>> {
        let located = self.known.lock().expect("known lock").get(digest).cloned();
        match located {
            Some(Located::Memory(b)) => Ok(Box::new(io::Cursor::new(b.to_vec()))),
            Some(Located::Member(p)) => match self.tar.open(&p).map_err(archive_err)? {
                Some((_, r)) => Ok(Box::new(r)),
                None => Err(strata_archive::Error::new(
                    strata_archive::ErrorKind::NotFound,
                    format!("archive file {p} vanished"),
                )),
            },
            None => Err(strata_archive::Error::new(
                strata_archive::ErrorKind::NotFound,
                format!("blob {digest} is not in the archive"),
            )),
        }
    }
}
