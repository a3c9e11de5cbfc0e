//! The builder's error type: what failed, where in the Dockerfile, and the command's output.

use std::fmt;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildErrorKind {
    /// The Dockerfile does not parse or resolve.
    Dockerfile,
    /// A base image, stage, file or secret does not exist.
    NotFound,
    /// A RUN step exited non-zero.
    StepFailed,
    /// A flag, instruction option or output type strata does not implement yet.
    Unsupported,
    /// The store, a layer or the runtime failed.
    Internal,
}

/// A build failure, rendered with its Dockerfile location when it has one.
#[derive(Debug, Clone)]
pub struct BuildError {
    pub kind: BuildErrorKind,
    pub message: String,
    /// `Dockerfile:12` plus the source line and a caret, when known.
    pub location: Option<String>,
    /// The last lines of a failed command's output.
    pub output_tail: Vec<String>,
}

impl BuildError {
    pub fn new(kind: BuildErrorKind, message: impl Into<String>) -> Self {
        BuildError {
            kind,
            message: message.into(),
            location: None,
            output_tail: Vec::new(),
        }
    }

    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(BuildErrorKind::Internal, message.to_string())
    }

    pub fn unsupported(what: impl fmt::Display) -> Self {
        Self::new(
            BuildErrorKind::Unsupported,
            format!("{what} is not supported yet"),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(BuildErrorKind::NotFound, message)
    }

    /// Attach the Dockerfile location (file, line, source text with a caret).
    pub fn at(mut self, location: String) -> Self {
        if self.location.is_none() {
            self.location = Some(location);
        }
        self
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.output_tail.is_empty() {
            f.write_str("\n------\n")?;
            for l in &self.output_tail {
                writeln!(f, " > {l}")?;
            }
            f.write_str("------")?;
        }
        if let Some(loc) = &self.location {
            write!(f, "\n{loc}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

macro_rules! from_internal {
    ($($t:ty),*) => {$(
        impl From<$t> for BuildError {
            fn from(e: $t) -> Self {
                BuildError::internal(e)
            }
        }
    )*};
}
from_internal!(
    strata_store::Error,
    strata_layer::Error,
    std::io::Error,
    strata_exec::ExecError
);

impl From<crate::context::ContextError> for BuildError {
    fn from(e: crate::context::ContextError) -> Self {
        BuildError::new(BuildErrorKind::NotFound, e.to_string())
    }
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;
