//! What is known of one image when a policy is checked. The caller fills in what the policy
//! needs; a rule whose facts are missing fails and says what was not gathered.

use std::collections::BTreeMap;

use strata_oci::{Digest, ImageConfig};

use crate::policy::Severity;
use crate::secrets::SecretFinding;

#[derive(Debug, Clone)]
pub struct ImageFacts {
    /// The image as the user named it.
    pub name: String,
    pub manifest_digest: Digest,
    pub config: ImageConfig,
    /// The manifest's annotations (`org.opencontainers.image.base.*` among them).
    pub annotations: BTreeMap<String, String>,
    /// Size as `strata images` shows it.
    pub size: u64,
    pub layer_count: usize,
    /// Secrets found in the layers, history and config; `None` when not scanned.
    pub secrets: Option<Vec<SecretFinding>>,
    /// The outcome of signature verification; `None` when not checked.
    pub signature: Option<SignatureFact>,
    /// Vulnerabilities from a scan; `None` when not scanned.
    pub vulnerabilities: Option<Vec<Vulnerability>>,
    /// `artifactType`s of the image's attachments (OCI 1.1 referrers).
    pub attachment_types: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SignatureFact {
    pub verified: bool,
    /// What verified, or why nothing did.
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Vulnerability {
    pub id: String,
    pub severity: Severity,
    pub package: String,
    pub version: String,
}

impl ImageFacts {
    /// The labels of the image config.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
    }

    /// The base image the image names: `(name, digest)` from the manifest annotations or,
    /// failing that, the config labels `org.opencontainers.image.base.{name,digest}`.
    pub fn base_image(&self) -> (Option<String>, Option<String>) {
        let labels = self.labels();
        let get = |k: &str| self.annotations.get(k).or_else(|| labels.get(k)).cloned();
        (
            get("org.opencontainers.image.base.name"),
            get("org.opencontainers.image.base.digest"),
        )
    }
}
