//! One error type for the crate, with a kind callers can branch on.

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A key file or payload that cannot be parsed.
    Malformed,
    /// A wrong password for an encrypted key.
    Decrypt,
    /// A key type or format strata does not support.
    Unsupported,
    /// A signature that does not verify, or a payload that names something else.
    Verification,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Malformed, message)
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unsupported, message)
    }

    pub(crate) fn verification(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Verification, message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
