//! One image model over every transport, and attachments.
//!
//! Every command that reads an image (inspect, history, analyze, sbom, scan, verify, copy)
//! reads it through this crate, from wherever it lives, without importing it first:
//!
//! ```no_run
//! # fn main() -> Result<(), strata_image::Error> {
//! use std::io::Read;
//! let source: strata_image::ImageSource = "docker-archive:busybox.tar".parse()?;
//! let image = strata_image::open(&source, &strata_image::OpenOptions::new("/var/lib/strata"))?;
//! println!("{} {}", image.manifest_digest(), image.config().architecture);
//! for (i, layer) in image.layers().iter().enumerate() {
//!     let mut tar = image.open_layer(i)?; // uncompressed, checked against layer.diff_id
//!     std::io::copy(&mut tar, &mut std::io::sink()).unwrap();
//! }
//! # Ok(()) }
//! ```
//!
//! - [`ImageSource`] ([`source`]): skopeo's spellings (`docker-archive:`, `oci:`,
//!   `oci-archive:`, `docker://`, a local name).
//! - [`open`] → [`Image`] ([`image`]): the manifest (exact bytes), config, layers with
//!   diffIDs; layers and blobs stream verified. A multi-platform index gives the child for
//!   the requested or host platform.
//! - [`ContentRead`] / [`ContentWrite`] ([`content`]): the narrow interface each transport
//!   implements ([`transport`]); everything else is written once over it.
//! - [`attach`] ([`attach`](mod@attach)): OCI 1.1 referrers: attach an artifact to a
//!   subject, list the referrers of a digest by `artifactType`.
//! - [`copy`](mod@copy): an image from any source to any destination.

pub mod attach;
pub mod content;
pub mod copy;
pub mod error;
pub mod image;
pub mod layer;
pub mod source;
pub mod transport;

pub use attach::{attach, attach_manifest, read_attachment, reattach, referrers, ArtifactBlob};
pub use content::{ContentRead, ContentWrite};
pub use error::{Error, ErrorKind, Result};
pub use image::{open, Image, OpenOptions};
pub use layer::LayerInfo;
pub use source::ImageSource;
pub use transport::{open_read, open_write};
