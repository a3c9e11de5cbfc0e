//! The few manifest fields the registry needs, read from the raw bytes it stores.
//!
//! The registry never re-serialises a manifest: digests are over the received bytes.

use serde_json::Value;
use strata_oci::media_type as mt;
use strata_oci::Digest;

use crate::error::{Error, ErrorKind, Result};
use crate::names::parse_digest;

/// Largest manifest accepted (the spec's recommended minimum limit).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// Media types accepted for manifests.
pub const MANIFEST_TYPES: [&str; 4] = [
    mt::OCI_MANIFEST,
    mt::OCI_INDEX,
    mt::DOCKER_MANIFEST,
    mt::DOCKER_MANIFEST_LIST,
];

/// What the registry learns from a manifest.
#[derive(Debug, Clone)]
pub struct ManifestInfo {
    pub media_type: String,
    /// `artifactType`, or the config media type for image manifests (referrers API rule).
    pub artifact_type: Option<String>,
    /// Blobs: config and layers (or `blobs`) that must be in the repository.
    pub blobs: Vec<Digest>,
    /// Non-distributable ("foreign") layers: clients fetch them from elsewhere, so a push
    /// need not include them; kept from garbage collection if they were pushed anyway.
    pub foreign: Vec<Digest>,
    /// Child manifests of an index.
    pub manifests: Vec<Digest>,
    pub subject: Option<Digest>,
    pub annotations: Option<Value>,
}

impl ManifestInfo {
    pub fn is_index(&self) -> bool {
        self.media_type == mt::OCI_INDEX || self.media_type == mt::DOCKER_MANIFEST_LIST
    }
}

/// OCI's non-distributable layer types (deprecated in image-spec 1.1, still pushed) and
/// Docker's foreign layers: content a registry is not expected to hold.
pub fn is_non_distributable(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.nondistributable.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.foreign.")
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::ManifestInvalid, msg)
}

fn descriptor_digest(v: &Value, field: &str) -> Result<Digest> {
    let d = v
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{field}: descriptor without digest")))?;
    if v.get("size").and_then(Value::as_u64).is_none() {
        return Err(invalid(format!("{field}: descriptor {d} without size")));
    }
    parse_digest(d).map_err(|e| invalid(format!("{field}: {}", e.message())))
}

/// Parses a manifest; `content_type` is the request's Content-Type, if any.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<ManifestInfo> {
    if bytes.len() > MAX_MANIFEST_SIZE {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "manifest of {} bytes exceeds the {MAX_MANIFEST_SIZE} byte limit",
                bytes.len()
            ),
        ));
    }
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("manifest is not valid json: {e}")))?;
    if !v.is_object() {
        return Err(invalid("manifest is not a json object"));
    }
    let body_type = v.get("mediaType").and_then(Value::as_str);
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    let media_type = match (body_type, content_type) {
        (Some(b), Some(c)) if b != c => {
            return Err(invalid(format!(
                "manifest mediaType {b} does not match content type {c}"
            )));
        }
        (Some(b), _) => b.to_string(),
        (None, Some(c)) => c.to_string(),
        (None, None) => {
            // OCI allows omitting mediaType; tell an index from a manifest by its fields.
            if v.get("manifests").is_some() {
                mt::OCI_INDEX.to_string()
            } else {
                mt::OCI_MANIFEST.to_string()
            }
        }
    };
    if !MANIFEST_TYPES.contains(&media_type.as_str()) {
        return Err(Error::new(
            ErrorKind::ManifestInvalid,
            format!("unsupported manifest media type {media_type}"),
        ));
    }
    if v.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(invalid("manifest schemaVersion must be 2"));
    }
    let mut info = ManifestInfo {
        media_type,
        artifact_type: v
            .get("artifactType")
            .and_then(Value::as_str)
            .map(str::to_string),
        blobs: Vec::new(),
        foreign: Vec::new(),
        manifests: Vec::new(),
        subject: None,
        annotations: v.get("annotations").cloned(),
    };
    if info.is_index() {
        let list = v
            .get("manifests")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("index without manifests array"))?;
        for m in list {
            info.manifests.push(descriptor_digest(m, "manifests")?);
        }
    } else {
        let config = v
            .get("config")
            .ok_or_else(|| invalid("manifest without config"))?;
        info.blobs.push(descriptor_digest(config, "config")?);
        if info.artifact_type.is_none() {
            info.artifact_type = config
                .get("mediaType")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        let layers = v
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("manifest without layers array"))?;
        for l in layers {
            let d = descriptor_digest(l, "layers")?;
            if l.get("mediaType")
                .and_then(Value::as_str)
                .is_some_and(is_non_distributable)
            {
                info.foreign.push(d);
            } else {
                info.blobs.push(d);
            }
        }
    }
    if let Some(s) = v.get("subject") {
        info.subject = Some(descriptor_digest(s, "subject")?);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_image_manifest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/x","digest":"{d}","size":1}},"layers":[{{"digest":"{d}","size":2,"mediaType":"x"}}],"subject":{{"digest":"{d}","size":3,"mediaType":"y"}}}}"#,
            mt::OCI_MANIFEST
        );
        let info = parse(m.as_bytes(), Some(mt::OCI_MANIFEST)).unwrap();
        assert_eq!(info.blobs.len(), 2);
        assert_eq!(info.artifact_type.as_deref(), Some("application/x"));
        assert!(info.subject.is_some());
        assert_eq!(
            parse(m.as_bytes(), Some(mt::OCI_INDEX)).unwrap_err().kind(),
            ErrorKind::ManifestInvalid
        );
    }

    #[test]
    fn non_distributable_layers_are_not_required_blobs() {
        let (a, b) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
        );
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"x","digest":"{a}","size":1}},"layers":[{{"digest":"{b}","size":2,"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","urls":["https://example.com/b"]}}]}}"#,
            mt::OCI_MANIFEST
        );
        let info = parse(m.as_bytes(), None).unwrap();
        assert_eq!(info.blobs.len(), 1);
        assert_eq!(info.foreign.len(), 1);
        assert!(is_non_distributable(
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
        ));
        assert!(!is_non_distributable(mt::OCI_LAYER_GZIP));
    }

    #[test]
    fn refuses_bad_manifests() {
        assert_eq!(
            parse(b"[]", None).unwrap_err().kind(),
            ErrorKind::ManifestInvalid
        );
        assert_eq!(
            parse(b"{", None).unwrap_err().kind(),
            ErrorKind::ManifestInvalid
        );
        assert_eq!(
            parse(br#"{"schemaVersion":2,"layers":[]}"#, None)
                .unwrap_err()
                .kind(),
            ErrorKind::ManifestInvalid
        );
        let big = vec![b' '; MAX_MANIFEST_SIZE + 1];
        assert_eq!(parse(&big, None).unwrap_err().kind(), ErrorKind::TooLarge);
    }
}
