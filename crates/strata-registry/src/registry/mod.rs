//! The registry's operations, independent of HTTP: blobs, uploads, manifests, tags,
//! catalog and referrers over a [`Storage`].
//!
//! Concurrency: content is immutable and addressed by digest, so pushes need no lock. Tag
//! and manifest changes take a per-repository lock (in-process); across processes the
//! storage's atomic puts give last-writer-wins tags. Garbage collection relies on blob
//! `last_used` times, which every operation that makes a blob reachable refreshes.

mod manifests;
mod upload_state;
mod uploads;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use strata_oci::Digest;

use crate::error::{Error, ErrorKind, Result};
use crate::notify::{Event, Notifier};
use crate::storage::{keys, ByteStream, Storage};

pub use manifests::{StoredManifest, TagPage};

/// The outcome of [`Registry::claim_blob`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Touched and present: garbage collection will not delete it.
    Held,
    Missing,
    /// Garbage collection is deleting it right now.
    Pending,
}

/// The registry core shared by all request handlers.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Arc<dyn Storage>,
    repo_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    notifier: Option<Notifier>,
    /// Blobs whose `last_used` is older than this are touched again when re-used, so GC
    /// (whose grace period is at least twice this) never collects a blob in use.
    touch_after: Duration,
}

impl Registry {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self::with_options(storage, None, Duration::from_secs(30 * 60))
    }

    /// `gc_grace` is the shortest grace period GC will use over this storage.
    pub fn with_options(
        storage: Arc<dyn Storage>,
        notifier: Option<Notifier>,
        gc_grace: Duration,
    ) -> Self {
        Registry {
            inner: Arc::new(Inner {
                storage,
                repo_locks: Mutex::new(HashMap::new()),
                notifier,
                touch_after: gc_grace / 2,
            }),
        }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    pub(crate) fn notify(&self, event: Event) {
        if let Some(n) = &self.inner.notifier {
            n.send(event);
        }
    }

    /// The lock serialising tag and manifest changes within one repository.
    pub(crate) async fn lock_repo(&self, repo: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut map = self
                .inner
                .repo_locks
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if map.len() > 10_000 {
                map.retain(|_, v| Arc::strong_count(v) > 1);
            }
            map.entry(repo.to_string()).or_default().clone()
        };
        m.lock_owned().await
    }

    /// Refreshes a blob's `last_used` when it is getting old (keeps HEAD cheap). `false`
    /// when the blob vanished meanwhile (garbage collection got there first).
    pub(crate) async fn keep_alive(&self, key: &str, modified: SystemTime) -> Result<bool> {
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default();
        if age > self.inner.touch_after {
            if let Err(e) = self.inner.storage.touch(key).await {
                return match self.inner.storage.stat(key).await? {
                    None => Ok(false),
                    Some(_) => Err(e),
                };
            }
        }
        Ok(true)
    }

    /// Make a blob safe to reference from a manifest being pushed, following the protocol
    /// in `gc.rs`: touch it, then look for garbage collection's deletion notice, then check
    /// it still exists.
    pub(crate) async fn claim_blob(&self, digest: &Digest) -> Result<Claim> {
        let s = self.storage();
        let key = keys::blob(digest);
        if s.stat(&key).await?.is_none() {
            return Ok(Claim::Missing);
        }
        if let Err(e) = s.touch(&key).await {
            return match s.stat(&key).await? {
                None => Ok(Claim::Missing),
                Some(_) => Err(e),
            };
        }
        if let Some(notice) = s.stat(&keys::gc_pending(digest)).await? {
            let age = SystemTime::now()
                .duration_since(notice.modified)
                .unwrap_or_default();
            // A notice older than this was left by a collector that died mid-way.
            if age < crate::gc::PENDING_TTL {
                return Ok(Claim::Pending);
            }
        }
        Ok(match s.stat(&key).await? {
            Some(_) => Claim::Held,
            None => Claim::Missing,
        })
    }

    /// Size of a blob the repository may serve, or `BLOB_UNKNOWN`.
    pub async fn blob_size(&self, repo: &str, digest: &Digest) -> Result<u64> {
        let s = self.storage();
        let (lk, bk) = (keys::layer_link(repo, digest), keys::blob(digest));
        let (link, meta) = tokio::join!(s.stat(&lk), s.stat(&bk));
        let unknown = || {
            Error::new(
                ErrorKind::BlobUnknown,
                format!("blob {digest} unknown to repository {repo}"),
            )
        };
        if link?.is_none() {
            return Err(unknown());
        }
        let meta = meta?.ok_or_else(unknown)?;
        if !self.keep_alive(&meta.key, meta.modified).await? {
            return Err(unknown());
        }
        Ok(meta.size)
    }

    /// Streams `[start, end)` of a blob (after [`Self::blob_size`] said it exists).
    pub async fn blob_read(
        &self,
        digest: &Digest,
        start: u64,
        end: Option<u64>,
    ) -> Result<ByteStream<'static>> {
        self.storage()
            .get_range(&keys::blob(digest), start, end)
            .await
            .map_err(|e| e.or_kind(ErrorKind::BlobUnknown))
    }

    /// Removes the repository's link to a blob; GC reclaims the content later.
    pub async fn blob_delete(&self, repo: &str, digest: &Digest) -> Result<()> {
        let link = keys::layer_link(repo, digest);
        if self.storage().stat(&link).await?.is_none() {
            return Err(Error::new(
                ErrorKind::BlobUnknown,
                format!("blob {digest} unknown to repository {repo}"),
            ));
        }
        self.storage().delete(&link).await
    }

    /// Links a blob from `from` into `repo`; `Ok(false)` when `from` cannot serve it.
    pub async fn blob_mount(&self, repo: &str, from: &str, digest: &Digest) -> Result<bool> {
        let s = self.storage();
        if s.stat(&keys::layer_link(from, digest)).await?.is_none() {
            return Ok(false);
        }
        let Some(meta) = s.stat(&keys::blob(digest)).await? else {
            return Ok(false);
        };
        if !self.keep_alive(&meta.key, meta.modified).await? {
            return Ok(false);
        }
        self.link_blob(repo, digest).await?;
        Ok(true)
    }

    pub(crate) async fn link_blob(&self, repo: &str, digest: &Digest) -> Result<()> {
        let s = self.storage();
        s.put(
            &keys::layer_link(repo, digest),
            Bytes::from(digest.to_string()),
        )
        .await?;
        self.ensure_catalog(repo).await
    }

    async fn ensure_catalog(&self, repo: &str) -> Result<()> {
        let key = keys::catalog_entry(repo);
        if self.storage().stat(&key).await?.is_none() {
            self.storage()
                .put(&key, Bytes::from(repo.to_string()))
                .await?;
        }
        Ok(())
    }

    /// Whether the repository exists (has ever received content).
    pub async fn repo_exists(&self, repo: &str) -> Result<bool> {
        Ok(self
            .storage()
            .stat(&keys::catalog_entry(repo))
            .await?
            .is_some())
    }

    /// A page of repository names in lexical order after `last`.
    pub async fn catalog(
        &self,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<(Vec<String>, bool)> {
        let mut names: Vec<String> = self
            .storage()
            .list_children(keys::catalog())
            .await?
            .into_iter()
            .map(|e| e.replace('+', "/"))
            .collect();
        names.sort();
        Ok(paginate(names, n, last))
    }
}

/// Applies `n`/`last` pagination to a sorted list; returns the page and whether more follow.
pub fn paginate(sorted: Vec<String>, n: Option<usize>, last: Option<&str>) -> (Vec<String>, bool) {
    let start = match last {
        Some(l) => sorted.partition_point(|x| x.as_str() <= l),
        None => 0,
    };
    let rest = &sorted[start..];
    match n {
        Some(n) if n < rest.len() => (rest[..n].to_vec(), true),
        _ => (rest.to_vec(), false),
    }
}
