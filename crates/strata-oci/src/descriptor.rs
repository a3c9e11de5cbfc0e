//! Content descriptors: the typed pointer (`mediaType`, `digest`, `size`, ...) that manifests
//! and indexes use to name blobs.
//!
//! The digest field is a strict [`Digest`] (sha256/sha512): strata must be able to verify
//! everything it follows. Documents naming other algorithms are still accepted by the
//! structural checks in [`crate::validate`], but do not parse into a `Descriptor`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};
use crate::media_type::MediaType;
use crate::platform::Platform;

/// An OCI content descriptor. Field order follows the OCI Go structs, so re-serialised
/// descriptors look like the ones other tools write. Unknown fields are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: MediaType,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Embedded content, base64 (standard alphabet, padded) exactly as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Descriptor {
    pub fn new(media_type: impl Into<MediaType>, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            platform: None,
            artifact_type: None,
            extra: serde_json::Map::new(),
        }
    }

    /// A sha256 descriptor of `content`.
    pub fn of_bytes(media_type: impl Into<MediaType>, content: &[u8]) -> Self {
        Descriptor::new(media_type, Digest::sha256_of(content), content.len() as u64)
    }

    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    pub fn with_annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// The annotation `key`, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// Check that `content` is what this descriptor names (size first: it is cheap).
    pub fn verify(&self, content: &[u8]) -> Result<(), Error> {
        if content.len() as u64 != self.size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "size mismatch for {}: expected {} bytes, content has {}",
                    self.digest,
                    self.size,
                    content.len()
                ),
            ));
        }
        self.digest.verify(content)
    }

    /// The decoded embedded `data`, verified against `size` and `digest`.
    pub fn embedded_data(&self) -> Result<Option<Vec<u8>>, Error> {
        let Some(data) = &self.data else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidDocument,
                    format!("descriptor {} has invalid base64 data: {e}", self.digest),
                )
            })?;
        self.verify(&bytes)?;
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_unknown_fields() {
        let json = r#"{"mediaType":"text/plain","digest":"sha256:2690af59371e9eca9453dc29882643f46e5ca47ec2862bd517b5e17351325153","size":34,"data":"aHR0cHM6Ly9naXRodWIuY29tL29wZW5jb250YWluZXJzCg==","x-custom":{"a":[1,2]}}"#;
        let d: Descriptor = serde_json::from_str(json).unwrap();
        assert_eq!(d.extra["x-custom"]["a"][1], 2);
        assert_eq!(serde_json::to_string(&d).unwrap(), json);
        assert_eq!(
            d.embedded_data().unwrap().unwrap(),
            b"https://github.com/opencontainers\n"
        );
    }

    #[test]
    fn embedded_data_must_match() {
        let mut d = Descriptor::of_bytes("text/plain", b"hello");
        d.data = Some("aGVsbG8=".into());
        assert!(d.embedded_data().is_ok());
        d.data = Some("aGVsbE8=".into());
        assert_eq!(
            d.embedded_data().unwrap_err().kind,
            ErrorKind::DigestMismatch
        );
        d.data = Some("aGVsbG8".into());
        assert_eq!(
            d.embedded_data().unwrap_err().kind,
            ErrorKind::InvalidDocument
        );
    }

    #[test]
    fn rejects_negative_or_string_size() {
        let base = r#""mediaType":"a/b","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#;
        for size in ["-1", "\"1\"", "1.5"] {
            let json = format!("{{{base},\"size\":{size}}}");
            assert!(serde_json::from_str::<Descriptor>(&json).is_err(), "{json}");
        }
        let d: Descriptor = serde_json::from_str(&format!("{{{base},\"size\":0}}")).unwrap();
        d.verify(b"").unwrap();
        assert!(d.verify(b"x").is_err());
    }
}
