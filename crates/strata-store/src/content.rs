//! Content: verified, atomically committed blobs addressed by digest.
//!
//! Writing goes to a temporary file under `ingest/`, which its writer holds an exclusive
//! `flock` on. [`BlobWriter::commit`] flushes and fsyncs the file, checks size and digest
//! against the expected ones, renames it into `blobs/<alg>/<hex>` and fsyncs the directory.
//! Until that rename nothing is visible; a mismatch deletes the temporary file. A process
//! killed mid-write leaves only an unlocked ingest file, removed by [`Store::clean_ingest`].
//!
//! Readers verify: [`VerifyingReader`] checks size and digest when it reaches end of stream.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use strata_oci::{Algorithm, Digest, DigestWriter, Digester};

use crate::error::{Error, ErrorKind, Result};
use crate::layout::{random_name, Layout};
use crate::{lock, Store};

/// Where a blob's bytes come from: its file, or a derived blob's snapshot.
pub enum BlobSource {
    File(File),
    Regenerated(crate::derived::ChunkReader),
}

impl Read for BlobSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            BlobSource::File(f) => f.read(buf),
            BlobSource::Regenerated(r) => r.read(buf),
        }
    }
}

/// Ingest files younger than this are never cleaned on open, even if unlocked: a writer
/// may be between creating its file and locking it.
pub const INGEST_GRACE: Duration = Duration::from_secs(60);

/// A blob being written. Invisible to every reader until [`commit`](Self::commit).
/// Dropping it without committing deletes the temporary file.
pub struct BlobWriter {
    layout: Layout,
    inner: Option<DigestWriter<BufWriter<File>>>,
    temp: PathBuf,
    expected: Option<(Digest, u64)>,
    lease: Option<String>,
}

impl BlobWriter {
    pub(crate) fn new(store: &Store, expected: Option<(Digest, u64)>) -> Result<Self> {
        let layout = store.layout.clone();
        let temp = layout.ingest().join(random_name());
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| Error::io("cannot create ingest file", &temp, e))?;
        // The lock marks the file as owned by a live writer; cleanup skips locked files.
        file.try_lock().map_err(|e| {
            Error::io(
                "cannot lock ingest file",
                &temp,
                io::Error::other(e.to_string()),
            )
        })?;
        let alg = expected
            .as_ref()
            .map(|(d, _)| d.algorithm())
            .unwrap_or(Algorithm::Sha256);
        Ok(BlobWriter {
            layout,
            inner: Some(DigestWriter::new(
                BufWriter::with_capacity(256 * 1024, file),
                alg,
            )),
            temp,
            expected,
            lease: None,
        })
    }

    /// Record the committed digest in this lease, atomically with the commit with respect
    /// to garbage collection.
    pub fn with_lease(mut self, lease: &str) -> Self {
        self.lease = Some(lease.to_owned());
        self
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.inner.as_ref().map(|w| w.written()).unwrap_or(0)
    }

    /// Verify and publish the blob. Returns its digest and size. Committing content that is
    /// already present succeeds and keeps the existing file.
    pub fn commit(self) -> Result<(Digest, u64)> {
        self.commit_unless(None)
    }

    /// Like [`BlobWriter::commit`], but once the digest and size have verified, a caller's
    /// own `refusal` (a check of the content it made on the side) stops the commit and is
    /// returned. Digest errors come first: they say more about what went wrong.
    pub fn commit_unless(mut self, refusal: Option<Error>) -> Result<(Digest, u64)> {
        let w = self.inner.take().expect("writer present until commit");
        let (buf, digest, size) = w.finish();
        let file = buf
            .into_inner()
            .map_err(|e| Error::io("cannot write", &self.temp, e.into_error()))?;
        if let Some((want, want_size)) = &self.expected {
            if size != *want_size {
                return Err(Error::new(
                    ErrorKind::SizeMismatch,
                    format!("blob {want}: expected {want_size} bytes, received {size}"),
                ));
            }
            if &digest != want {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!("blob {want}: content has digest {digest}"),
                ));
            }
        }
        if let Some(refusal) = refusal {
            return Err(refusal);
        }
        file.sync_all()
            .map_err(|e| Error::io("cannot fsync", &self.temp, e))?;
        let _gc = lock::shared(&self.layout.gc_lock())?;
        let dest = self.layout.blob(&digest);
        let dir = dest.parent().expect("blob path has a parent");
        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        if dest.exists() {
            let _ = fs::remove_file(&self.temp);
        } else {
            fs::rename(&self.temp, &dest)
                .map_err(|e| Error::io("cannot commit blob to", &dest, e))?;
            sync_dir(dir)?;
        }
        drop(file);
        if let Some(lease) = &self.lease {
            crate::lease::add_to_lease(&self.layout, lease, std::slice::from_ref(&digest))?;
        }
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .as_mut()
            .expect("writer present until commit")
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner
            .as_mut()
            .expect("writer present until commit")
            .flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After a successful commit the temp path no longer exists; otherwise discard it.
        let _ = fs::remove_file(&self.temp);
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("cannot fsync directory", dir, e))
}

