//! The crate's error type and the kinds callers branch on.

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidDigest,
    InvalidReference,
    InvalidMediaType,
    InvalidPlatform,
    InvalidDocument,
    DigestMismatch,
    Unsupported,
}

/// The single error type of `strata-oci`. Messages are lowercase and name the offending
/// input (digest, reference, document field, platform string).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
}
