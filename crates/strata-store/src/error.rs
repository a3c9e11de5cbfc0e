//! The single error type of `strata-store`, with a kind callers branch on.

use std::path::Path;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A blob, image, tag, lease or record does not exist.
    NotFound,
    /// Content did not hash to the expected digest.
    DigestMismatch,
    /// Content did not have the expected size.
    SizeMismatch,
    /// An image ID prefix matches more than one image.
    Ambiguous,
    /// The operation conflicts with the store's state (e.g. an image ID with several tags).
    Conflict,
    /// A document, reference or argument is malformed.
    InvalidInput,
    /// The store holds something it cannot interpret (corrupt database row, bad layout).
    Corrupt,
    /// Requested feature is not implemented.
    Unsupported,
    /// Underlying file system failure.
    Io,
    /// Metadata database failure.
    Database,
    /// Unpacking a layer failed.
    Layer,
}

/// The single error type of `strata-store`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An I/O error naming what was being done and the path it was done to.
    pub fn io(what: &str, path: &Path, err: std::io::Error) -> Self {
        Error {
            kind: if err.kind() == std::io::ErrorKind::NotFound {
                ErrorKind::NotFound
            } else {
                ErrorKind::Io
            },
            message: format!("{what} {}: {err}", path.display()),
            source: Some(Box::new(err)),
        }
    }

    pub(crate) fn db(what: &str, err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error {
            kind: ErrorKind::Database,
            message: format!("metadata database: {what}: {err}"),
            source: Some(Box::new(err)),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

impl From<strata_oci::Error> for Error {
    fn from(err: strata_oci::Error) -> Self {
        let kind = match err.kind {
            strata_oci::ErrorKind::DigestMismatch => ErrorKind::DigestMismatch,
            strata_oci::ErrorKind::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        };
        Error {
            kind,
            message: err.message.clone(),
            source: Some(Box::new(err)),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
