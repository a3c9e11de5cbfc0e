//! The OCI / Docker image data model as plain, validated data.
//!
//! Pure: no I/O beyond `std::io` streams. Every other strata crate speaks these types.

pub mod digest;
pub mod error;
pub mod media_type;

pub use digest::{Algorithm, Digest, DigestWriter, Digester};
pub use error::{Error, ErrorKind};
pub use media_type::MediaType;
