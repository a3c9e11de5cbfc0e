//! Verification of stored signatures against a key and the image they should name.

use std::collections::BTreeMap;

use strata_oci::Digest;

use crate::error::{Error, Result};
use crate::keys::PublicKey;
use crate::payload::SimpleSigning;
use crate::rekor;
use crate::signature;
use crate::storage::StoredSignature;

/// What a verification requires beyond a valid signature.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// The repository the payload must name (`critical.identity.docker-reference`); `None`
    /// skips the check (`--ignore-reference`).
    pub reference: Option<String>,
    /// Annotations the payload must carry with these values (`-a key=value`).
    pub annotations: BTreeMap<String, String>,
    /// The Rekor public key that bundles are checked against, when given.
    pub rekor_key: Option<PublicKey>,
}

/// A signature that verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub payload: SimpleSigning,
    pub raw_payload: Vec<u8>,
    pub bundle: Option<rekor::VerifiedBundle>,
}

/// Why one signature did not verify (reported when none does).
#[derive(Debug, Clone)]
pub struct Rejected {
    pub index: usize,
    pub reason: String,
}

/// Verify each signature for `digest`; returns those that verify and why the others did not.
pub fn verify_all(
    signatures: &[StoredSignature],
    key: &PublicKey,
    digest: &Digest,
    req: &Requirements,
) -> (Vec<Verified>, Vec<Rejected>) {
    let mut ok = Vec::new();
    let mut rejected = Vec::new();
    for (index, sig) in signatures.iter().enumerate() {
        match verify_one(sig, key, digest, req) {
            Ok(v) => ok.push(v),
            Err(e) => rejected.push(Rejected {
                index,
                reason: e.to_string(),
            }),
        }
    }
    (ok, rejected)
}

fn verify_one(
    sig: &StoredSignature,
    key: &PublicKey,
    digest: &Digest,
    req: &Requirements,
) -> Result<Verified> {
    signature::verify(key, &sig.payload, &sig.signature_der()?)?;
    let payload = SimpleSigning::parse(&sig.payload)?;
    if payload.critical.image.docker_manifest_digest != digest.to_string() {
        return Err(Error::verification(format!(
            "the payload signs {}, not {digest}",
            payload.critical.image.docker_manifest_digest
        )));
    }
    if let Some(reference) = &req.reference {
        if &payload.critical.identity.docker_reference != reference {
            return Err(Error::verification(format!(
                "the payload names {:?}, not {reference:?} (use --ignore-reference to accept it)",
                payload.critical.identity.docker_reference
            )));
        }
    }
    for (k, v) in &req.annotations {
        match payload.annotation(k) {
            Some(actual) if &actual == v => {}
            Some(actual) => {
                return Err(Error::verification(format!(
                    "annotation {k} is {actual:?}, not {v:?}"
                )))
            }
            None => return Err(Error::verification(format!("annotation {k} is missing"))),
        }
    }
    let bundle = match (&req.rekor_key, &sig.bundle) {
        (Some(rekor_key), Some(bundle)) => Some(rekor::verify_bundle(
            bundle,
            rekor_key,
            &sig.payload,
            &sig.signature_b64,
        )?),
        _ => None,
    };
    Ok(Verified {
        payload,
        raw_payload: sig.payload.clone(),
        bundle,
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;

    use super::*;
    use crate::keys::PrivateKey;

    fn signed(
        key: &PrivateKey,
        reference: &str,
        digest: &Digest,
        ann: &[(&str, &str)],
    ) -> StoredSignature {
        let ann: BTreeMap<String, String> = ann
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let payload = SimpleSigning::new(reference, digest, &ann).to_bytes();
        let sig = signature::sign(key, &payload);
        StoredSignature {
            payload,
            signature_b64: B64.encode(sig),
            bundle: None,
        }
    }

    #[test]
    fn checks_digest_reference_and_annotations() {
        let key = PrivateKey::generate();
        let d = Digest::sha256_of(b"image");
        let other = Digest::sha256_of(b"other");
        let sigs = vec![
            signed(&key, "r/app", &d, &[("env", "prod")]),
            signed(&key, "r/app", &other, &[]),
            signed(&key, "r/evil", &d, &[]),
            signed(&PrivateKey::generate(), "r/app", &d, &[]),
        ];
        let req = Requirements {
            reference: Some("r/app".into()),
            ..Default::default()
        };
        let (ok, rejected) = verify_all(&sigs, &key.public_key(), &d, &req);
        assert_eq!(ok.len(), 1);
        assert_eq!(rejected.len(), 3);
        let mut req = Requirements::default();
        req.annotations.insert("env".into(), "prod".into());
        let (ok, _) = verify_all(&sigs, &key.public_key(), &d, &req);
        assert_eq!(ok.len(), 1, "only the annotated signature passes");
    }
}
