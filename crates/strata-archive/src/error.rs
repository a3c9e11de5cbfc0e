//! The single error type of `strata-archive`, with a kind callers branch on.

use std::fmt;
use std::path::Path;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not a docker-archive or OCI layout, or one of its documents is malformed.
    Malformed,
    /// A file, blob or image the archive refers to is missing.
    NotFound,
    /// A blob's content does not match its digest or declared size.
    DigestMismatch,
    /// A format variant strata does not handle (legacy archives without manifest.json, ...).
    Unsupported,
    /// The request matches more than one image.
    Ambiguous,
    /// Reading or writing failed.
    Io,
    /// The blob store refused an operation.
    Store,
    /// A layer could not be applied or written.
    Layer,
}

/// The single error type of `strata-archive`.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Malformed, message)
    }

    /// An I/O error naming what was being done and, when known, the path involved.
    pub fn io(what: impl fmt::Display, path: Option<&Path>, err: std::io::Error) -> Self {
        let message = match path {
            Some(p) => format!("{what} {}: {err}", p.display()),
            None => format!("{what}: {err}"),
        };
        Error {
            kind: ErrorKind::Io,
            message,
            source: Some(Box::new(err)),
        }
    }

    /// Wrap an error from the blob store.
    pub fn store(
        what: impl fmt::Display,
        err: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error {
            kind: ErrorKind::Store,
            message: format!("{what}: {err}"),
            source: Some(Box::new(err)),
        }
    }

    pub(crate) fn with_source(
        mut self,
        err: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(err));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
