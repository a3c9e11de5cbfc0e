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

/// One inconsistency found by [`Store::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong (blob, tag, image, snapshot, lease, ingest).
    pub subject: String,
    pub message: String,
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

fn drain(r: &mut impl io::Read) -> io::Result<()> {
    io::copy(r, &mut io::sink()).map(|_| ())
}

impl Store {
    /// Verify the whole store. Also removes ingest files left by dead writers (any age).
    /// An empty list means the store is consistent.
    pub fn check(&self) -> Result<Vec<Problem>> {
        let mut problems = Vec::new();
        let mut p = |subject: String, message: String| problems.push(Problem { subject, message });
        self.clean_ingest(std::time::Duration::ZERO)?;

        for d in self.list_blobs()? {
            let path = self.layout.blob(&d);
            if !path.is_file() {
                // Derived: regenerate it from its snapshot; the reader checks digest and size.
                if let Err(e) = self.open_blob(&d).and_then(|mut r| {
                    drain(&mut r).map_err(|e| Error::io("cannot regenerate", &path, e))
                }) {
                    p(format!("blob {d}"), format!("derived from a snapshot: {e}"));
                }
                continue;
            }
            match hash_file(&path, &d) {
                Ok((actual, _)) if actual != d => p(
                    format!("blob {d}"),
                    format!("content at {} has digest {actual}", path.display()),
                ),
                Ok(_) => {}
                Err(e) => p(format!("blob {d}"), e.to_string()),
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
                    format!("tag {tag}"),
                    format!("points at {target}, which has no image record"),
                );
            }
        }
        for r in &records {
            let subject = format!("image {}", r.manifest_digest);
            match self.read_blob_verified(&r.manifest_digest) {
                Ok(bytes) if bytes.len() as u64 != r.manifest_size => p(
                    subject.clone(),
                    format!(
                        "manifest is {} bytes, record says {}",
                        bytes.len(),
                        r.manifest_size
                    ),
                ),
                Ok(_) => {}
                Err(e) => p(subject.clone(), format!("manifest: {e}")),
            }
            let blobs = std::iter::once((&r.config_digest, r.config_size))
                .chain(r.layers.iter().map(|l| (&l.digest, l.size)));
            for (d, size) in blobs {
                match self.blob_size(d) {
                    Ok(n) if n != size => p(
                        subject.clone(),
                        format!("blob {d} is {n} bytes, manifest says {size}"),
                    ),
                    Ok(_) => {}
                    Err(_) => p(subject.clone(), format!("blob {d} is missing")),
                }
            }
        }
        for s in self.list_snapshots()? {
            let subject = format!("snapshot {}", s.chain_id);
            if !s.fs_path.is_dir() {
                p(
                    subject.clone(),
                    format!("{} is missing", s.fs_path.display()),
                );
            }
            let diffid = s.fs_path.with_file_name("diffid");
            match fs::read_to_string(&diffid) {
                Ok(text) if Digest::parse(text.trim()).is_ok() => {}
                Ok(text) => p(
                    subject,
                    format!("{} holds {text:?}, not a digest", diffid.display()),
                ),
                Err(e) => p(subject, format!("cannot read {}: {e}", diffid.display())),
            }
        }
        Ok(problems)
    }
}
