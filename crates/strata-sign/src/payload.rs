//! The simple-signing payload cosign signs: JSON naming the image by reference and manifest
//! digest. Field names and order are cosign's; `optional` holds the `-a key=value`
//! annotations (`null` when there are none).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_oci::Digest;

use crate::error::{Error, Result};

/// The `critical.type` cosign writes and checks.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleSigning {
    pub critical: Critical,
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    pub identity: Identity,
    pub image: ImageId,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageId {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    /// The payload for `digest`, known as `reference` (a repository name without tag or
    /// digest, as cosign writes it), with `annotations`.
    pub fn new(reference: &str, digest: &Digest, annotations: &BTreeMap<String, String>) -> Self {
        SimpleSigning {
            critical: Critical {
                identity: Identity {
                    docker_reference: reference.to_string(),
                },
                image: ImageId {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: COSIGN_SIGNATURE_TYPE.to_string(),
            },
            optional: if annotations.is_empty() {
                None
            } else {
                Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                        .collect(),
                )
            },
        }
    }

    /// The bytes that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("payload serialises")
    }

    pub fn parse(bytes: &[u8]) -> Result<SimpleSigning> {
        let payload: SimpleSigning = serde_json::from_slice(bytes)
            .map_err(|e| Error::malformed(format!("signature payload: {e}")))?;
        if payload.critical.kind != COSIGN_SIGNATURE_TYPE {
            return Err(Error::malformed(format!(
                "signature payload: type {:?} is not {COSIGN_SIGNATURE_TYPE:?}",
                payload.critical.kind
            )));
        }
        Ok(payload)
    }

    /// The annotation `key` as a string, if the payload carries it.
    pub fn annotation(&self, key: &str) -> Option<String> {
        let value = self.optional.as_ref()?.get(key)?;
        Some(match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_in_cosign_field_order() {
        let digest = Digest::sha256_of(b"m");
        let p = SimpleSigning::new("localhost:5000/app", &digest, &BTreeMap::new());
        let text = String::from_utf8(p.to_bytes()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"localhost:5000/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        assert_eq!(SimpleSigning::parse(text.as_bytes()).unwrap(), p);
    }
}
