//! One module per command group; each exposes clap arguments and a `run` function.

pub mod about;
pub mod archive_common;
pub mod build;
pub mod builder;
pub mod completion;
pub mod copy;
pub mod debug;
pub mod export;
pub mod history;
pub mod images;
pub mod import;
pub mod import_changes;
pub mod inspect;
pub mod inspect_model;
pub mod load;
pub mod login;
pub mod manifest;
pub mod prune;
pub mod pull;
pub mod push;
pub mod registry;
pub mod rmi;
pub mod save;
pub mod system;
pub mod tag;
