//! The one error type of strata-scan.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be read, or holds something that is not an OSV record.
    #[error("OSV database {0}")]
    Db(String),
    /// An ignore file could not be parsed.
    #[error("{0}")]
    IgnoreFile(String),
}

impl Error {
    pub(crate) fn db(path: &Path, detail: impl std::fmt::Display) -> Self {
        Error::Db(format!("{}: {detail}", path.display()))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
