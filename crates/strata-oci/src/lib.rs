//! The OCI / Docker image data model as plain, validated data.
//!
//! Pure: no I/O beyond `std::io` streams. Every other strata crate speaks these types.
//!
//! - [`Digest`], [`MediaType`]: validated newtypes.
//! - [`Descriptor`], [`ImageManifest`], [`ImageIndex`], [`ImageConfig`]: spec documents as
//!   plain structs with public fields; unknown fields are preserved.
//! - [`RawManifest`], [`RawConfig`]: a parsed document together with the exact bytes it came
//!   from and the digest of those bytes (a digest is never taken over a re-serialisation).
//! - [`validate`]: structural checks per the OCI JSON schemas plus the spec's semantic rules.
//! - [`Reference`]: image references with docker.io normalisation.
//! - [`Platform`]: `os/arch/variant` with containerd's normalisation.
//! - [`chain_id`]: layer-stack identities.
//!
//! ```
//! use strata_oci::{media_type as mt, Descriptor, ImageManifest, RawManifest, Reference};
//!
//! let r = Reference::parse("ubuntu").unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/ubuntu:latest");
//! assert_eq!(r.familiar(), "ubuntu:latest");
//!
//! let m = ImageManifest::oci(
//!     Descriptor::of_bytes(mt::OCI_CONFIG, b"{}"),
//!     vec![Descriptor::of_bytes(mt::OCI_LAYER_GZIP, b"...")],
//! );
//! let bytes = serde_json::to_vec_pretty(&m).unwrap();
//! let raw = RawManifest::parse(bytes.clone(), None).unwrap();
//! assert_eq!(raw.digest, strata_oci::Digest::sha256_of(&bytes));
//! assert_eq!(raw.as_image(), Some(&m));
//! ```

pub mod annotations;
pub mod chain_id;
pub mod config;
pub mod descriptor;
pub mod digest;
pub mod error;
pub mod index;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod raw;
pub mod reference;
pub mod validate;

pub use chain_id::chain_id;
pub use config::{ContainerConfig, Healthcheck, History, ImageConfig, RootFs};
pub use descriptor::Descriptor;
pub use digest::{Algorithm, Digest, DigestWriter, Digester};
pub use error::{Error, ErrorKind};
pub use index::ImageIndex;
pub use manifest::ImageManifest;
pub use media_type::MediaType;
pub use platform::Platform;
pub use raw::{Manifest, RawConfig, RawManifest};
pub use reference::Reference;
pub use validate::validate;