/// A reader that checks size and digest when the stream ends, failing the final read with
/// `InvalidData` on a mismatch, so a consumer never silently accepts corrupt content.
pub struct VerifyingReader<R> {
    inner: R,
    digester: Option<Digester>,
    expected: Digest,
    expected_size: u64,
    read: u64,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest, expected_size: u64) -> Self {
        VerifyingReader {
            inner,
            digester: Some(Digester::new(expected.algorithm())),
            expected,
            expected_size,
            read: 0,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.expected_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {}: more than the expected {} bytes",
                    self.expected, self.expected_size
                ),
            ));
        }
        if n > 0 {
            if let Some(d) = self.digester.as_mut() {
                d.update(&buf[..n]);
            }
            return Ok(n);
        }
        if let Some(d) = self.digester.take() {
            if self.read != self.expected_size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "blob {}: expected {} bytes, stream ended after {}",
                        self.expected, self.expected_size, self.read
                    ),
                ));
            }
            let actual = d.finish();
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("blob {}: content has digest {actual}", self.expected),
                ));
            }
        }
        Ok(0)
    }
}

impl Store {
    /// Start writing a blob. With `expected`, commit fails unless the content has exactly
    /// that digest and size.
    pub fn writer(&self, expected: Option<(Digest, u64)>) -> Result<BlobWriter> {
        BlobWriter::new(self, expected)
    }

    /// Store `data` and return its sha256 digest.
    pub fn put_bytes(&self, data: &[u8]) -> Result<Digest> {
        let d = Digest::sha256_of(data);
        if self.has_blob(&d) {
            return Ok(d);
        }
        let mut w = self.writer(Some((d.clone(), data.len() as u64)))?;
        w.write_all(data)
            .map_err(|e| Error::io("cannot write", &w.temp, e))?;
        Ok(w.commit()?.0)
    }

    /// Store `data` and add its digest to `lease` (also when the blob already existed), so
    /// garbage collection cannot sweep it before the caller records an image.
    pub fn put_bytes_leased(&self, data: &[u8], lease: &str) -> Result<Digest> {
        let d = Digest::sha256_of(data);
        let mut w = self
            .writer(Some((d.clone(), data.len() as u64)))?
            .with_lease(lease);
        w.write_all(data)
            .map_err(|e| Error::io("cannot write", &w.temp, e))?;
        Ok(w.commit()?.0)
    }

    /// Store `data` that must have digest `expected`; a mismatch is rejected and nothing is stored.
    pub fn put_verified(&self, expected: &Digest, data: &[u8]) -> Result<()> {
        if self.has_blob(expected) {
            return Ok(());
        }
        let mut w = self.writer(Some((expected.clone(), data.len() as u64)))?;
        w.write_all(data)
            .map_err(|e| Error::io("cannot write", &w.temp, e))?;
        w.commit().map(|_| ())
    }

