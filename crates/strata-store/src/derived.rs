//! Derived blobs: uncompressed layer tars the store regenerates from a snapshot instead of
//! keeping their bytes.
//!
//! A layer a build produces is, byte for byte, its snapshot directory written by
//! strata-layer's deterministic tar writer. Keeping both the snapshot (needed as an overlay
//! lowerdir by later steps) and the tar would write every built byte twice, so the store
//! keeps the snapshot and a small record per layer:
//!
//! ```text
//! derived/<alg>/<hex>   JSON: {"format": "strata-tar-v1", "chain_id", "form", "size",
//!                              "source_date_epoch"}
//! ```
//!
//! Readers see an ordinary blob: [`Store::open_blob`] streams the regenerated tar (verified
//! against the digest like any blob), [`Store::blob_path`] writes it out once when a caller
//! needs a file. Garbage collection keeps a derived blob's snapshot alive while the blob is
//! reachable. `format` names the tar writer's output rules; a writer whose output changes
//! must get a new format name, and records of an unknown format are refused, never guessed.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use strata_oci::{Algorithm, Digest, DigestWriter};

use crate::error::{Error, ErrorKind, Result};
use crate::Store;

/// The tar writer's output rules this version of strata reproduces.
pub const DERIVED_TAR_FORMAT: &str = "strata-tar-v1";

/// How a snapshot directory is laid out, which decides how it is written as a tar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotForm {
    /// Plain files: everything in it is the layer (COPY, ADD, WORKDIR).
    Tree,
    /// An overlayfs upper dir: 0/0 character devices and opaque xattrs are whiteouts (RUN).
    OverlayUpper,
}

/// Everything needed to regenerate a layer tar from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedRecord {
    pub format: String,
    pub chain_id: Digest,
    pub form: SnapshotForm,
    pub size: u64,
    pub source_date_epoch: Option<i64>,
}

/// Write `dir` as the layer tar of `form` onto `out`: the one definition of a derived blob's
/// bytes, used both when a build hashes a new layer and when the store regenerates it.
pub fn write_snapshot_tar<W: Write>(
    dir: &Path,
    form: SnapshotForm,
    source_date_epoch: Option<i64>,
    out: W,
) -> Result<()> {
    let opts = strata_layer::WriteOptions {
        source_date_epoch,
        ..strata_layer::WriteOptions::default()
    };
    let written = match form {
        SnapshotForm::Tree => strata_layer::write_tree(dir, out, &opts),
        SnapshotForm::OverlayUpper => strata_layer::write_overlay_diff(dir, out, &opts),
    };
    written.map(|_| ()).map_err(|e| {
        Error::new(
            ErrorKind::Layer,
            format!("cannot write {} as a layer: {e}", dir.display()),
        )
    })
}

/// sha256 digest and size of the layer tar `dir` makes, without storing it. Reading the
/// files and hashing run on two threads: each is about as costly as the other.
pub fn snapshot_tar_digest(
    dir: &Path,
    form: SnapshotForm,
    source_date_epoch: Option<i64>,
) -> Result<(Digest, u64)> {
    let (tx, rx) = mpsc::sync_channel::<std::result::Result<Vec<u8>, String>>(4);
    let hasher = std::thread::Builder::new()
        .name("layer-hash".into())
        .spawn(move || {
            let mut d = DigestWriter::new(io::sink(), Algorithm::Sha256);
            for chunk in rx.into_iter().flatten() {
                let _ = d.write_all(&chunk);
            }
            let (_, digest, size) = d.finish();
            (digest, size)
        })
        .map_err(|e| Error::io("cannot start the layer hasher for", dir, e))?;
    let mut w = ChunkWriter {
        tx,
        buf: Vec::with_capacity(CHUNK),
    };
    let written = write_snapshot_tar(dir, form, source_date_epoch, &mut w).and_then(|()| {
        w.flush()
            .map_err(|e| Error::io("cannot hash layer of", dir, e))
    });
    drop(w);
    let (digest, size) = hasher
        .join()
        .map_err(|_| Error::new(ErrorKind::Layer, "the layer hasher panicked"))?;
    written?;
    Ok((digest, size))
}

