//! Well-known annotation keys: the OCI pre-defined ones plus those containerd and Docker
//! write into image layouts and archives.

pub const CREATED: &str = "org.opencontainers.image.created";
pub const AUTHORS: &str = "org.opencontainers.image.authors";
pub const URL: &str = "org.opencontainers.image.url";
pub const DOCUMENTATION: &str = "org.opencontainers.image.documentation";
pub const SOURCE: &str = "org.opencontainers.image.source";
pub const VERSION: &str = "org.opencontainers.image.version";
pub const REVISION: &str = "org.opencontainers.image.revision";
pub const VENDOR: &str = "org.opencontainers.image.vendor";
pub const LICENSES: &str = "org.opencontainers.image.licenses";
/// In an OCI layout's `index.json`: the tag (or full reference) an entry is known by.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const TITLE: &str = "org.opencontainers.image.title";
pub const DESCRIPTION: &str = "org.opencontainers.image.description";
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";

/// containerd's full image name on layout index entries (`docker.io/library/x:tag`).
pub const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";
/// BuildKit's marker on attestation manifests inside an index.
pub const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// The image manifest digest an attestation manifest describes.
pub const DOCKER_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
