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
//!
//! ```
//! use std::collections::BTreeMap;
//! use strata_dockerfile::scope::{resolve, ResolveOptions};
//! use strata_dockerfile::stages::StageGraph;
//!
//! let text = "ARG V=3.19\nFROM alpine:$V AS base\nFROM base\nCOPY --from=base /etc/os-release /\n";
//! let df = strata_dockerfile::parse(text, "Dockerfile").unwrap();
//! let args = BTreeMap::from([("V".to_string(), "3.20".to_string())]);
//! let resolved = resolve(&df, &ResolveOptions::new(args, None)).unwrap();
//! assert_eq!(resolved.stages[0].base, strata_dockerfile::scope::Base::Image("alpine:3.20".into()));
//! let graph = StageGraph::new(&df, &resolved).unwrap();
//! let target = graph.target(None).unwrap();
//! assert_eq!(graph.levels(target), vec![vec![0], vec![1]]);
//!
//! let err = strata_dockerfile::parse("FROM alpine\nCOPY --frm=x a b\n", "Dockerfile").unwrap_err();
//! assert_eq!(err.to_string(), "Dockerfile:2:6: unknown flag: --frm");
//! ```

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
pub use instructions::{instruction_from_node, parse};
pub use span::{Position, Span};