    /// Whether the blob is present: committed, or derived from a snapshot.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.layout.blob(digest).is_file() || self.derived(digest).is_some()
    }

    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        let p = self.layout.blob(digest);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) => match self.derived(digest) {
                Some(rec) => Ok(rec.size),
                None => Err(blob_err(digest, &p, e)),
            },
        }
    }

    /// Path of a committed blob, for zero-copy use (e.g. `copy_file_range`, mmap). Callers
    /// must not modify the file. A derived blob is written out first. Errors if the blob is
    /// absent.
    pub fn blob_path(&self, digest: &Digest) -> Result<PathBuf> {
        let p = self.layout.blob(digest);
        if p.is_file() {
            return Ok(p);
        }
        if let Some(rec) = self.derived(digest) {
            self.materialize_derived(digest, &rec)?;
            return Ok(p);
        }
        Err(Error::not_found(format!(
            "blob {digest} not found in {}",
            self.layout.blobs().display()
        )))
    }

    /// Open a blob for streaming; the reader verifies digest and size at end of stream.
    pub fn open_blob(&self, digest: &Digest) -> Result<VerifyingReader<BlobSource>> {
        let p = self.layout.blob(digest);
        let f = match File::open(&p) {
            Ok(f) => f,
            Err(e) => {
                let Some(rec) = self.derived(digest) else {
                    return Err(blob_err(digest, &p, e));
                };
                let source = BlobSource::Regenerated(self.stream_derived(digest, &rec)?);
                return Ok(VerifyingReader::new(source, digest.clone(), rec.size));
            }
        };
        let size = f
            .metadata()
            .map_err(|e| Error::io("cannot stat", &p, e))?
            .len();
        Ok(VerifyingReader::new(
            BlobSource::File(f),
            digest.clone(),
            size,
        ))
    }

    /// Read a whole (small) blob and verify its digest.
    pub fn read_blob_verified(&self, digest: &Digest) -> Result<Vec<u8>> {
        let p = self.layout.blob(digest);
        let data = match fs::read(&p) {
            Ok(data) => data,
            Err(e) if self.derived(digest).is_none() => return Err(blob_err(digest, &p, e)),
            Err(_) => {
                let mut data = Vec::new();
                self.open_blob(digest)?
                    .read_to_end(&mut data)
                    .map_err(|e| Error::new(ErrorKind::Corrupt, e.to_string()))?;
                data
            }
        };
        let actual = digest.of_same_algorithm(&data);
        if &actual != digest {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "blob {digest} at {} is corrupt: content has digest {actual}",
                    p.display()
                ),
            ));
        }
        Ok(data)
    }

    /// Every blob digest, committed or derived (unordered).
    pub fn list_blobs(&self) -> Result<Vec<Digest>> {
        let mut out = list_digest_dirs(&self.layout.blobs())?;
        // Derived blobs whose snapshot is present count as blobs too.
        for d in self.list_derived()? {
            if !self.layout.blob(&d).is_file() && self.derived(&d).is_some() {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Delete ingest files no live writer holds and that are older than `min_age`.
    /// Returns how many were removed.
    pub fn clean_ingest(&self, min_age: Duration) -> Result<usize> {
        let dir = self.layout.ingest();
        let mut removed = 0;
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io("cannot list", &dir, e)),
        };
        let now = SystemTime::now();
        for entry in rd.flatten() {
            let path = entry.path();
            let Ok(f) = OpenOptions::new().write(true).open(&path) else {
                continue;
            };
            let old = f
                .metadata()
                .and_then(|m| m.modified())
                .map(|m| now.duration_since(m).unwrap_or_default() >= min_age)
                .unwrap_or(false);
            if old && f.try_lock().is_ok() && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The digests named by the files of `root/<alg>/` (`blobs/`, `derived/`); other names are
/// skipped.
pub(crate) fn list_digest_dirs(root: &Path) -> Result<Vec<Digest>> {
    let mut out = Vec::new();
    for alg in ["sha256", "sha512"] {
        let dir = root.join(alg);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("cannot list", &dir, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("cannot list", &dir, e))?;
            let name = entry.file_name();
            if let Ok(d) = Digest::parse(&format!("{alg}:{}", name.to_string_lossy())) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

fn blob_err(digest: &Digest, path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        Error::not_found(format!("blob {digest} not found ({})", path.display()))
    } else {
        Error::io(&format!("cannot read blob {digest} at"), path, e)
    }
}
