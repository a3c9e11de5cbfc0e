//! An OCI distribution registry server over a storage trait (filesystem, S3).
//!
//! Layers, top down:
//! - [`server`]: listener (plain or TLS), scheduled GC, graceful shutdown.
//! - [`routes`]: the distribution spec's HTTP endpoints, auth checks, metrics.
//! - [`registry`]: blobs, uploads, manifests, tags, referrers as storage operations.
//! - [`storage`]: the [`storage::Storage`] trait and its filesystem and S3 backends.
//!
//! Beside them: [`auth`] (htpasswd, token flow), [`gc`], [`retention`], [`notify`]
//! (webhooks), [`metrics`], [`config`].

pub mod auth;
pub mod config;
pub mod error;
pub mod fuzzing;
pub mod gc;
pub mod manifest;
pub mod metrics;
pub mod names;
pub mod notify;
pub mod registry;
pub mod retention;
pub mod routes;
pub mod server;
pub mod storage;

pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use registry::Registry;
pub use storage::Storage;
