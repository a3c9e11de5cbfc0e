//! The crate's single error type.
//!
//! Callers branch on [`ExecErrorKind`]; the message names the path, user, mount or runtime
//! involved. A process that runs and exits non-zero is *not* an error: it is reported through
//! [`crate::ExitStatusInfo`]. `ExecError` means the step could not be run as asked.

use std::path::Path;

/// What went wrong, for callers that react differently (e.g. "runtime missing" vs "bad spec").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecErrorKind {
    /// The spec asks for something malformed (empty args, bad user syntax, relative target...).
    InvalidSpec,
    /// The spec asks for something this executor does not implement.
    Unsupported,
    /// A user or group named in the spec is not in the root filesystem's passwd/group files.
    UserNotFound,
    /// The OCI runtime binary could not be found or started.
    RuntimeMissing,
    /// The OCI runtime itself failed (bad bundle, mount failure...), as opposed to the process.
    Runtime,
    /// Mounting or unmounting a filesystem failed.
    Mount,
    /// The run was cancelled through [`crate::RunIo::cancel`]; the container was killed.
    Cancelled,
    /// Any other filesystem or pipe failure.
    Io,
}

/// An error from preparing, running or cleaning up a step.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    kind: ExecErrorKind,
    message: String,
    #[source]
    source: Option<std::io::Error>,
}

impl ExecError {
    /// The category of this error.
    pub fn kind(&self) -> ExecErrorKind {
        self.kind
    }

    pub(crate) fn new(kind: ExecErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ExecErrorKind::InvalidSpec, message)
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ExecErrorKind::Unsupported, message)
    }

    /// An I/O failure on `path`, with `what` saying what was being done ("create bundle dir").
    pub(crate) fn io(what: &str, path: &Path, err: std::io::Error) -> Self {
        Self {
            kind: ExecErrorKind::Io,
            message: format!("{what} {}: {err}", path.display()),
            source: Some(err),
        }
    }

    pub(crate) fn mount(what: &str, path: &Path, err: std::io::Error) -> Self {
        Self {
            kind: ExecErrorKind::Mount,
            message: format!("{what} {}: {err}", path.display()),
            source: Some(err),
        }
    }

    pub(crate) fn with_kind_io(kind: ExecErrorKind, message: String, err: std::io::Error) -> Self {
        Self {
            kind,
            message,
            source: Some(err),
        }
    }
}

/// Convert a rustix errno into a std error so messages and sources are uniform.
pub(crate) fn errno(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}
