//! Media types of OCI and Docker v2 schema 2 documents and layers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_LAYER_NONDIST_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const OCI_LAYER_NONDIST_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const OCI_LAYER_NONDIST_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Compression of a layer blob, as its media type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A media type string. Unknown types are kept verbatim (artifacts, custom layers).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaType(String);

impl MediaType {
    pub fn new(s: impl Into<String>) -> Self {
        MediaType(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a well-formed RFC 6838 `type/subtype` as the OCI schema restricts it:
    /// each part starts with an alphanumeric and has at most 127 characters from
    /// `[A-Za-z0-9!#$&^_.+-]`.
    pub fn is_well_formed(&self) -> bool {
        fn part_ok(p: &str) -> bool {
            let b = p.as_bytes();
            !b.is_empty()
                && b.len() <= 127
                && b[0].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(c))
        }
        match self.0.split_once('/') {
            Some((t, s)) => part_ok(t) && part_ok(s),
            None => false,
        }
    }

    /// An image manifest (OCI or Docker v2 schema 2).
    pub fn is_manifest(&self) -> bool {
        matches!(self.0.as_str(), OCI_MANIFEST | DOCKER_MANIFEST)
    }

    /// An image index or Docker manifest list.
    pub fn is_index(&self) -> bool {
        matches!(self.0.as_str(), OCI_INDEX | DOCKER_MANIFEST_LIST)
    }

    /// Whether this is one of Docker's v2 schema 2 types.
    pub fn is_docker(&self) -> bool {
        self.0.starts_with("application/vnd.docker.")
    }

    /// The OCI type for a Docker type with an exact OCI counterpart; other types unchanged.
    /// (Docker's foreign layers map to OCI's non-distributable layers, which OCI deprecates
    /// but still defines.)
    pub fn to_oci(&self) -> MediaType {
        let mapped = match self.0.as_str() {
            DOCKER_MANIFEST => OCI_MANIFEST,
            DOCKER_MANIFEST_LIST => OCI_INDEX,
            DOCKER_CONFIG => OCI_CONFIG,
            DOCKER_LAYER_GZIP => OCI_LAYER_GZIP,
            DOCKER_LAYER_TAR => OCI_LAYER_TAR,
            DOCKER_FOREIGN_LAYER_GZIP => OCI_LAYER_NONDIST_GZIP,
            other => other,
        };
        MediaType::from(mapped)
    }

    /// The Docker type for an OCI type with a Docker counterpart. zstd layers have none, so
    /// they (and every other type) come back unchanged.
    pub fn to_docker(&self) -> MediaType {
        let mapped = match self.0.as_str() {
            OCI_MANIFEST => DOCKER_MANIFEST,
            OCI_INDEX => DOCKER_MANIFEST_LIST,
            OCI_CONFIG => DOCKER_CONFIG,
            OCI_LAYER_GZIP => DOCKER_LAYER_GZIP,
            OCI_LAYER_TAR => DOCKER_LAYER_TAR,
            OCI_LAYER_NONDIST_GZIP => DOCKER_FOREIGN_LAYER_GZIP,
            other => other,
        };
        MediaType::from(mapped)
    }

    pub fn is_config(&self) -> bool {
        matches!(self.0.as_str(), OCI_CONFIG | DOCKER_CONFIG)
    }

    /// A filesystem layer that strata knows how to unpack.
    pub fn is_layer(&self) -> bool {
        self.layer_compression().is_some()
    }

    /// The compression of a known layer type; `None` when this is not a known layer type.
    pub fn layer_compression(&self) -> Option<Compression> {
        match self.0.as_str() {
            OCI_LAYER_TAR | OCI_LAYER_NONDIST_TAR | DOCKER_LAYER_TAR => Some(Compression::None),
            OCI_LAYER_GZIP
            | OCI_LAYER_NONDIST_GZIP
            | DOCKER_LAYER_GZIP
            | DOCKER_FOREIGN_LAYER_GZIP => Some(Compression::Gzip),
            OCI_LAYER_ZSTD | OCI_LAYER_NONDIST_ZSTD => Some(Compression::Zstd),
            _ => None,
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<&str> for MediaType {
    fn from(s: &str) -> Self {
        MediaType(s.to_owned())
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(MediaType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_oci_mapping_round_trips() {
        for docker in [
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
            DOCKER_CONFIG,
            DOCKER_LAYER_GZIP,
            DOCKER_LAYER_TAR,
        ] {
            let m = MediaType::from(docker);
            assert!(m.is_docker());
            let oci = m.to_oci();
            assert!(
                !oci.is_docker() && oci.as_str().starts_with("application/vnd.oci."),
                "{docker}"
            );
            assert_eq!(oci.to_docker(), m);
            assert_eq!(oci.is_manifest(), m.is_manifest());
            assert_eq!(oci.layer_compression(), m.layer_compression());
        }
        let zstd = MediaType::from(OCI_LAYER_ZSTD);
        assert_eq!(zstd.to_docker(), zstd);
        assert_eq!(
            MediaType::from("text/plain").to_oci().as_str(),
            "text/plain"
        );
    }

    #[test]
    fn well_formed_media_types() {
        for ok in [
            OCI_MANIFEST,
            "a/b",
            "application/vnd.example+type",
            "text/plain",
        ] {
            assert!(MediaType::from(ok).is_well_formed(), "{ok}");
        }
        for bad in ["", "a", "a/", "/b", ".a/b", "a/.b", "a/b/c", "a b/c"] {
            assert!(!MediaType::from(bad).is_well_formed(), "{bad}");
        }
    }
}
