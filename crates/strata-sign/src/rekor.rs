//! Offline checks of a Rekor bundle attached to a signature (`dev.sigstore.cosign/bundle`).
//!
//! A bundle is `{"SignedEntryTimestamp": B64, "Payload": {"body": B64, "integratedTime": N,
//! "logIndex": N, "logID": HEX}}`. The signed entry timestamp is the log's ECDSA signature over
//! the canonical JSON of `Payload` (keys sorted, no spaces). The body is the log entry; for a
//! `hashedrekord` entry it names the signature and the payload's SHA-256, which must be the
//! ones the bundle is attached to. strata uploads nothing: it only checks bundles it is given.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::signature;

#[derive(Debug, Deserialize)]
struct Bundle {
    #[serde(rename = "SignedEntryTimestamp")]
    signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    payload: serde_json::Value,
}

/// What a verified bundle says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    pub integrated_time: i64,
    pub log_index: i64,
}

/// Check `bundle_json` against the log's key, and that its entry is for `payload` signed with
/// `signature_b64`.
pub fn verify_bundle(
    bundle_json: &str,
    rekor_key: &PublicKey,
    payload: &[u8],
    signature_b64: &str,
) -> Result<VerifiedBundle> {
    let bundle: Bundle = serde_json::from_str(bundle_json)
        .map_err(|e| Error::malformed(format!("rekor bundle: {e}")))?;
    // serde_json's Map (preserve_order) keeps input order; canonical form needs sorted keys.
    let canonical = canonical_json(&bundle.payload);
    let set = B64
        .decode(bundle.signed_entry_timestamp.trim())
        .map_err(|e| Error::malformed(format!("rekor bundle: SignedEntryTimestamp: {e}")))?;
    signature::verify(rekor_key, canonical.as_bytes(), &set).map_err(|_| {
        Error::verification(
            "rekor bundle: the signed entry timestamp does not verify with the given Rekor key",
        )
    })?;

    let field = |name: &str| {
        bundle
            .payload
            .get(name)
            .ok_or_else(|| Error::malformed(format!("rekor bundle: Payload has no {name}")))
    };
    let integrated_time = field("integratedTime")?
        .as_i64()
        .ok_or_else(|| Error::malformed("rekor bundle: integratedTime is not an integer"))?;
    let log_index = field("logIndex")?
        .as_i64()
        .ok_or_else(|| Error::malformed("rekor bundle: logIndex is not an integer"))?;
    let body = field("body")?
        .as_str()
        .ok_or_else(|| Error::malformed("rekor bundle: body is not a string"))?;
    let body = B64
        .decode(body)
        .map_err(|e| Error::malformed(format!("rekor bundle: body: {e}")))?;
    let entry: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Error::malformed(format!("rekor bundle: body: {e}")))?;
    let spec = &entry["spec"];
    let logged_sig = spec["signature"]["content"].as_str().unwrap_or_default();
    let logged_hash = spec["data"]["hash"]["value"].as_str().unwrap_or_default();
    if logged_sig != signature_b64.trim() {
        return Err(Error::verification(
            "rekor bundle: the logged signature is not this signature",
        ));
    }
    if logged_hash != hex_sha256(payload) {
        return Err(Error::verification(
            "rekor bundle: the logged payload hash is not this payload's",
        ));
    }
    Ok(VerifiedBundle {
        integrated_time,
        log_index,
    })
}

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// JSON with object keys sorted at every level and no insignificant whitespace.
pub fn canonical_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::String(k.clone()),
                        canonical_json(&map[k])
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;
    use serde_json::json;

    fn bundle_for(log: &PrivateKey, payload: &[u8], sig_b64: &str) -> String {
        let body = json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "signature": {"content": sig_b64, "publicKey": {"content": ""}},
            "data": {"hash": {"algorithm": "sha256", "value": hex_sha256(payload)}}}});
        let payload = json!({"logIndex": 7, "logID": "abcd", "integratedTime": 1700000000,
            "body": B64.encode(serde_json::to_vec(&body).unwrap())});
        let set = signature::sign(log, canonical_json(&payload).as_bytes());
        json!({"SignedEntryTimestamp": B64.encode(set), "Payload": payload}).to_string()
    }

    #[test]
    fn a_bundle_verifies_and_tampering_is_caught() {
        let log = PrivateKey::generate();
        let bundle = bundle_for(&log, b"p", "c2ln");
        let ok = verify_bundle(&bundle, &log.public_key(), b"p", "c2ln").unwrap();
        assert_eq!(ok.log_index, 7);
        assert!(verify_bundle(&bundle, &log.public_key(), b"q", "c2ln").is_err());
        assert!(verify_bundle(&bundle, &log.public_key(), b"p", "c2lo").is_err());
        let other = PrivateKey::generate();
        assert!(verify_bundle(&bundle, &other.public_key(), b"p", "c2ln").is_err());
        let tampered = bundle.replace("1700000000", "1700000001");
        assert!(verify_bundle(&tampered, &log.public_key(), b"p", "c2ln").is_err());
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": [1, "x"], "c": null}})),
            r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#
        );
    }
}
