//! Attachments: OCI 1.1 artifact manifests whose `subject` is an image manifest in this
//! store (SBOMs, signatures).
//!
//! Each is a row of the generic records table [`ATTACHMENTS_TABLE`]: key `<subject digest>
//! <artifact manifest digest>`, value the artifact's descriptor as JSON (media type, digest,
//! size, `artifactType`, annotations), which is what a referrers listing returns. The
//! artifact manifest and its blobs are ordinary blobs. Garbage collection treats an
//! attachment as a child of its subject: it lives exactly as long as the subject does.

use strata_oci::{Descriptor, Digest};

use crate::error::{Error, ErrorKind, Result};
use crate::Store;

/// Generic records table holding attachments.
pub const ATTACHMENTS_TABLE: &str = "attachments-v1";

fn key(subject: &Digest, artifact: &Digest) -> String {
    format!("{subject} {artifact}")
}

impl Store {
    /// Record the manifest `artifact` describes (already stored, with its blobs) as attached
    /// to `subject`. Idempotent.
    pub fn add_attachment(&self, subject: &Digest, artifact: &Descriptor) -> Result<()> {
        if !self.has_blob(subject) {
            return Err(Error::not_found(format!(
                "cannot attach {} to {subject}: the subject is not in the store",
                artifact.digest
            )));
        }
        if !self.has_blob(&artifact.digest) {
            return Err(Error::not_found(format!(
                "cannot attach {} to {subject}: the artifact manifest is not in the store",
                artifact.digest
            )));
        }
        let value = serde_json::to_vec(artifact).expect("descriptor serialises");
        self.put_record(ATTACHMENTS_TABLE, &key(subject, &artifact.digest), &value)
    }

    /// Descriptors of the manifests attached to `subject`, sorted by digest.
    pub fn attachments(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        let prefix = format!("{subject} ");
        let mut out = Vec::new();
        for (k, v) in self.list_records(ATTACHMENTS_TABLE)? {
            if k.starts_with(&prefix) {
                out.push(decode(&k, &v)?);
            }
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }

    /// Forget one attachment; returns whether it existed. Its blobs go at the next GC.
    pub fn remove_attachment(&self, subject: &Digest, artifact: &Digest) -> Result<bool> {
        self.delete_record(ATTACHMENTS_TABLE, &key(subject, artifact))
    }

    /// Every attachment as (subject, artifact manifest digest).
    pub(crate) fn attachment_edges(&self) -> Result<Vec<(Digest, Digest)>> {
        let mut out = Vec::new();
        for (k, _) in self.list_records(ATTACHMENTS_TABLE)? {
            let parsed = k
                .split_once(' ')
                .and_then(|(s, a)| Some((Digest::parse(s).ok()?, Digest::parse(a).ok()?)));
            match parsed {
                Some(edge) => out.push(edge),
                None => {
                    return Err(Error::new(
                        ErrorKind::Corrupt,
                        format!("attachment record {k:?} in the metadata database is malformed"),
                    ))
                }
            }
        }
        Ok(out)
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<Descriptor> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Corrupt,
            format!("attachment record {key} in the metadata database: {e}"),
        )
    })
}
