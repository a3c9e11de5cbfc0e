//! The single error type of `strata-image`, with a kind callers branch on.
//!
//! Messages name where the image was read from (`oci:/tmp/l:v1`, `docker://host/repo:tag`,
//! a store name), the reference and the digest involved.

use std::fmt;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The image, reference, manifest or blob does not exist at the source.
    NotFound,
    /// Content does not hash to (or has another size than) the digest that names it.
    DigestMismatch,
    /// A source string, reference, option or document is malformed.
    InvalidInput,
    /// A transport, media type or document shape strata does not handle.
    Unsupported,
    /// The reference matches several images (an archive holding more than one).
    Ambiguous,
    /// The registry wants credentials or refused them.
    Unauthorized,
    /// A local file, the store or the network failed.
    Io,
}

/// The single error type of `strata-image`.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    #[source]
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

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// The same error with `what` (a source, a reference) in front of the message.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub(crate) fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                ErrorKind::DigestMismatch
            }
            _ => ErrorKind::Io,
        };
        Error {
            kind,
            message: format!("{what}: {err}"),
            source: Some(Box::new(err)),
        }
    }

    fn wrap(
        kind: ErrorKind,
        message: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error {
            kind,
            message,
            source: Some(Box::new(source)),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<strata_oci::Error> for Error {
    fn from(e: strata_oci::Error) -> Self {
        use strata_oci::ErrorKind as K;
        let kind = match e.kind {
            K::DigestMismatch => ErrorKind::DigestMismatch,
            K::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        };
        Error::wrap(kind, e.message.clone(), e)
    }
}

impl From<strata_store::Error> for Error {
    fn from(e: strata_store::Error) -> Self {
        use strata_store::ErrorKind as K;
        let kind = match e.kind {
            K::NotFound => ErrorKind::NotFound,
            K::DigestMismatch | K::SizeMismatch | K::Corrupt => ErrorKind::DigestMismatch,
            K::Ambiguous => ErrorKind::Ambiguous,
            K::InvalidInput | K::Conflict => ErrorKind::InvalidInput,
            K::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::Io,
        };
        Error::wrap(kind, e.message.clone(), e)
    }
}

impl From<strata_archive::Error> for Error {
    fn from(e: strata_archive::Error) -> Self {
        use strata_archive::ErrorKind as K;
        let kind = match e.kind {
            K::NotFound => ErrorKind::NotFound,
            K::DigestMismatch => ErrorKind::DigestMismatch,
            K::Malformed => ErrorKind::InvalidInput,
            K::Unsupported => ErrorKind::Unsupported,
            K::Ambiguous => ErrorKind::Ambiguous,
            _ => ErrorKind::Io,
        };
        Error::wrap(kind, e.message.clone(), e)
    }
}

impl From<strata_distribution::Error> for Error {
    fn from(e: strata_distribution::Error) -> Self {
        use strata_distribution::ErrorKind as K;
        let kind = match e.kind {
            K::NotFound => ErrorKind::NotFound,
            K::DigestMismatch | K::SizeMismatch => ErrorKind::DigestMismatch,
            K::Unauthorized | K::Denied | K::Credentials => ErrorKind::Unauthorized,
            K::Unsupported => ErrorKind::Unsupported,
            K::InvalidInput | K::Protocol => ErrorKind::InvalidInput,
            _ => ErrorKind::Io,
        };
        Error::wrap(kind, e.message.clone(), e)
    }
}
