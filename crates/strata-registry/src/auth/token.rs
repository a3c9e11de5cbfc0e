//! Bearer tokens for the Docker token flow: compact JWTs signed with HMAC-SHA256.
//!
//! Why HMAC and not a keypair: the token issuer is built into the registry, so the
//! signer and verifier are the same processes and share one secret from the config
//! (several replicas behind a load balancer configure the same secret). `hmac` + `sha2`
//! are small RustCrypto crates with no extra crypto backend, and HS256 is a few lines.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Grant;
use crate::error::{Error, ErrorKind, Result};

type HmacSha256 = Hmac<Sha256>;

/// The claims strata puts in a registry token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub access: Vec<Grant>,
}

/// Signs claims into a compact JWT.
pub fn sign(claims: &Claims, secret: &[u8]) -> Result<String> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = serde_json::to_vec(claims)
        .map_err(|e| Error::storage(format!("encoding token claims: {e}")))?;
    let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(body));
    let mut mac = HmacSha256::new_from_slice(secret)
        .map_err(|e| Error::new(ErrorKind::Config, format!("token secret: {e}")))?;
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok(format!("{signing_input}.{sig}"))
}

/// Verifies a JWT's signature, algorithm, audience and validity window.
pub fn verify(token: &str, secret: &[u8], audience: &str, now: i64) -> Result<Claims> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Unauthorized,
            format!("invalid bearer token: {why}"),
        )
    };
    let mut parts = token.split('.');
    let (Some(h), Some(b), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a compact jwt"));
    };
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(h)
            .map_err(|_| bad("header encoding"))?,
    )
    .map_err(|_| bad("header json"))?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(bad("algorithm must be HS256"));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| bad("signature encoding"))?;
    let mut mac = HmacSha256::new_from_slice(secret)
        .map_err(|e| Error::new(ErrorKind::Config, format!("token secret: {e}")))?;
    mac.update(format!("{h}.{b}").as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| bad("signature mismatch"))?;
    let claims: Claims = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(b)
            .map_err(|_| bad("claims encoding"))?,
    )
    .map_err(|_| bad("claims json"))?;
    if claims.aud != audience {
        return Err(bad("wrong audience"));
    }
    if now >= claims.exp || now + 60 < claims.nbf {
        return Err(bad("expired or not yet valid"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "strata".into(),
            sub: "alice".into(),
            aud: "svc".into(),
            exp,
            nbf: 0,
            iat: 0,
            jti: "1".into(),
            access: vec![Grant {
                kind: "repository".into(),
                name: "a/b".into(),
                actions: vec!["pull".into()],
            }],
        }
    }

    #[test]
    fn round_trip_and_tamper() {
        let t = sign(&claims(100), b"k").unwrap();
        assert_eq!(verify(&t, b"k", "svc", 50).unwrap(), claims(100));
        assert!(verify(&t, b"other", "svc", 50).is_err());
        assert!(verify(&t, b"k", "svc2", 50).is_err());
        assert!(verify(&t, b"k", "svc", 100).is_err());
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(10_000)).unwrap());
        parts[1] = &forged;
        assert!(verify(&parts.join("."), b"k", "svc", 50).is_err());
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            forged
        );
        assert!(verify(&none_alg, b"k", "svc", 50).is_err());
    }
}
