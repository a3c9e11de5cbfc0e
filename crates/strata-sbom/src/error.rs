//! The one error type of strata-sbom.

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A layer stream could not be read or is not a valid tar.
    InvalidLayer,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn layer(diff_id: &str, detail: impl std::fmt::Display) -> Self {
        Error {
            kind: ErrorKind::InvalidLayer,
            message: format!("layer {diff_id}: {detail}"),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
