//! The one object that describes an upload in progress (`_uploads/<id>/state`, format
//! `upload-state-v1`): bytes received, chunks written, and the hash of everything so far
//! as a resumable hasher state, so a chunk is hashed once, as it arrives, by whichever
//! server receives it.
//!
//! The hasher state is the `SerializableState` of RustCrypto's `sha2` 0.11 (the version
//! that can save and restore a running hash; the rest of the workspace is on 0.10, whose
//! hashers cannot). The bytes are that crate's format: a state saved by one version is only
//! restored by the same major version, which the format name pins.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2_resumable::digest::common::hazmat::{SerializableState, SerializedState};
use sha2_resumable::Digest as _;
use strata_oci::{Algorithm, Digest};

use crate::error::{Error, Result};

/// The record's format name; a record of another format is refused, never guessed at.
const FORMAT: &str = "upload-state-v1";

/// A hash in progress that can be saved into the state object and restored from it.
#[derive(Clone)]
pub(crate) enum RunningHash {
    Sha256(sha2_resumable::Sha256),
    Sha512(sha2_resumable::Sha512),
}

impl RunningHash {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => RunningHash::Sha256(sha2_resumable::Sha256::new()),
            Algorithm::Sha512 => RunningHash::Sha512(sha2_resumable::Sha512::new()),
        }
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            RunningHash::Sha256(_) => Algorithm::Sha256,
            RunningHash::Sha512(_) => Algorithm::Sha512,
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            RunningHash::Sha256(h) => h.update(data),
            RunningHash::Sha512(h) => h.update(data),
        }
    }

    pub(crate) fn finish(self) -> Result<Digest> {
        let (alg, hex) = match self {
            RunningHash::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            RunningHash::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        Digest::parse(&format!("{alg}:{hex}"))
            .map_err(|e| Error::storage(format!("running upload hash: {e}")))
    }

    fn save(&self) -> Vec<u8> {
        match self {
            RunningHash::Sha256(h) => h.serialize().to_vec(),
            RunningHash::Sha512(h) => h.serialize().to_vec(),
        }
    }

    fn restore(algorithm: Algorithm, bytes: &[u8]) -> Option<Self> {
        Some(match algorithm {
            Algorithm::Sha256 => {
                let st = SerializedState::<sha2_resumable::Sha256>::try_from(bytes).ok()?;
                RunningHash::Sha256(sha2_resumable::Sha256::deserialize(&st).ok()?)
            }
            Algorithm::Sha512 => {
                let st = SerializedState::<sha2_resumable::Sha512>::try_from(bytes).ok()?;
                RunningHash::Sha512(sha2_resumable::Sha512::deserialize(&st).ok()?)
            }
        })
    }
}

/// An upload's state, as stored.
#[derive(Clone)]
pub(crate) struct UploadState {
    /// Bytes received so far.
    pub offset: u64,
    /// Chunk objects written, numbered from 0.
    pub chunks: u64,
    pub hash: RunningHash,
    /// When the upload started (RFC 3339), for operators reading storage.
    pub started: String,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    format: String,
    offset: u64,
    chunks: u64,
    algorithm: String,
    hash_state: String,
    started: String,
}

impl UploadState {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        UploadState {
            offset: 0,
            chunks: 0,
            hash: RunningHash::new(algorithm),
            started: chrono::Utc::now().to_rfc3339(),
        }
    }

    pub(crate) fn encode(&self) -> bytes::Bytes {
        let stored = Stored {
            format: FORMAT.to_owned(),
            offset: self.offset,
            chunks: self.chunks,
            algorithm: self.hash.algorithm().as_str().to_owned(),
            hash_state: STANDARD.encode(self.hash.save()),
            started: self.started.clone(),
        };
        serde_json::to_vec(&stored)
            .expect("upload state serialises")
            .into()
    }

    /// Parses a stored state; `what` names the upload in the error.
    pub(crate) fn decode(bytes: &[u8], what: &str) -> Result<Self> {
        let bad = |why: &str| Error::storage(format!("upload state of {what} is damaged: {why}"));
        let s: Stored = serde_json::from_slice(bytes).map_err(|_| bad("not json"))?;
        if s.format != FORMAT {
            return Err(bad(&format!("unknown format {:?}", s.format)));
        }
        let algorithm = match s.algorithm.as_str() {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(bad("unknown hash algorithm")),
        };
        let raw = STANDARD
            .decode(&s.hash_state)
            .map_err(|_| bad("hash state encoding"))?;
        let hash = RunningHash::restore(algorithm, &raw).ok_or_else(|| bad("hash state"))?;
        Ok(UploadState {
            offset: s.offset,
            chunks: s.chunks,
            hash,
            started: s.started,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_hash_resumes_where_it_stopped() {
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let mut st = UploadState::new(alg);
            st.hash.update(b"hello ");
            st.offset = 6;
            st.chunks = 1;
            let mut back = UploadState::decode(&st.encode(), "u").unwrap();
            assert_eq!((back.offset, back.chunks), (6, 1));
            back.hash.update(b"world");
            let want = match alg {
                Algorithm::Sha256 => Digest::sha256_of(b"hello world"),
                Algorithm::Sha512 => {
                    let mut d = strata_oci::Digester::new(Algorithm::Sha512);
                    d.update(b"hello world");
                    d.finish()
                }
            };
            assert_eq!(back.hash.finish().unwrap(), want);
        }
        assert!(UploadState::decode(b"{}", "u").is_err());
        let mut v: serde_json::Value =
            serde_json::from_slice(&UploadState::new(Algorithm::Sha256).encode()).unwrap();
        v["format"] = "upload-state-v0".into();
        let e = UploadState::decode(&serde_json::to_vec(&v).unwrap(), "repo/u")
            .err()
            .unwrap();
        assert!(e.message().contains("repo/u"), "{}", e.message());
    }
}
