//! cosign-compatible image signing, without a transparency log or an online CA.
//!
//! - [`keys`]: `cosign.key` (scrypt + NaCl secretbox over PKCS#8, PEM `ENCRYPTED SIGSTORE
//!   PRIVATE KEY`), `cosign.pub`, and plain PKCS#8 / SEC1 / encrypted PKCS#8 PEM keys.
//! - [`payload`]: the simple-signing JSON that names the signed manifest digest.
//! - [`signature`]: ECDSA P-256 over SHA-256 of the payload, ASN.1 DER.
//! - [`storage`]: how signatures are stored beside an image: the `sha256-<hex>.sig` tag
//!   scheme and the OCI 1.1 referrer artifact, both as cosign writes them.
//! - [`verify`]: finds the payloads that verify for a digest and checks what they claim.
//!
//! Everything here is pure: where the manifests and blobs live is the caller's business.

mod error;
pub mod keys;
pub mod payload;
pub mod rekor;
pub mod signature;
pub mod storage;
pub mod verify;

pub use error::{Error, ErrorKind, Result};
