//! The single error type of `strata-layer`, with a [`ErrorKind`] callers can branch on.

use std::io;
use std::path::PathBuf;

use strata_oci::Digest;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A tar entry (or hard-link target) would land outside the root.
    PathEscape,
    /// A filesystem or stream operation failed.
    Io,
    /// The tar stream or one of its entries is malformed.
    InvalidTar,
    /// Something strata does not implement (an entry type, an overlay feature, a compression).
    Unsupported,
    /// The operation needs a privilege this process lacks (device nodes, chown).
    NotPermitted,
    /// The unpacked tar's sha256 is not the expected diffID.
    DigestMismatch,
}

/// The error type of every fallible function in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tar entry {entry:?} escapes the root: {reason}")]
    PathEscape { entry: String, reason: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("invalid tar entry {entry:?}: {message}")]
    InvalidTar { entry: String, message: String },

    #[error("unsupported: {what}")]
    Unsupported { what: String },

    #[error("not permitted: {entry:?}: {message}")]
    NotPermitted { entry: String, message: String },

    #[error("layer diffID mismatch: expected {expected}, the tar has {actual}")]
    DiffIdMismatch { expected: Digest, actual: Digest },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::PathEscape { .. } => ErrorKind::PathEscape,
            Error::Io { .. } => ErrorKind::Io,
            Error::InvalidTar { .. } => ErrorKind::InvalidTar,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::NotPermitted { .. } => ErrorKind::NotPermitted,
            Error::DiffIdMismatch { .. } => ErrorKind::DigestMismatch,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn escape(entry: &[u8], reason: impl Into<String>) -> Self {
        Error::PathEscape {
            entry: display_name(entry),
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(entry: &[u8], message: impl Into<String>) -> Self {
        Error::InvalidTar {
            entry: display_name(entry),
            message: message.into(),
        }
    }
}

/// A printable form of a (possibly non-UTF-8, possibly huge) entry name: hostile tars can
/// carry megabyte-long names, which would otherwise flood every log line.
pub(crate) fn display_name(name: &[u8]) -> String {
    const MAX: usize = 256;
    let s = String::from_utf8_lossy(name);
    if s.len() <= MAX {
        s.into_owned()
    } else {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}... ({} bytes)", &s[..cut], name.len())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
