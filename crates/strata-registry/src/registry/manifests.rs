//! Manifests, tags and referrers.
//!
//! A manifest is stored as a blob (content-addressed, shared) plus a revision link in the
//! repository whose body is its media type. Tags are small objects holding a digest.
//! Referrers are indexed at push time under the subject's digest.

use bytes::Bytes;
use serde_json::{json, Value};
use strata_oci::{Digest, Digester};

use super::{paginate, Claim, Registry};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{self, ManifestInfo};
use crate::names::{parse_digest, Reference};
use crate::notify::{Action, Event};
use crate::storage::keys;

/// A manifest as served.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Bytes,
}

/// One page of a tag listing.
#[derive(Debug, Clone)]
pub struct TagPage {
    pub tags: Vec<String>,
    pub more: bool,
}

impl Registry {
    /// Resolves a reference to a digest the repository holds.
    pub async fn resolve(&self, repo: &str, reference: &Reference) -> Result<Digest> {
        let unknown = || {
            Error::new(
                ErrorKind::ManifestUnknown,
                format!("manifest {reference} unknown to repository {repo}"),
            )
        };
        match reference {
            Reference::Digest(d) => Ok(d.clone()),
            Reference::Tag(t) => {
                let body = self
                    .storage()
                    .get(&keys::tag(repo, t))
                    .await
                    .map_err(|e| e.or_kind(ErrorKind::ManifestUnknown))?;
                parse_digest(std::str::from_utf8(&body).map_err(|_| unknown())?.trim())
                    .map_err(|_| unknown())
            }
        }
    }

    pub async fn manifest_get(&self, repo: &str, reference: &Reference) -> Result<StoredManifest> {
        let digest = self.resolve(repo, reference).await?;
        let unknown = || {
            Error::new(
                ErrorKind::ManifestUnknown,
                format!("manifest {digest} unknown to repository {repo}"),
            )
        };
        let media = self
            .storage()
            .get(&keys::revision(repo, &digest))
            .await
            .map_err(|e| e.or_kind(ErrorKind::ManifestUnknown))?;
        let bytes = self
            .storage()
            .get(&keys::blob(&digest))
            .await
            .map_err(|e| e.or_kind(ErrorKind::ManifestUnknown))?;
        if Digest::of_same_algorithm(&digest, &bytes) != digest {
            return Err(Error::storage(format!(
                "stored manifest {digest} is corrupt"
            )));
        }
        let media_type = String::from_utf8(media.to_vec()).map_err(|_| unknown())?;
        Ok(StoredManifest {
            digest,
            media_type,
            bytes,
        })
    }

    /// Claim every blob and child manifest `info` references (see [`Registry::claim_blob`]),
    /// concurrently; a blob must also be linked into `repo`, a child manifest be one of its
    /// revisions.
    async fn claim_references(&self, repo: &str, info: &ManifestInfo) -> Result<()> {
        let blobs = info
            .blobs
            .iter()
            .map(|b| (b, keys::layer_link(repo, b), "manifest references blob"));
        let manifests = info
            .manifests
            .iter()
            .map(|m| (m, keys::revision(repo, m), "index references manifest"));
        let claims = blobs
            .chain(manifests)
            .map(|(d, membership, what)| async move {
                if self.storage().stat(&membership).await?.is_none()
                    || self.claim_blob(d).await? != Claim::Held
                {
                    return Err(Error::new(
                        ErrorKind::ManifestBlobUnknown,
                        format!("{what} {d} unknown to repository {repo}"),
                    ));
                }
                Ok(())
            });
        futures::future::try_join_all(claims).await?;
        Ok(())
    }