impl Store {
    fn derived_path(&self, digest: &Digest) -> PathBuf {
        self.layout
            .derived()
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// The record of a derived blob whose snapshot is present.
    pub(crate) fn derived(&self, digest: &Digest) -> Option<DerivedRecord> {
        let bytes = fs::read(self.derived_path(digest)).ok()?;
        let rec: DerivedRecord = serde_json::from_slice(&bytes).ok()?;
        self.layout.snapshot_complete(&rec.chain_id).then_some(rec)
    }

    /// Record that blob `digest` is the tar of the published snapshot `record.chain_id`.
    /// The caller has just written that snapshot and hashed it.
    pub(crate) fn record_derived(&self, digest: &Digest, record: &DerivedRecord) -> Result<()> {
        let path = self.derived_path(digest);
        let dir = path.parent().expect("derived path has a parent");
        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        let tmp = dir.join(format!(".tmp-{}", crate::layout::random_name()));
        let body = serde_json::to_vec(record)
            .map_err(|e| Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        let write = || -> io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io("cannot record derived blob", &path, e)
        })?;
        crate::content::sync_dir(dir)
    }

    /// Digests of every derived blob record (present snapshot or not).
    pub(crate) fn list_derived(&self) -> Result<Vec<Digest>> {
        crate::content::list_digest_dirs(&self.layout.derived())
    }

    /// Remove a derived blob's record (garbage collection).
    pub(crate) fn remove_derived(&self, digest: &Digest) -> Result<()> {
        let path = self.derived_path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::io("cannot remove", &path, e))
            }
            _ => Ok(()),
        }
    }

    /// Stream the regenerated tar of a derived blob. A writer thread produces it, holding
    /// the shared store lock so garbage collection cannot remove the snapshot meanwhile.
    pub(crate) fn stream_derived(
        &self,
        digest: &Digest,
        rec: &DerivedRecord,
    ) -> Result<ChunkReader> {
        if rec.format != DERIVED_TAR_FORMAT {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "blob {digest} is stored as a snapshot in format {:?}, which this strata \
                     cannot regenerate (it writes {DERIVED_TAR_FORMAT:?})",
                    rec.format
                ),
            ));
        }
        let guard = crate::lock::shared(&self.layout.gc_lock())?;
        let dir = self.layout.snapshot(&rec.chain_id).join("fs");
        let (tx, rx) = mpsc::sync_channel(4);
        let (form, sde) = (rec.form, rec.source_date_epoch);
        std::thread::Builder::new()
            .name("derived-blob".into())
            .spawn(move || {
                let _guard = guard;
                let mut w = ChunkWriter {
                    tx: tx.clone(),
                    buf: Vec::with_capacity(CHUNK),
                };
                let result = write_snapshot_tar(&dir, form, sde, &mut w).and_then(|()| {
                    w.flush()
                        .map_err(|e| Error::io("cannot stream layer of", &dir, e))
                });
                if let Err(e) = result {
                    let _ = tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| {
                Error::io(
                    "cannot start the layer writer for",
                    &self.layout.snapshots(),
                    e,
                )
            })?;
        Ok(ChunkReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        })
    }

    /// Write a derived blob's bytes into `blobs/` (for callers that need a file).
    pub(crate) fn materialize_derived(&self, digest: &Digest, rec: &DerivedRecord) -> Result<()> {
        let mut reader = self.stream_derived(digest, rec)?;
        let mut w = self.writer(Some((digest.clone(), rec.size)))?;
        io::copy(&mut reader, &mut w).map_err(|e| {
            Error::new(
                ErrorKind::Layer,
                format!("cannot regenerate blob {digest}: {e}"),
            )
        })?;
        w.commit().map(|_| ())
    }
}

const CHUNK: usize = 1 << 20;

struct ChunkWriter {
    tx: mpsc::SyncSender<std::result::Result<Vec<u8>, String>>,
    buf: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        // The reader hung up: stop producing.
        self.tx
            .send(Ok(full))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "blob reader closed"))
    }
}

/// The reading end of a regenerated blob.
pub struct ChunkReader {
    rx: mpsc::Receiver<std::result::Result<Vec<u8>, String>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(next)) => {
                    self.chunk = next;
                    self.pos = 0;
                }
                Ok(Err(msg)) => return Err(io::Error::other(msg)),
                // The writer finished: end of stream.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
