//! One module per command group; each exposes clap arguments and a `run` function.

pub mod debug;
pub mod registry;
pub mod archive_common;
pub mod import;
pub mod import_changes;
pub mod load;
pub mod save;
