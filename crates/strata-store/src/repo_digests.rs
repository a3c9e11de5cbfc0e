//! Repository digests (`repo@sha256:…`): the digest a registry gave an image when it was
//! pulled, or took when it was pushed. docker shows these as `RepoDigests` and in
//! `images --digests`; an image that never met a registry has none (a locally built or
//! loaded image's manifest digest is not a repository digest).
//!
//! Kept in the generic record table [`REPO_DIGESTS_TABLE`]: key = the image record's
//! manifest digest, value = JSON list of `repo@digest` strings, oldest first.

use redb::{ReadableTable, TableDefinition};
use strata_oci::Digest;

use crate::error::{Error, Result};
use crate::meta;

/// Records table of repository digests, keyed by the local image's manifest digest.
pub const REPO_DIGESTS_TABLE: &str = "repo-digests";

impl crate::Store {
    /// Note that `repo_digest` (`name@sha256:…`) names the image whose local manifest digest
    /// is `manifest`. Read and update happen in one transaction, so concurrent pulls and
    /// pushes lose nothing; a repository keeps only its latest digest, as docker does.
    pub fn add_repo_digest(&self, manifest: &Digest, repo_digest: &str) -> Result<()> {
        let name = meta::record_table_name(REPO_DIGESTS_TABLE)?;
        let repo = repo_digest.split_once('@').map_or(repo_digest, |(r, _)| r);
        meta::write(&self.layout, |txn| {
            let mut t = txn
                .open_table(TableDefinition::<&str, &[u8]>::new(&name))
                .map_err(|e| Error::db("open table", e))?;
            let key = manifest.to_string();
            let mut list: Vec<String> = match t.get(key.as_str()) {
                Ok(Some(v)) => serde_json::from_slice(v.value()).unwrap_or_default(),
                Ok(None) => Vec::new(),
                Err(e) => return Err(Error::db("get", e)),
            };
            list.retain(|d| d.split_once('@').map_or(d.as_str(), |(r, _)| r) != repo);
            list.push(repo_digest.to_owned());
            let bytes = serde_json::to_vec(&list).expect("strings serialise");
            t.insert(key.as_str(), bytes.as_slice())
                .map_err(|e| Error::db("insert", e))?;
            Ok(())
        })
    }

    /// The repository digests of the image whose local manifest digest is `manifest`.
    pub fn repo_digests(&self, manifest: &Digest) -> Result<Vec<String>> {
        Ok(self
            .get_record(REPO_DIGESTS_TABLE, &manifest.to_string())?
            .and_then(|v| serde_json::from_slice(&v).ok())
            .unwrap_or_default())
    }
}
