//! The registry client of strata: authentication, pull, push, copy and progress.
//!
//! - [`Client`] ([`client`]): one HTTP client per command; TLS with system roots plus
//!   configured CAs, insecure registries, plain http fallback for loopback hosts, retries
//!   with backoff on 5xx and broken connections, and the auth flow of [`auth`] (basic,
//!   bearer tokens from `WWW-Authenticate` challenges, a token cache per scope).
//!   Credentials are bound to the registry's origin (scheme, host, port) or to the token
//!   realm that challenged; see `origin.rs`.
//! - [`limits`]: caps on every body read whole, a deadline on requests, a minimum rate on
//!   blob bodies, so a malicious registry cannot exhaust memory or hold a transfer.
//! - [`credentials`]: docker's `config.json` (`auths`, `credsStore`, `credHelpers`,
//!   `DOCKER_CONFIG`) and `docker-credential-*` helpers, read and written like docker.
//! - [`Repository`] ([`registry`]): the distribution API for one repository: manifests
//!   (4 MiB limit, media types checked, digests over received bytes), blobs, uploads
//!   (cross-repository mount with fallback), tags, referrers with the tag-schema fallback.
//! - [`pull()`] and [`push()`]: whole-image transfers between a registry and the local
//!   store, blobs in parallel, existing blobs skipped, downloads resumed with `Range`,
//!   uploads compressed on the fly. [`Progress`] receives per-blob events.
//! - [`copy`]: registry-to-registry copies (indexes included) that keep every digest.
//!
//! # Why a small client on reqwest rather than `oci-client`
//!
//! The decision was taken from `oci-client`'s API, not from a benchmark. Its whole-image
//! `push` takes layers as in-memory data (`ImageLayer`), so pushing strata's uncompressed
//! layers would mean compressing each one into RAM or a temporary file before upload,
//! while strata compresses on the fly into a streamed upload with memory bounded by a few
//! chunks. Its manifest types are re-serialised, while strata must keep and push the exact
//! bytes it received (digests); and downloads must go through the store's verified writer
//! with resume, retries and per-blob progress the way strata's store defines them. The
//! distribution API needed is small (about ten endpoints), so this crate speaks it
//! directly on reqwest 0.13 with rustls. (`oci-client` does offer ranged blob reads; that
//! was not the deciding factor.)

pub mod auth;
mod blob_file;
pub mod client;
pub mod copy;
pub mod credentials;
mod diff_id;
pub mod error;
pub mod limits;
mod origin;
pub mod progress;
pub mod pull;
pub mod push;
pub mod registry;
pub mod transfer;

pub use client::{Client, ClientOptions};
pub use credentials::{Credential, DockerConfig};
pub use error::{Error, ErrorKind, Result};
pub use limits::SMALL_BLOB_LIMIT;
pub use progress::{NoProgress, Outcome, Progress};
pub use pull::{pull, PullOptions, Pulled};
pub use push::{push, PushOptions, Pushed};
pub use registry::{Repository, UploadStart, MANIFEST_LIMIT};
pub use transfer::UploadOptions;
