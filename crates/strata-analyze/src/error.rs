//! The crate's one error type.

use std::fmt;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A layer tar could not be read or holds an entry that cannot be placed.
    InvalidLayer,
    /// A `.dive-ci` file or rule value is malformed.
    InvalidConfig,
    /// Reading a stream failed.
    Io,
}

#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A layer that could not be read; `layer` names it (index and digest).
    pub fn layer(layer: &str, err: strata_layer::Error) -> Self {
        let kind = match err.kind() {
            strata_layer::ErrorKind::Io => ErrorKind::Io,
            _ => ErrorKind::InvalidLayer,
        };
        Error {
            kind,
            message: format!("{layer}: {err}"),
            source: None,
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidConfig, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
