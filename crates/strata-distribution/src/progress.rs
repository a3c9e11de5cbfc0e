//! Transfer progress events. The library reports; the CLI draws bars or prints lines.

use strata_oci::Digest;

/// How a blob transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Bytes were moved.
    Transferred,
    /// The destination already had the blob.
    Exists,
    /// The registry mounted it from another repository.
    Mounted,
}

/// Receives progress of blob transfers. Called from several tasks at once.
pub trait Progress: Send + Sync {
    /// A transfer of `total` bytes (0 when unknown) starts.
    fn start(&self, _digest: &Digest, _total: u64) {}
    /// `bytes` more were moved.
    fn advance(&self, _digest: &Digest, _bytes: u64) {}
    /// A resumed transfer restarts counting at `offset`.
    fn resumed(&self, _digest: &Digest, _offset: u64) {}
    /// The transfer finished.
    fn finish(&self, _digest: &Digest, _outcome: Outcome) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
