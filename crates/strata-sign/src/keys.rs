//! Key files: cosign's encrypted private key, PEM public keys, and plain PKCS#8 / SEC1 keys.
//!
//! cosign's `cosign.key` is a PEM block (`ENCRYPTED SIGSTORE PRIVATE KEY`; older cosign wrote
//! `ENCRYPTED COSIGN PRIVATE KEY`) whose body is JSON:
//! `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":B64},
//!   "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}`.
//! The secretbox key is scrypt(password, salt) (32 bytes) and the plaintext is the PKCS#8 DER of
//! an ECDSA P-256 private key.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use xsalsa20poly1305::aead::{Aead, KeyInit};
use xsalsa20poly1305::XSalsa20Poly1305;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// The PEM label cosign 2 writes for encrypted private keys.
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label older cosign releases wrote; still read.
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

/// cosign's scrypt cost parameters.
const SCRYPT_N: u32 = 32768;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// The most expensive scrypt parameters a key file may ask for: a hostile file must not be
/// able to make reading it take minutes or gigabytes (log2 N ≤ 20 and r·p ≤ 64 stay under
/// 1 GiB of memory).
const MAX_SCRYPT_LOG_N: u8 = 20;
const MAX_SCRYPT_RP: u32 = 64;

/// A private key that signs.
#[derive(Clone)]
pub struct PrivateKey(pub(crate) SigningKey);

impl std::fmt::Debug for PrivateKey {
    /// Never prints key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(P-256)")
    }
}

/// A public key that verifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(pub(crate) VerifyingKey);

impl PrivateKey {
    /// A new random P-256 key.
    pub fn generate() -> PrivateKey {
        PrivateKey(SigningKey::random(&mut OsRng))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// The key as cosign writes `cosign.key`, encrypted with `password` (which may be empty,
    /// as cosign allows).
    pub fn to_cosign_pem(&self, password: &[u8]) -> Result<String> {
        let der = self
            .0
            .to_pkcs8_der()
            .map_err(|e| Error::malformed(format!("encoding the private key: {e}")))?;
        let mut salt = [0u8; 32];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let kdf = Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: SCRYPT_N,
                r: SCRYPT_R,
                p: SCRYPT_P,
            },
            salt: B64.encode(salt),
        };
        let key = kdf.derive(password)?;
        let ciphertext = XSalsa20Poly1305::new(key.as_slice().into())
            .encrypt(&nonce.into(), der.as_bytes())
            .map_err(|_| Error::malformed("sealing the private key failed"))?;
        let envelope = Envelope {
            kdf,
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: B64.encode(nonce),
            },
            ciphertext: B64.encode(ciphertext),
        };
        let json = serde_json::to_vec(&envelope).expect("envelope serialises");
        pem_rfc7468::encode_string(
            SIGSTORE_PRIVATE_KEY_LABEL,
            pem_rfc7468::LineEnding::LF,
            &json,
        )
        .map_err(|e| Error::malformed(format!("encoding PEM: {e}")))
    }

    /// The key as an unencrypted PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::malformed(format!("encoding the private key: {e}")))
    }

    /// Read a private key from PEM text. `password` is asked for only when the key is
    /// encrypted. `origin` names the file in errors.
    pub fn from_pem(
        text: &str,
        origin: &str,
        password: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<PrivateKey> {
        let (label, body) = pem_rfc7468::decode_vec(text.trim().as_bytes())
            .map_err(|e| Error::malformed(format!("{origin}: not a PEM key: {e}")))?;
        let key = match label {
            SIGSTORE_PRIVATE_KEY_LABEL | COSIGN_PRIVATE_KEY_LABEL => {
                let password = Zeroizing::new(password()?);
                let der = decrypt_cosign(&body, &password, origin)?;
                SigningKey::from_pkcs8_der(&der)
                    .map_err(|e| Error::unsupported(format!("{origin}: {e} (only ECDSA P-256 keys are supported)")))?
            }
            "PRIVATE KEY" => SigningKey::from_pkcs8_der(&body).map_err(|e| {
                Error::unsupported(format!("{origin}: {e} (only ECDSA P-256 keys are supported)"))
            })?,
            "ENCRYPTED PRIVATE KEY" => {
                let password = Zeroizing::new(password()?);
                let info = pkcs8::EncryptedPrivateKeyInfo::try_from(body.as_slice())
                    .map_err(|e| Error::malformed(format!("{origin}: {e}")))?;
                let doc = info.decrypt(password.as_slice()).map_err(|_| {
                    Error::new(ErrorKind::Decrypt, format!("{origin}: wrong password, or an encryption scheme strata does not support"))
                })?;
                SigningKey::from_pkcs8_der(doc.as_bytes()).map_err(|e| {
                    Error::unsupported(format!("{origin}: {e} (only ECDSA P-256 keys are supported)"))
                })?
            }
            "EC PRIVATE KEY" => {
                let secret = p256::SecretKey::from_sec1_der(&body).map_err(|e| {
                    Error::unsupported(format!("{origin}: {e} (only P-256 EC keys are supported)"))
                })?;
                SigningKey::from(secret)
            }
            other => {
                return Err(Error::unsupported(format!(
                    "{origin}: a PEM block labelled {other:?} is not a private key strata reads \
                     (expected {SIGSTORE_PRIVATE_KEY_LABEL}, PRIVATE KEY, ENCRYPTED PRIVATE KEY or EC PRIVATE KEY)"
                )))
            }
        };
        Ok(PrivateKey(key))
    }
}

