//! Consistency check for `strata system check`: every blob hashes to its name, every tag
//! points at an image record, every record's manifest, config and layers exist and agree,
//! snapshots are complete.

use std::fmt;
use std::fs;
use std::io;

use strata_oci::{Digest, Digester};

use crate::error::{Error, Result};
use crate::images::read_records;
use crate::{meta, Store};

/// What kind of thing a [`Problem`] is about; callers pick their advice by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A blob whose content does not hash to its name, or cannot be read or regenerated.
    Blob,
    /// A tag pointing at no image record.
    Tag,
    /// An image record whose manifest, config or layers are missing or disagree.
    Image,
    /// A complete snapshot whose metadata is damaged.
    Snapshot,
    /// A snapshot directory without its completion marker (an interrupted deletion or a
    /// store written by an older strata). Never used; [`Store::repair`] removes it.
    IncompleteSnapshot,
}

/// One inconsistency found by [`Store::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// What is wrong (blob, tag, image, snapshot).
    pub subject: String,
    pub message: String,
}

impl Problem {
    /// Whether [`Store::repair`] fixes this problem.
    pub fn repairable(&self) -> bool {
        self.kind == ProblemKind::IncompleteSnapshot
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

fn hash_file(path: &std::path::Path, d: &Digest) -> Result<(Digest, u64)> {
    let mut f = fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut h = Digester::new(d.algorithm());
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = io::Read::read(&mut f, &mut buf).map_err(|e| Error::io("cannot read", path, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((h.finish(), n))
}

/// Entries (files, directories, links) under `dir`, 0 if absent.
fn count_entries(dir: &std::path::Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| {
            1 + if e.file_type().is_ok_and(|t| t.is_dir()) {
                count_entries(&e.path())
            } else {
                0
            }
        })
        .sum()
}

fn drain(r: &mut impl io::Read) -> io::Result<()> {
    io::copy(r, &mut io::sink()).map(|_| ())
}

impl Store {
    /// Verify the whole store. Also removes ingest files left by dead writers (any age).
    /// An empty list means the store is consistent.
    pub fn check(&self) -> Result<Vec<Problem>> {
        let mut problems = Vec::new();
        let mut p = |kind: ProblemKind, subject: String, message: String| {
            problems.push(Problem {
                kind,
                subject,
                message,
            })
        };
        self.clean_ingest(std::time::Duration::ZERO)?;

        for d in self.list_blobs()? {
            let path = self.layout.blob(&d);
            if !path.is_file() {
                // Derived: regenerate it from its snapshot; the reader checks digest and size.
                if let Err(e) = self.open_blob(&d).and_then(|mut r| {
                    drain(&mut r).map_err(|e| Error::io("cannot regenerate", &path, e))
                }) {
                    p(
                        ProblemKind::Blob,
                        format!("blob {d}"),
                        format!("derived from a snapshot: {e}"),
                    );
                }
                continue;
            }
            match hash_file(&path, &d) {
                Ok((actual, _)) if actual != d => p(
                    ProblemKind::Blob,
                    format!("blob {d}"),
                    format!("content at {} has digest {actual}", path.display()),
                ),
                Ok(_) => {}
                Err(e) => p(ProblemKind::Blob, format!("blob {d}"), e.to_string()),
            }
        }

        let (records, tags) = meta::read(&self.layout, |txn| {
            Ok((read_records(txn)?, meta::read_tags(txn)?))
        })?;
        for (tag, target) in &tags {
            if !records
                .iter()
                .any(|r| r.manifest_digest.to_string() == *target)
            {
                p(
                    ProblemKind::Tag,
                    format!("tag {tag}"),
                    format!("points at {target}, which has no image record"),
                );
            }
        }
        for r in &records {
            let subject = format!("image {}", r.manifest_digest);
            match self.read_blob_verified(&r.manifest_digest) {
                Ok(bytes) if bytes.len() as u64 != r.manifest_size => p(
                    ProblemKind::Image,
                    subject.clone(),
                    format!(
                        "manifest is {} bytes, record says {}",
                        bytes.len(),
                        r.manifest_size
                    ),
                ),
                Ok(_) => {}
                Err(e) => p(
                    ProblemKind::Image,
                    subject.clone(),
                    format!("manifest: {e}"),
                ),
            }
            let blobs = std::iter::once((&r.config_digest, r.config_size))
                .chain(r.layers.iter().map(|l| (&l.digest, l.size)));
            for (d, size) in blobs {
                match self.blob_size(d) {
                    Ok(n) if n != size => p(
                        ProblemKind::Image,
                        subject.clone(),
                        format!("blob {d} is {n} bytes, manifest says {size}"),
                    ),
                    Ok(_) => {}
                    Err(_) => p(
                        ProblemKind::Image,
                        subject.clone(),
                        format!("blob {d} is missing"),
                    ),
                }
            }
        }
        for s in self.list_snapshots()? {
            let subject = format!("snapshot {}", s.chain_id);
            let diffid = s.fs_path.with_file_name("diffid");
            match fs::read_to_string(&diffid) {
                Ok(text) if Digest::parse(text.trim()).is_ok() => {}
                Ok(text) => p(
                    ProblemKind::Snapshot,
                    subject,
                    format!("{} holds {text:?}, not a digest", diffid.display()),
                ),
                Err(e) => p(
                    ProblemKind::Snapshot,
                    subject,
                    format!("cannot read {}: {e}", diffid.display()),
                ),
            }
        }
        for chain_id in self.incomplete_snapshots()? {
            let dir = self.layout.snapshot(&chain_id);
            let users: Vec<String> = records
                .iter()
                .filter(|r| r.chain_ids().contains(&chain_id))
                .map(|r| r.manifest_digest.to_string())
                .collect();
            let used_by = if users.is_empty() {
                "no image uses it".to_owned()
            } else {
                format!(
                    "images {} unpack it again from their layer when next used",
                    users.join(", ")
                )
            };
            p(
                ProblemKind::IncompleteSnapshot,
                format!("snapshot {chain_id}"),
                format!(
                    "{} is incomplete (no completion marker, {} files left: an interrupted \
                     deletion or unpack); it is never used, {used_by}",
                    dir.display(),
                    count_entries(&dir.join("fs")),
                ),
            );
        }
        Ok(problems)
    }
}

impl Store {
    /// Fix what [`Problem::repairable`] problems [`Store::check`] reports: remove snapshot
    /// directories without their completion marker (renamed aside, then deleted) and the
    /// leftovers of interrupted deletions. Runs under the exclusive store lock, like garbage
    /// collection. Returns the problems it fixed.
    pub fn repair(&self) -> Result<Vec<Problem>> {
        let _gc = crate::lock::exclusive(&self.layout.gc_lock())?;
        let snapshots = self.layout.snapshots();
        let mut fixed = Vec::new();
        for chain_id in self.incomplete_snapshots()? {
            let dir = self.layout.snapshot(&chain_id);
            let left = count_entries(&dir.join("fs"));
            crate::snapshot::delete_snapshot_dir(&snapshots, &dir)?;
            fixed.push(Problem {
                kind: ProblemKind::IncompleteSnapshot,
                subject: format!("snapshot {chain_id}"),
                message: format!("removed incomplete {} ({left} files left)", dir.display()),
            });
        }
        if let Ok(rd) = fs::read_dir(&snapshots) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(".del-") {
                    crate::snapshot::remove_tree(&e.path())?;
                }
            }
        }
        Ok(fixed)
    }
}
