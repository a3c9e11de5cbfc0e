//! The policy file: YAML, every key optional, unknown keys refused.
//!
//! ```yaml
//! rules:
//!   requiredLabels:                # each label present; `pattern` (a regex) must match its value
//!     - name: org.opencontainers.image.source
//!       pattern: '^https://'
//!   allowedBaseImages:             # reference patterns (`*` = any run of characters) or digests
//!     - docker.io/library/debian:*
//!     - sha256:0123...
//!   maxImageSize: 200MB            # decimal (MB) or binary (MiB) units, or bytes
//!   maxLayers: 15
//!   nonRootUser: true              # the final USER is set and is neither root nor uid 0
//!   noRemoteAddWithoutChecksum: true
//!   noSecrets:                     # `true`, or options
//!     entropy: true                # also report high-entropy tokens assigned to secret-like names
//!     ignorePaths: ['/usr/share/doc/*']
//!   requiredSignature:
//!     key: cosign.pub              # relative to the policy file
//!   maxSeverity:
//!     db: osv/                     # an OSV database (directory or zip), relative to the policy file
//!     severity: high               # fail on this severity or above
//!   requireSbom: true              # an SBOM attached to the image (OCI 1.1 referrer)
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::size::parse_size;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub rules: Rules,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rules {
    #[serde(default)]
    pub required_labels: Vec<RequiredLabel>,
    #[serde(default)]
    pub allowed_base_images: Vec<String>,
    #[serde(default)]
    pub max_image_size: Option<SizeLimit>,
    #[serde(default)]
    pub max_layers: Option<usize>,
    #[serde(default)]
    pub non_root_user: bool,
    #[serde(default)]
    pub no_remote_add_without_checksum: bool,
    #[serde(default)]
    pub no_secrets: Option<SecretsRule>,
    #[serde(default)]
    pub required_signature: Option<SignatureRule>,
    #[serde(default)]
    pub max_severity: Option<SeverityRule>,
    #[serde(default)]
    pub require_sbom: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredLabel {
    pub name: String,
    #[serde(default)]
    pub pattern: Option<String>,
}

/// A size written as text (`200MB`) or a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimit(pub u64);

impl<'de> Deserialize<'de> for SizeLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(b) => Ok(SizeLimit(b)),
            Raw::Text(t) => parse_size(&t).map(SizeLimit).ok_or_else(|| {
                serde::de::Error::custom(format!("{t:?} is not a size (e.g. 200MB, 1.5GiB)"))
            }),
        }
    }
}

/// `noSecrets: true` or `noSecrets: {entropy: .., ignorePaths: [..]}`.
#[derive(Debug, Clone)]
pub struct SecretsRule {
    pub entropy: bool,
    pub ignore_paths: Vec<String>,
}

impl<'de> Deserialize<'de> for SecretsRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Options {
            #[serde(default = "yes")]
            entropy: bool,
            #[serde(default)]
            ignore_paths: Vec<String>,
        }
        fn yes() -> bool {
            true
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Options(Options),
        }
        match Raw::deserialize(d)? {
            Raw::Flag(true) => Ok(SecretsRule {
                entropy: true,
                ignore_paths: Vec::new(),
            }),
            Raw::Flag(false) => Err(serde::de::Error::custom(
                "noSecrets: false: leave the rule out instead",
            )),
            Raw::Options(o) => Ok(SecretsRule {
                entropy: o.entropy,
                ignore_paths: o.ignore_paths,
            }),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureRule {
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityRule {
    pub db: PathBuf,
    pub severity: Severity,
}

/// Severities in increasing order, as scanners name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text.to_ascii_lowercase().as_str() {
            "unknown" | "negligible" | "none" => Severity::Unknown,
            "low" | "unimportant" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" | "important" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl Policy {
    /// Parse the policy at `path`; relative paths inside it (keys, databases) are resolved
    /// against the file's directory.
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Policy(format!("cannot read policy {}: {e}", path.display())))?;
        let mut policy = Policy::parse(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(sig) = &mut policy.rules.required_signature {
            sig.key = base.join(&sig.key);
        }
        if let Some(sev) = &mut policy.rules.max_severity {
            sev.db = base.join(&sev.db);
        }
        Ok(policy)
    }

    /// Parse policy text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Policy> {
        let policy: Policy = serde_norway::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            Error::Policy(format!("policy {origin}{at}: {e}"))
        })?;
        for label in &policy.rules.required_labels {
            if let Some(p) = &label.pattern {
                regex::Regex::new(p).map_err(|e| {
                    Error::Policy(format!(
                        "policy {origin}: requiredLabels {}: pattern {p:?}: {e}",
                        label.name
                    ))
                })?;
            }
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_rule() {
        let p = Policy::parse(
            "rules:\n  requiredLabels:\n    - name: a\n      pattern: '^x'\n  allowedBaseImages: [debian:*]\n  maxImageSize: 200MB\n  maxLayers: 3\n  nonRootUser: true\n  noRemoteAddWithoutChecksum: true\n  noSecrets: true\n  requiredSignature: {key: k.pub}\n  maxSeverity: {db: osv, severity: high}\n  requireSbom: true\n",
            "p.yaml",
        )
        .unwrap();
        let r = p.rules;
        assert_eq!(r.max_image_size, Some(SizeLimit(200_000_000)));
        assert_eq!(r.max_layers, Some(3));
        assert!(r.no_secrets.unwrap().entropy);
        assert_eq!(r.max_severity.unwrap().severity, Severity::High);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file() {
        let e = Policy::parse("rules:\n  maxLayer: 3\n", "team.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("team.yaml") && e.contains("maxLayer"), "{e}");
        let e = Policy::parse("rules:\n  maxImageSize: lots\n", "team.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a size"), "{e}");
        let e = Policy::parse(
            "rules:\n  requiredLabels: [{name: a, pattern: '('}]\n",
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("pattern"), "{e}");
    }
}
