//! The registry client of strata: authentication, pull, push, copy and progress.
//!
//! - [`Client`] ([`client`]): one HTTP client per command; TLS with system roots plus
//!   configured CAs, insecure registries, plain http fallback for loopback hosts, retries
//!   with backoff on 5xx and broken connections, and the auth flow of [`auth`] (basic,
//!   bearer tokens from `WWW-Authenticate` challenges, a token cache per scope).
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
//! `oci-client` (0.15) was the starting point, and three of its properties rule it out:
//! its blob pull API writes into an `AsyncWrite` from offset zero with no way to continue
//! a broken transfer with a `Range` request; its push API takes layers as in-memory
//! `Vec<u8>` (`ImageLayer::data`), so pushing a multi-GB image holds it all in RAM and
//! cannot compress on the fly; and it has no cross-repository mount with the 202
//! fallback. Its manifest types also re-serialise documents, while strata must keep the
//! exact bytes. The distribution API needed here is small (about ten endpoints), so this
//! crate speaks it directly on reqwest 0.13 with rustls, streaming every blob through
//! the store's verified writer or from its verified reader.

pub mod auth;
pub mod client;
pub mod copy;
pub mod credentials;
pub mod error;
pub mod progress;
pub mod pull;
pub mod push;
pub mod registry;
pub mod transfer;

pub use client::{Client, ClientOptions};
pub use credentials::{Credential, DockerConfig};
pub use error::{Error, ErrorKind, Result};
pub use progress::{NoProgress, Outcome, Progress};
pub use pull::{pull, PullOptions, Pulled};
pub use push::{push, PushOptions, Pushed};
pub use registry::{Repository, UploadStart, MANIFEST_LIMIT};
pub use transfer::UploadOptions;
