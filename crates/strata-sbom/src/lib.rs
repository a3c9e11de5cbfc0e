//! Software bills of materials for container images.
//!
//! 1. [`ImageFs`] streams an image's layer tars, bottom first, into a view of the final
//!    filesystem that remembers, per path, the layer that last wrote it. It keeps only the
//!    files catalogers read (package databases, metadata files) and examines binaries and
//!    Java archives as they stream past, so memory grows with the number of paths, not with
//!    the size of the image.
//! 2. [`catalog`] runs the catalogers over it: dpkg, apk, rpm (noted as unsupported), Python
//!    dist-info/egg-info, npm `package.json`, Go build info and cargo-auditable data in ELF
//!    binaries, busybox, Java archives. Each package carries its PURL, licences (SPDX ids
//!    where known), source package, owned files and the layer that introduced it.
//! 3. [`to_spdx_json`] and [`to_cyclonedx_json`] write SPDX 2.3 and CycloneDX 1.6; the
//!    output depends only on the image (sorted, dated by the image's `created`).
//!
//! ```no_run
//! # fn main() -> Result<(), strata_sbom::Error> {
//! let mut fs = strata_sbom::ImageFs::new();
//! fs.add_layer("sha256:…", std::fs::File::open("layer.tar").unwrap())?;
//! let subject = strata_sbom::ImageSubject {
//!     name: "example".into(), id: "sha256:…".into(), manifest_digest: None,
//!     created: None, layers: fs.layers().to_vec(),
//! };
//! let sbom = strata_sbom::catalog(&fs, subject);
//! println!("{}", strata_sbom::to_spdx_json(&sbom));
//! # Ok(()) }
//! ```

pub mod apk;
mod binaries;
mod catalog;
mod cyclonedx;
pub mod dpkg;
mod error;
mod fsview;
mod java;
pub mod licenses;
mod model;
mod npm;
mod purl;
mod python;
mod rpm;
mod spdx;

pub use binaries::{cargo_auditable, go_build_info, GoBuildInfo};
pub use catalog::{catalog, os_release};
pub use cyclonedx::to_cyclonedx_json;
pub use error::{Error, ErrorKind, Result};
pub use fsview::{Captured, ImageFs, MAX_EXAMINED_FILE, MAX_TEXT_FILE};
pub use model::{Distro, ImageSubject, LayerRef, Package, PackageKind, Sbom};
pub use spdx::to_spdx_json;

/// The tool name written into SBOMs.
pub const TOOL_NAME: &str = "strata";
/// The tool version written into SBOMs.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The document timestamp: the image's `created`, or the epoch when the config has none.
pub(crate) fn timestamp(sbom: &Sbom) -> String {
    sbom.image
        .created
        .unwrap_or(chrono::DateTime::UNIX_EPOCH)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A short stable hash of what identifies a package in an SBOM, for element identifiers.
pub(crate) fn spdx_id_hash(p: &Package) -> String {
    use sha2::{Digest, Sha256};
    let key = format!(
        "{}\0{}\0{}\0{}\0{}",
        p.kind.as_str(),
        p.name,
        p.version,
        p.location,
        p.arch.as_deref().unwrap_or("")
    );
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}