    /// Make the manifest's own bytes present and claimed. If garbage collection is deleting
    /// an earlier copy, wait for it to finish rather than write bytes it may delete.
    async fn store_manifest_blob(&self, digest: &Digest, bytes: &Bytes) -> Result<()> {
        let deadline = std::time::Instant::now() + crate::gc::PENDING_TTL;
        loop {
            match self.claim_blob(digest).await? {
                Claim::Held => return Ok(()),
                Claim::Missing => {
                    self.storage()
                        .put(&keys::blob(digest), bytes.clone())
                        .await?
                }
                Claim::Pending if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await
                }
                Claim::Pending => {
                    return Err(Error::new(
                        ErrorKind::Storage,
                        format!("manifest {digest} is being garbage-collected; try again"),
                    ))
                }
            }
        }
    }

    /// Stores a manifest after checking that everything it references is present.
    /// Returns its digest and parsed fields.
    pub async fn manifest_put(
        &self,
        repo: &str,
        reference: &Reference,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<(Digest, ManifestInfo)> {
        self.manifest_put_tagged(repo, reference, &[], content_type, bytes)
            .await
    }

    /// [`Registry::manifest_put`] that also points `extra_tags` at the manifest (OCI 1.1's
    /// `?tag=` parameters on a push by digest), in the same step: every tag names the
    /// digest the manifest was pushed under, sha512 included.
    pub async fn manifest_put_tagged(
        &self,
        repo: &str,
        reference: &Reference,
        extra_tags: &[String],
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<(Digest, ManifestInfo)> {
        let info = manifest::parse(&bytes, content_type)?;
        let digest = match reference {
            Reference::Digest(d) => {
                let actual = d.of_same_algorithm(&bytes);
                if &actual != d {
                    return Err(Error::new(
                        ErrorKind::DigestInvalid,
                        format!("manifest has digest {actual}, not {d}"),
                    ));
                }
                actual
            }
            Reference::Tag(_) => {
                let mut h = Digester::sha256();
                h.update(&bytes);
                h.finish()
            }
        };
        let s = self.storage();
        // Claim every referenced blob and the manifest's own bytes before writing anything.
        self.claim_references(repo, &info).await?;
        self.store_manifest_blob(&digest, &bytes).await?;
        let _guard = self.lock_repo(repo).await;
        s.put(
            &keys::revision(repo, &digest),
            Bytes::from(info.media_type.clone()),
        )
        .await?;
        if let Some(subject) = &info.subject {
            let mut desc = json!({
                "mediaType": info.media_type,
                "digest": digest.to_string(),
                "size": bytes.len(),
            });
            if let Some(a) = &info.artifact_type {
                desc["artifactType"] = json!(a);
            }
            if let Some(a) = &info.annotations {
                desc["annotations"] = a.clone();
            }
            s.put(
                &keys::referrer(repo, subject, &digest),
                Bytes::from(desc.to_string()),
            )
            .await?;
        }
        let tag = match reference {
            Reference::Tag(t) => Some(t.clone()),
            Reference::Digest(_) => None,
        };
        let tags: Vec<&String> = tag.iter().chain(extra_tags.iter()).collect();
        // What each tag named before, to put back if the push is undone below.
        let mut previous = Vec::with_capacity(tags.len());
        for t in &tags {
            previous.push(s.get(&keys::tag(repo, t)).await.ok());
            s.put(&keys::tag(repo, t), Bytes::from(digest.to_string()))
                .await?;
        }
        self.ensure_catalog(repo).await?;
        // Claim everything again now that the revision is visible (the protocol in gc.rs):
        // a collector whose mark set missed the revision either sees these claims and keeps
        // the blobs, or is caught deleting one; then the push is undone and refused.
        let all: Vec<&Digest> = info
            .blobs
            .iter()
            .chain(info.manifests.iter())
            .chain(std::iter::once(&digest))
            .collect();
        let claims = futures::future::try_join_all(all.iter().map(|b| self.claim_blob(b))).await?;
        if let Some((b, _)) = all.iter().zip(&claims).find(|(_, c)| **c != Claim::Held) {
            s.delete(&keys::revision(repo, &digest)).await?;
            for (t, old) in tags.iter().zip(&previous) {
                match old {
                    Some(old) => s.put(&keys::tag(repo, t), old.clone()).await?,
                    None => s.delete(&keys::tag(repo, t)).await?,
                }
            }
            return Err(Error::new(
                ErrorKind::ManifestBlobUnknown,
                format!(
                    "blob {b} was garbage-collected while the manifest was pushed; push it again"
                ),
            ));
        }
        drop(_guard);
        if tags.is_empty() {
            self.notify(Event::new(
                Action::Push,
                repo,
                &digest,
                None,
                &info.media_type,
                bytes.len() as u64,
            ));
        }
        for t in tags {
            self.notify(Event::new(
                Action::Push,
                repo,
                &digest,
                Some(t.clone()),
                &info.media_type,
                bytes.len() as u64,
            ));
        }
        Ok((digest, info))
    }

    /// Deletes a tag (reference is a tag) or a manifest and every tag pointing at it.
    pub async fn manifest_delete(&self, repo: &str, reference: &Reference) -> Result<()> {
        let s = self.storage();
        let _guard = self.lock_repo(repo).await;
        match reference {
            Reference::Tag(t) => {
                let digest = self.resolve(repo, reference).await?;
                s.delete(&keys::tag(repo, t)).await?;
                drop(_guard);
                self.notify(Event::new(
                    Action::Delete,
                    repo,
                    &digest,
                    Some(t.clone()),
                    "",
                    0,
                ));
            }
            Reference::Digest(d) => {
                let rev = keys::revision(repo, d);
                if s.stat(&rev).await?.is_none() {
                    return Err(Error::new(
                        ErrorKind::ManifestUnknown,
                        format!("manifest {d} unknown to repository {repo}"),
                    ));
                }
                // Drop its referrer entry (if it had a subject) and the tags naming it.
                if let Ok(bytes) = s.get(&keys::blob(d)).await {
                    if let Ok(info) = manifest::parse(&bytes, None) {
                        if let Some(subject) = info.subject {
                            s.delete(&keys::referrer(repo, &subject, d)).await?;
                        }
                    }
                }
                for tag in s.list_children(&keys::tags(repo)).await? {
                    let key = keys::tag(repo, &tag);
                    if let Ok(body) = s.get(&key).await {
                        if body.as_ref() == d.to_string().as_bytes() {
                            s.delete(&key).await?;
                        }
                    }
                }
                s.delete(&rev).await?;
                drop(_guard);
                self.notify(Event::new(Action::Delete, repo, d, None, "", 0));
            }
        }
        Ok(())
    }

    pub async fn tags(&self, repo: &str, n: Option<usize>, last: Option<&str>) -> Result<TagPage> {
        if !self.repo_exists(repo).await? {
            return Err(Error::new(
                ErrorKind::NameUnknown,
                format!("repository {repo} unknown"),
            ));
        }
        let mut tags = self.storage().list_children(&keys::tags(repo)).await?;
        tags.sort();
        let (tags, more) = paginate(tags, n, last);
        Ok(TagPage { tags, more })
    }

    /// Tags with the digest they point at and when they were last set.
    pub async fn tag_details(
        &self,
        repo: &str,
    ) -> Result<Vec<(String, Digest, std::time::SystemTime)>> {
        let prefix = keys::tags(repo);
        let mut out = Vec::new();
        for m in self.storage().list(&prefix).await? {
            let name = m.key[prefix.len()..].to_string();
            if let Ok(body) = self.storage().get(&m.key).await {
                if let Ok(d) = parse_digest(String::from_utf8_lossy(&body).trim()) {
                    out.push((name, d, m.modified));
                }
            }
        }
        Ok(out)
    }

    /// The referrers of `subject` as an OCI image index, optionally filtered by artifact type.
    pub async fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Value> {
        let s = self.storage();
        let prefix = keys::referrers(repo, subject);
        let mut items = s.list(&prefix).await?;
        items.sort_by(|a, b| a.key.cmp(&b.key));
        let mut manifests = Vec::new();
        for m in items {
            let Ok(body) = s.get(&m.key).await else {
                continue;
            };
            let Ok(desc) = serde_json::from_slice::<Value>(&body) else {
                continue;
            };
            if let Some(want) = artifact_type {
                if desc.get("artifactType").and_then(Value::as_str) != Some(want) {
                    continue;
                }
            }
            manifests.push(desc);
        }
        Ok(json!({
            "schemaVersion": 2,
            "mediaType": strata_oci::media_type::OCI_INDEX,
            "manifests": manifests,
        }))
    }

    /// Every repository name (for GC and retention).
    pub async fn all_repositories(&self) -> Result<Vec<String>> {
        Ok(self.catalog(None, None).await?.0)
    }
}
