//! ECDSA P-256 signatures over SHA-256 of a payload, ASN.1 DER encoded, as cosign makes them.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature};

use crate::error::{Error, Result};
use crate::keys::{PrivateKey, PublicKey};

/// Sign `payload`; the DER signature.
pub fn sign(key: &PrivateKey, payload: &[u8]) -> Vec<u8> {
    let sig: Signature = key.0.sign(payload);
    sig.to_der().as_bytes().to_vec()
}

/// Check a DER signature over `payload`.
pub fn verify(key: &PublicKey, payload: &[u8], der: &[u8]) -> Result<()> {
    let sig = DerSignature::try_from(der)
        .map_err(|e| Error::verification(format!("the signature is not ASN.1 DER ECDSA: {e}")))?;
    key.0
        .verify(payload, &sig)
        .map_err(|_| Error::verification("the signature does not match the payload and key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_detects_tampering() {
        let key = PrivateKey::generate();
        let sig = sign(&key, b"payload");
        verify(&key.public_key(), b"payload", &sig).unwrap();
        assert!(verify(&key.public_key(), b"payloaD", &sig).is_err());
        let other = PrivateKey::generate();
        assert!(verify(&other.public_key(), b"payload", &sig).is_err());
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(verify(&key.public_key(), b"payload", &bad).is_err());
    }
}
