//! The single error type of `strata-distribution`, with a kind callers branch on.

use std::fmt;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The registry refused our credentials or wants some (HTTP 401).
    Unauthorized,
    /// Authenticated, but not allowed (HTTP 403).
    Denied,
    /// The repository, manifest, tag or blob does not exist.
    NotFound,
    /// Received content does not hash to the digest it was asked for.
    DigestMismatch,
    /// Received content does not have the announced size.
    SizeMismatch,
    /// A document or media type strata will not handle (too large, unknown type).
    Unsupported,
    /// A reference, option or document is malformed.
    InvalidInput,
    /// The registry answered something the protocol does not allow.
    Protocol,
    /// Connection, TLS or timeout failure after retries.
    Transport,
    /// Docker's config.json or a credential helper failed.
    Credentials,
    /// The local store failed.
    Store,
    /// A local file or process failed.
    Io,
}

/// The single error type of `strata-distribution`.
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

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub(crate) fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, format!("{what}: {err}")).with_source(err)
    }

    pub(crate) fn store(what: impl fmt::Display, err: strata_store::Error) -> Self {
        let kind = match err.kind {
            strata_store::ErrorKind::DigestMismatch => ErrorKind::DigestMismatch,
            strata_store::ErrorKind::SizeMismatch => ErrorKind::SizeMismatch,
            strata_store::ErrorKind::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Store,
        };
        Error::new(kind, format!("{what}: {}", err.message)).with_source(err)
    }

    pub(crate) fn transport(what: impl fmt::Display, err: reqwest::Error) -> Self {
        // reqwest's Display omits the cause chain (connection refused, tls details).
        let mut msg = format!("{what}: {err}");
        let mut src = std::error::Error::source(&err);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        Error::new(ErrorKind::Transport, msg).with_source(err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<strata_oci::Error> for Error {
    fn from(e: strata_oci::Error) -> Self {
        let kind = match e.kind {
            strata_oci::ErrorKind::DigestMismatch => ErrorKind::DigestMismatch,
            strata_oci::ErrorKind::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        };
        Error::new(kind, e.message.clone()).with_source(e)
    }
}
