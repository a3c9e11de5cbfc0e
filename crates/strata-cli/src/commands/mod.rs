//! One module per command group; each exposes clap arguments and a `run` function.

pub mod debug;
pub mod registry;
