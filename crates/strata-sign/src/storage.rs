//! How signatures are stored beside the image they sign, in both of cosign's forms.
//!
//! - **Tag scheme**: the tag `sha256-<hex>.sig` in the image's repository names an OCI image
//!   manifest whose layers are simple-signing payloads
//!   (`application/vnd.dev.cosign.simplesigning.v1+json`), each carrying its base64 signature in
//!   the annotation `dev.cosignproject.cosign/signature`. Its config is the minimal image config
//!   go-containerregistry writes (empty platform, zero time, one history entry and one diffID
//!   per layer). Signing again appends a layer.
//! - **OCI 1.1 referrer**: an artifact manifest (`artifactType`
//!   `application/vnd.dev.cosign.artifact.sig.v1+json`, the empty config, one payload layer)
//!   whose `subject` is the signed manifest, found through the referrers API.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;
use strata_oci::media_type::{OCI_CONFIG, OCI_EMPTY};
use strata_oci::{Descriptor, Digest, ImageManifest};

use crate::error::{Error, Result};

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
pub const COSIGN_SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The zero time go-containerregistry writes into generated configs.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The tag cosign uses for the signatures of `digest`.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm().as_str(), digest.hex())
}

/// The tag of the referrers fallback index for `digest` (OCI 1.1's tag schema).
pub fn referrers_fallback_tag(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm().as_str(), digest.hex())
}

/// One stored signature: the payload, its signature, and an optional Rekor bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSignature {
    pub payload: Vec<u8>,
    /// The base64 text of the DER signature, as stored in the annotation.
    pub signature_b64: String,
    pub bundle: Option<String>,
}

impl StoredSignature {
    pub fn signature_der(&self) -> Result<Vec<u8>> {
        B64.decode(self.signature_b64.trim())
            .map_err(|e| Error::malformed(format!("signature annotation is not base64: {e}")))
    }

    fn layer(&self) -> Descriptor {
        let mut desc = Descriptor::of_bytes(SIMPLE_SIGNING_MEDIA_TYPE, &self.payload);
        desc.annotations
            .insert(SIGNATURE_ANNOTATION.into(), self.signature_b64.clone());
        if let Some(bundle) = &self.bundle {
            desc.annotations
                .insert(BUNDLE_ANNOTATION.into(), bundle.clone());
        }
        desc
    }
}

/// A manifest to write with the blobs it references (each blob with its descriptor).
#[derive(Debug, Clone)]
pub struct ManifestToWrite {
    pub manifest: ImageManifest,
    pub blobs: Vec<(Descriptor, Vec<u8>)>,
}

/// The tag-scheme signature manifest holding `existing` signatures (in order) plus `new`, as
/// cosign appends. A signature already present (same payload and signature) is not added twice.
pub fn tag_scheme_manifest(existing: &[StoredSignature], new: &StoredSignature) -> ManifestToWrite {
    let mut all: Vec<StoredSignature> = existing.to_vec();
    if !all.contains(new) {
        all.push(new.clone());
    }
    let layers: Vec<Descriptor> = all.iter().map(StoredSignature::layer).collect();
    let config = json!({
        "architecture": "",
        "created": ZERO_TIME,
        "history": layers.iter().map(|_| json!({"created": ZERO_TIME})).collect::<Vec<_>>(),
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.digest.to_string()).collect::<Vec<_>>()},
        "config": {}
    });
    let config_bytes = serde_json::to_vec(&config).expect("config serialises");
    let config_desc = Descriptor::of_bytes(OCI_CONFIG, &config_bytes);
    let mut blobs = vec![(config_desc.clone(), config_bytes)];
    for (sig, layer) in all.iter().zip(&layers) {
        blobs.push((layer.clone(), sig.payload.clone()));
    }
    ManifestToWrite {
        manifest: ImageManifest::oci(config_desc, layers),
        blobs,
    }
}

/// The OCI 1.1 referrer artifact for one signature of `subject`. `created` (RFC 3339) goes
/// into the `org.opencontainers.image.created` annotation.
pub fn referrer_manifest(
    subject: &Descriptor,
    sig: &StoredSignature,
    created: &str,
) -> ManifestToWrite {
    let empty = b"{}".to_vec();
    let config = Descriptor::of_bytes(OCI_EMPTY, &empty);
    let layer = sig.layer();
    let mut manifest = ImageManifest::oci(config.clone(), vec![layer.clone()]);
    manifest.artifact_type = Some(COSIGN_SIGNATURE_ARTIFACT_TYPE.into());
    let mut subject = subject.clone();
    subject.annotations = BTreeMap::new();
    subject.platform = None;
    manifest.subject = Some(subject);
    manifest
        .annotations
        .insert("org.opencontainers.image.created".into(), created.into());
    ManifestToWrite {
        manifest,
        blobs: vec![(config, empty), (layer, sig.payload.clone())],
    }
}

/// The signatures a signature manifest (either form) holds. `fetch` reads a layer blob;
/// its bytes are checked against the descriptor here. Layers that are not simple-signing
/// payloads are skipped.
pub fn signatures_in(
    manifest: &ImageManifest,
    mut fetch: impl FnMut(&Descriptor) -> Result<Vec<u8>>,
) -> Result<Vec<StoredSignature>> {
    let mut out = Vec::new();
    for layer in &manifest.layers {
        if layer.media_type.as_str() != SIMPLE_SIGNING_MEDIA_TYPE {
            continue;
        }
        let Some(sig) = layer.annotation(SIGNATURE_ANNOTATION) else {
            continue;
        };
        let payload = fetch(layer)?;
        layer
            .verify(&payload)
            .map_err(|e| Error::verification(format!("signature payload {}: {e}", layer.digest)))?;
        out.push(StoredSignature {
            payload,
            signature_b64: sig.to_string(),
            bundle: layer.annotation(BUNDLE_ANNOTATION).map(str::to_string),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(n: u8) -> StoredSignature {
        StoredSignature {
            payload: vec![b'{', n, b'}'],
            signature_b64: B64.encode([n; 8]),
            bundle: None,
        }
    }

    #[test]
    fn tag_scheme_appends_once_and_reads_back() {
        let first = tag_scheme_manifest(&[], &sig(1));
        assert_eq!(first.manifest.layers.len(), 1);
        let second = tag_scheme_manifest(&[sig(1)], &sig(2));
        assert_eq!(second.manifest.layers.len(), 2);
        let again = tag_scheme_manifest(&[sig(1), sig(2)], &sig(2));
        assert_eq!(again.manifest.layers.len(), 2);
        let blobs: BTreeMap<_, _> = second
            .blobs
            .iter()
            .map(|(d, b)| (d.digest.clone(), b.clone()))
            .collect();
        let read = signatures_in(&second.manifest, |d| Ok(blobs[&d.digest].clone())).unwrap();
        assert_eq!(read, vec![sig(1), sig(2)]);
    }

    #[test]
    fn a_payload_that_does_not_match_its_descriptor_is_refused() {
        let m = tag_scheme_manifest(&[], &sig(1));
        let err = signatures_in(&m.manifest, |_| Ok(b"{9}".to_vec())).unwrap_err();
        assert!(err.to_string().contains("signature payload"), "{err}");
    }

    #[test]
    fn tags_are_cosigns() {
        let d = Digest::sha256_of(b"x");
        assert_eq!(signature_tag(&d), format!("sha256-{}.sig", d.hex()));
        assert_eq!(referrers_fallback_tag(&d), format!("sha256-{}", d.hex()));
    }
}
