//! The crate's error: a bad policy file or a layer that cannot be read.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy file is not valid; the message names the file and the problem.
    #[error("{0}")]
    Policy(String),
    /// A layer could not be read while scanning for secrets.
    #[error("layer {layer}: {message}")]
    Layer { layer: usize, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
