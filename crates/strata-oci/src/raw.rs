//! Parsed documents that keep the exact bytes they came from.
//!
//! A manifest's identity is the digest of the bytes a registry or archive served, never of
//! a re-serialisation (key order, whitespace and escaping differ between producers), so the
//! parse functions take raw bytes and hand back the bytes, their digest and the typed value.

use serde_json::Value;

use crate::config::ImageConfig;
use crate::descriptor::Descriptor;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::index::ImageIndex;
use crate::manifest::ImageManifest;
use crate::media_type::{self as mt, MediaType};
use crate::validate::{self, DocumentKind, Rules};

/// A manifest-like document: an image manifest or an image index / manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// A parsed manifest or index with its exact bytes and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    /// The media type the document is served with (its own `mediaType`, else the declared
    /// one, else the OCI type of its shape).
    pub media_type: MediaType,
    pub parsed: Manifest,
}

impl RawManifest {
    /// Parse `bytes` as a manifest or index. `declared` is the media type the bytes arrived
    /// with (a `Content-Type` header or a descriptor's `mediaType`), if any; generic types such
    /// as `application/json` are ignored. The document's own `mediaType` must agree with it.
    pub fn parse(bytes: impl Into<Vec<u8>>, declared: Option<&str>) -> Result<Self, Error> {
        let bytes = bytes.into();
        let digest = Digest::sha256_of(&bytes);
        Self::parse_with_digest(bytes, declared, digest)
    }

    /// Like [`RawManifest::parse`], but first checks that the bytes have digest `expected`
    /// (with `expected`'s algorithm), as when fetching by digest.
    pub fn parse_verified(
        bytes: impl Into<Vec<u8>>,
        declared: Option<&str>,
        expected: &Digest,
    ) -> Result<Self, Error> {
        let bytes = bytes.into();
        expected.verify(&bytes)?;
        Self::parse_with_digest(bytes, declared, expected.clone())
    }

    fn parse_with_digest(
        bytes: Vec<u8>,
        declared: Option<&str>,
        digest: Digest,
    ) -> Result<Self, Error> {
        let what = format!("manifest {digest}");
        let value = validate::parse_json(&bytes, &what)?;
        let obj = value.as_object().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidDocument,
                format!("{what}: not a json object"),
            )
        })?;
        if obj.get("schemaVersion").and_then(Value::as_u64) == Some(1) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("{what}: docker schema 1 manifests are not supported"),
            ));
        }
        let own = obj
            .get("mediaType")
            .and_then(Value::as_str)
            .map(MediaType::from);
        let declared = declared
            .map(MediaType::from)
            .filter(|m| m.is_manifest() || m.is_index());
        if let (Some(own), Some(declared)) = (&own, &declared) {
            if own != declared {
                return Err(Error::new(
                    ErrorKind::InvalidDocument,
                    format!("{what}: document media type {own} does not match declared {declared}"),
                ));
            }
        }
        let media_type = match own.or(declared) {
            Some(m) if m.is_manifest() || m.is_index() => m,
            Some(m) => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("{what}: media type {m} is not a manifest or index"),
                ))
            }
            None => match (obj.contains_key("manifests"), obj.contains_key("config") || obj.contains_key("layers")) {
                (true, false) => MediaType::from(mt::OCI_INDEX),
                (false, true) => MediaType::from(mt::OCI_MANIFEST),
                (true, true) => {
                    return Err(Error::new(
                        ErrorKind::InvalidDocument,
                        format!("{what}: ambiguous document has both manifests and config/layers"),
                    ))
                }
                (false, false) => {
                    return Err(Error::new(
                        ErrorKind::InvalidDocument,
                        format!("{what}: neither a manifest nor an index (no mediaType, config or manifests)"),
                    ))
                }
            },
        };
        let prefix = |e: Error| Error::new(e.kind, format!("{what}: {}", e.message));
        let parsed = if media_type.is_index() {
            validate::validate_value(DocumentKind::Index, &value, Rules::READ).map_err(prefix)?;
            Manifest::Index(typed(value, &what)?)
        } else {
            validate::validate_value(DocumentKind::Manifest, &value, Rules::READ)
                .map_err(prefix)?;
            Manifest::Image(typed(value, &what)?)
        };
        Ok(RawManifest {
            bytes,
            digest,
            media_type,
            parsed,
        })
    }

    /// Serialise `manifest` (compact JSON) and wrap the result.
    pub fn from_manifest(manifest: &ImageManifest) -> Result<Self, Error> {
        Self::from_serialized(
            serde_json::to_vec(manifest),
            manifest.effective_media_type().as_str(),
        )
    }

    /// Serialise `index` (compact JSON) and wrap the result.
    pub fn from_index(index: &ImageIndex) -> Result<Self, Error> {
        Self::from_serialized(
            serde_json::to_vec(index),
            index.effective_media_type().as_str(),
        )
    }

    fn from_serialized(
        bytes: serde_json::Result<Vec<u8>>,
        media_type: &str,
    ) -> Result<Self, Error> {
        let bytes = bytes.map_err(|e| {
            Error::new(
                ErrorKind::InvalidDocument,
                format!("cannot serialise {media_type}: {e}"),
            )
        })?;
        Self::parse(bytes, Some(media_type))
    }

    /// A descriptor pointing at these bytes.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }

    pub fn as_image(&self) -> Option<&ImageManifest> {
        match &self.parsed {
            Manifest::Image(m) => Some(m),
            Manifest::Index(_) => None,
        }
    }

    pub fn as_index(&self) -> Option<&ImageIndex> {
        match &self.parsed {
            Manifest::Index(i) => Some(i),
            Manifest::Image(_) => None,
        }
    }
}

/// A parsed image config with its exact bytes and their digest (the image ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawConfig {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub parsed: ImageConfig,
}

impl RawConfig {
    /// Parse and validate an image config blob.
    pub fn parse(bytes: impl Into<Vec<u8>>) -> Result<Self, Error> {
        let bytes = bytes.into();
        let digest = Digest::sha256_of(&bytes);
        let what = format!("config {digest}");
        let value = validate::parse_json(&bytes, &what)?;
        validate::validate_value(DocumentKind::Config, &value, Rules::READ)
            .map_err(|e| Error::new(e.kind, format!("{what}: {}", e.message)))?;
        let parsed = typed(value, &what)?;
        Ok(RawConfig {
            bytes,
            digest,
            parsed,
        })
    }

    /// Serialise `config` (compact JSON, as Docker writes configs) and wrap the result.
    pub fn from_config(config: &ImageConfig) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(config).map_err(|e| {
            Error::new(
                ErrorKind::InvalidDocument,
                format!("cannot serialise image config: {e}"),
            )
        })?;
        Self::parse(bytes)
    }

    /// A descriptor for this config with the given media type (OCI or Docker).
    pub fn descriptor(&self, media_type: &str) -> Descriptor {
        Descriptor::new(media_type, self.digest.clone(), self.bytes.len() as u64)
    }
}

/// Deserialise a validated value into its typed form. A digest the structural checks allow
/// but strata cannot compute (e.g. `sha256+b64:`) surfaces here as `Unsupported`.
fn typed<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| {
        let msg = e.to_string();
        let kind = if msg.contains("unsupported digest algorithm") {
            ErrorKind::Unsupported
        } else {
            ErrorKind::InvalidDocument
        };
        Error::new(kind, format!("{what}: {msg}"))
    })
}
