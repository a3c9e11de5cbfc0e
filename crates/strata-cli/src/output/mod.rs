//! Output formatting shared by the image commands: docker-style tables, `--format`
//! Go templates, human sizes and "2 hours ago" times.

pub mod format;
pub mod go_value;
pub mod human;
pub mod table;
pub mod template;

pub use format::Formatter;
pub use go_value::{Field, GoValue};
pub use human::{created_at, created_since, human_size, human_size_prec};
