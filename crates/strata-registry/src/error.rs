//! The crate's single error type. Its [`ErrorKind`] mirrors the distribution spec's error
//! codes so the HTTP layer can map any failure to the right status and JSON body.

use std::fmt;

/// What went wrong, for callers to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    /// A manifest over the size limit (413).
    TooLarge,
    RangeInvalid,
    /// A listing's `n` is not a page size (400).
    PaginationNumberInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    /// A storage key does not exist (internal; routes translate it to a spec code).
    NotFound,
    /// The storage backend failed.
    Storage,
    /// Configuration is invalid.
    Config,
}

impl ErrorKind {
    /// The spec's error code string.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BlobUnknown => "BLOB_UNKNOWN",
            ErrorKind::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorKind::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorKind::DigestInvalid => "DIGEST_INVALID",
            ErrorKind::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorKind::ManifestInvalid => "MANIFEST_INVALID",
            ErrorKind::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorKind::NameInvalid => "NAME_INVALID",
            ErrorKind::NameUnknown => "NAME_UNKNOWN",
            ErrorKind::SizeInvalid | ErrorKind::TooLarge => "SIZE_INVALID",
            ErrorKind::RangeInvalid => "RANGE_INVALID",
            ErrorKind::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            ErrorKind::Unauthorized => "UNAUTHORIZED",
            ErrorKind::Denied => "DENIED",
            ErrorKind::Unsupported => "UNSUPPORTED",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::Storage | ErrorKind::Config => "UNKNOWN",
        }
    }

    /// The spec's one-line description of the code.
    pub fn description(self) -> &'static str {
        match self {
            ErrorKind::BlobUnknown => "blob unknown to registry",
            ErrorKind::BlobUploadInvalid => "blob upload invalid",
            ErrorKind::BlobUploadUnknown => "blob upload unknown to registry",
            ErrorKind::DigestInvalid => "provided digest did not match uploaded content",
            ErrorKind::ManifestBlobUnknown => {
                "manifest references a manifest or blob unknown to registry"
            }
            ErrorKind::ManifestInvalid => "manifest invalid",
            ErrorKind::ManifestUnknown => "manifest unknown to registry",
            ErrorKind::NameInvalid => "invalid repository name",
            ErrorKind::NameUnknown => "repository name not known to registry",
            ErrorKind::SizeInvalid => "provided length did not match content length",
            ErrorKind::TooLarge => "manifest too large",
            ErrorKind::RangeInvalid => "requested range not satisfiable",
            ErrorKind::PaginationNumberInvalid => "invalid number of results requested",
            ErrorKind::Unauthorized => "authentication required",
            ErrorKind::Denied => "requested access to the resource is denied",
            ErrorKind::Unsupported => "the operation is unsupported",
            ErrorKind::NotFound => "not found",
            ErrorKind::Storage | ErrorKind::Config => "internal error",
        }
    }

    /// The HTTP status the spec assigns to this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BlobUnknown
            | ErrorKind::BlobUploadUnknown
            | ErrorKind::ManifestUnknown
            | ErrorKind::NameUnknown
            | ErrorKind::NotFound => 404,
            ErrorKind::BlobUploadInvalid
            | ErrorKind::DigestInvalid
            | ErrorKind::ManifestBlobUnknown
            | ErrorKind::ManifestInvalid
            | ErrorKind::NameInvalid
            | ErrorKind::SizeInvalid
            | ErrorKind::PaginationNumberInvalid => 400,
            ErrorKind::RangeInvalid => 416,
            ErrorKind::TooLarge => 413,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Denied => 403,
            ErrorKind::Unsupported => 405,
            ErrorKind::Storage | ErrorKind::Config => 500,
        }
    }
}

/// A registry error: a kind plus a lowercase message naming the object involved.
#[derive(Debug, Clone, thiserror::Error)]
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

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Re-labels a storage `NotFound` with a spec code (e.g. `BLOB_UNKNOWN`). The storage
    /// message names internal paths, which clients must not see, so it is replaced by the
    /// spec's description of the code.
    pub fn or_kind(self, kind: ErrorKind) -> Self {
        if self.kind == ErrorKind::NotFound {
            Error {
                kind,
                message: kind.description().to_string(),
            }
        } else {
            self
        }
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Storage, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