impl PublicKey {
    /// The key as `cosign.pub`: a PEM `PUBLIC KEY` (PKIX).
    pub fn to_pem(&self) -> Result<String> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| Error::malformed(format!("encoding the public key: {e}")))
    }

    /// Read a PEM `PUBLIC KEY`; `origin` names the file in errors.
    pub fn from_pem(text: &str, origin: &str) -> Result<PublicKey> {
        let (label, body) = pem_rfc7468::decode_vec(text.trim().as_bytes())
            .map_err(|e| Error::malformed(format!("{origin}: not a PEM key: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(Error::unsupported(format!(
                "{origin}: a PEM block labelled {label:?} is not a public key (expected PUBLIC KEY)"
            )));
        }
        VerifyingKey::from_public_key_der(&body)
            .map(PublicKey)
            .map_err(|e| {
                Error::unsupported(format!(
                    "{origin}: {e} (only ECDSA P-256 keys are supported)"
                ))
            })
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u32,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

impl Kdf {
    fn derive(&self, password: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        if self.name != "scrypt" {
            return Err(Error::unsupported(format!(
                "key derivation {:?} is not supported (cosign uses scrypt)",
                self.name
            )));
        }
        let ScryptParams { n, r, p } = self.params;
        if !n.is_power_of_two() || n < 2 {
            return Err(Error::malformed(format!(
                "scrypt N={n} is not a power of two"
            )));
        }
        let log_n = n.trailing_zeros() as u8;
        if log_n > MAX_SCRYPT_LOG_N || r.saturating_mul(p) > MAX_SCRYPT_RP || r == 0 || p == 0 {
            return Err(Error::unsupported(format!(
                "scrypt parameters N={n} r={r} p={p} are beyond what strata accepts (cosign writes N=32768 r=8 p=1)"
            )));
        }
        let salt = B64
            .decode(&self.salt)
            .map_err(|e| Error::malformed(format!("key salt: {e}")))?;
        let params = scrypt::Params::new(log_n, r, p, 32)
            .map_err(|e| Error::malformed(format!("scrypt parameters: {e}")))?;
        let mut key = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(password, &salt, &params, key.as_mut_slice())
            .map_err(|e| Error::malformed(format!("scrypt: {e}")))?;
        Ok(key)
    }
}

fn decrypt_cosign(body: &[u8], password: &[u8], origin: &str) -> Result<Zeroizing<Vec<u8>>> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| Error::malformed(format!("{origin}: encrypted key envelope: {e}")))?;
    if envelope.cipher.name != "nacl/secretbox" {
        return Err(Error::unsupported(format!(
            "{origin}: cipher {:?} is not supported (cosign uses nacl/secretbox)",
            envelope.cipher.name
        )));
    }
    let nonce = B64
        .decode(&envelope.cipher.nonce)
        .map_err(|e| Error::malformed(format!("{origin}: nonce: {e}")))?;
    if nonce.len() != 24 {
        return Err(Error::malformed(format!(
            "{origin}: the nonce has {} bytes, not 24",
            nonce.len()
        )));
    }
    let ciphertext = B64
        .decode(&envelope.ciphertext)
        .map_err(|e| Error::malformed(format!("{origin}: ciphertext: {e}")))?;
    let key = envelope.kdf.derive(password)?;
    let plain = XSalsa20Poly1305::new(key.as_slice().into())
        .decrypt(nonce.as_slice().into(), ciphertext.as_slice())
        .map_err(|_| {
            Error::new(
                ErrorKind::Decrypt,
                format!("{origin}: wrong password for the encrypted key"),
            )
        })?;
    Ok(Zeroizing::new(plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_key_round_trips_and_refuses_a_wrong_password() {
        let key = PrivateKey::generate();
        let pem = key.to_cosign_pem(b"hunter2").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
        let back = PrivateKey::from_pem(&pem, "cosign.key", || Ok(b"hunter2".to_vec())).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let err = PrivateKey::from_pem(&pem, "cosign.key", || Ok(b"nope".to_vec())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decrypt);
        assert!(err.to_string().contains("cosign.key"), "{err}");
    }

    #[test]
    fn plain_pkcs8_and_public_pem_round_trip() {
        let key = PrivateKey::generate();
        let pem = key.to_pkcs8_pem().unwrap();
        let back = PrivateKey::from_pem(&pem, "k.pem", || panic!("no password needed")).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let public = key.public_key().to_pem().unwrap();
        assert_eq!(
            PublicKey::from_pem(&public, "k.pub").unwrap(),
            key.public_key()
        );
    }

    #[test]
    fn expensive_scrypt_parameters_are_refused() {
        let kdf = Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: 1 << 24,
                r: 8,
                p: 1,
            },
            salt: B64.encode([0u8; 32]),
        };
        assert_eq!(kdf.derive(b"").unwrap_err().kind(), ErrorKind::Unsupported);
    }
}
