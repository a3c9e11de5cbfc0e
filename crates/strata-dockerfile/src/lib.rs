//! Dockerfile frontend: parser to a spanned AST, directives, heredocs, word expansion,
//! ARG/ENV scoping, stage graph, .dockerignore.
//!
//! The pipeline:
//! 1. [`syntax::parse_syntax`] turns text into untyped nodes exactly as BuildKit's parser
//!    does (its dump format is reproduced by [`syntax::dump`]);
//! 2. [`parse`] validates those nodes into a [`Dockerfile`] of typed [`Instruction`]s with
//!    spans, typed flags and stages;
//! 3. [`stages::StageGraph`] answers which stages a target needs and which can run in
//!    parallel;
//! 4. [`scope::resolve`] expands words per stage with build args and platform, recording
//!    which args each step used.
//!
//! The crate does no I/O: callers hand it text.

pub mod ast;
pub mod dockerignore;
pub mod error;
pub mod instructions;
pub mod scope;
pub mod shell;
pub mod span;
pub mod stages;
pub mod syntax;

pub use ast::*;
pub use error::{ErrorKind, ParseError};
pub use instructions::mount::MountSpec;
pub use instructions::parse;
pub use span::{Position, Span};
