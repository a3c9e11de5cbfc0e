//! The storage trait every backend implements, and the key layout the registry uses.
//!
//! Storage is a flat namespace of `/`-separated keys holding immutable-ish objects, the
//! smallest contract both a filesystem and S3 can honour:
//! - `put` and `put_stream` are atomic: readers see the old object or the whole new one.
//! - `rename` moves an object (atomic on a filesystem, copy + delete on S3).
//! - `list` is recursive; `list_children` returns only the next path segment.
//! - `modified` times drive garbage collection grace periods; `touch` refreshes them.
//!
//! All registry state lives here, so several servers can share one backend.

pub mod fs;
pub mod s3;

use std::io;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::Result;

/// A stream of object bytes.
pub type ByteStream<'a> = BoxStream<'a, io::Result<Bytes>>;

/// What `stat` and `list` report about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub modified: SystemTime,
}

/// A byte store addressed by keys. See the module docs for the guarantees.
#[async_trait::async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Reads a whole (small) object; `NotFound` when absent.
    async fn get(&self, key: &str) -> Result<Bytes>;
    /// Streams `[start, end)` of an object (`end = None` means to the end).
    async fn get_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<ByteStream<'static>>;
    /// Size and modification time, or `None` when absent.
    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>>;
    /// Writes a whole object atomically.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;
    /// Streams an object into place atomically with bounded memory; returns its size.
    async fn put_stream(&self, key: &str, data: ByteStream<'_>) -> Result<u64>;
    /// Moves an object; `NotFound` when `from` is absent.
    async fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// Deletes an object; deleting an absent object succeeds.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Every object under `prefix` (recursive), in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;
    /// The distinct next path segments below `prefix` (objects and "directories").
    async fn list_children(&self, prefix: &str) -> Result<Vec<String>>;
    /// Marks an object as recently used for garbage-collection grace periods.
    async fn touch(&self, key: &str) -> Result<()>;
    /// The last time an object was written or touched.
    async fn last_used(&self, key: &str) -> Result<Option<SystemTime>> {
        Ok(self.stat(key).await?.map(|m| m.modified))
    }

    /// Deletes every object under `prefix`.
    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        for meta in self.list(prefix).await? {
            self.delete(&meta.key).await?;
        }
        Ok(())
    }
}

/// Where each piece of registry state lives (format version `v1`).
pub mod keys {
    use strata_oci::Digest;

    fn algo_hex(d: &Digest) -> String {
        format!("{}/{}", d.algorithm().as_str(), d.hex())
    }

    /// The content of a blob (layers, configs and manifests alike), shared by all repositories.
    pub fn blob(d: &Digest) -> String {
        format!("v1/blobs/{}/{}/data", d.algorithm().as_str(), d.hex())
    }
    pub fn blobs_root() -> &'static str {
        "v1/blobs/"
    }
    pub fn repo_root(repo: &str) -> String {
        format!("v1/repositories/{repo}/")
    }
    /// A repository's claim on a blob: present when the repository may serve it.
    pub fn layer_link(repo: &str, d: &Digest) -> String {
        format!("v1/repositories/{repo}/_layers/{}", algo_hex(d))
    }
    pub fn layer_links(repo: &str) -> String {
        format!("v1/repositories/{repo}/_layers/")
    }
    /// A manifest revision of a repository; its body holds the media type.
    pub fn revision(repo: &str, d: &Digest) -> String {
        format!("v1/repositories/{repo}/_revisions/{}", algo_hex(d))
    }
    pub fn revisions(repo: &str) -> String {
        format!("v1/repositories/{repo}/_revisions/")
    }
    /// A tag; its body is the digest it points at.
    pub fn tag(repo: &str, tag: &str) -> String {
        format!("v1/repositories/{repo}/_tags/{tag}")
    }
    pub fn tags(repo: &str) -> String {
        format!("v1/repositories/{repo}/_tags/")
    }
    /// A referrer of `subject`: its body is the referrer's descriptor JSON.
    pub fn referrer(repo: &str, subject: &Digest, referrer: &Digest) -> String {
        format!(
            "v1/repositories/{repo}/_referrers/{}/{}",
            algo_hex(subject),
            algo_hex(referrer)
        )
    }
    pub fn referrers(repo: &str, subject: &Digest) -> String {
        format!("v1/repositories/{repo}/_referrers/{}/", algo_hex(subject))
    }
    pub fn upload_root(repo: &str, id: &str) -> String {
        format!("v1/repositories/{repo}/_uploads/{id}/")
    }
    pub fn uploads(repo: &str) -> String {
        format!("v1/repositories/{repo}/_uploads/")
    }
    /// The `n`th chunk of an upload, from 0 (zero-padded so keys sort in order).
    pub fn upload_chunk(repo: &str, id: &str, n: u64) -> String {
        format!("v1/repositories/{repo}/_uploads/{id}/chunks/{n:020}")
    }
    /// An upload's state: offset, chunk count, running hash (`registry/upload_state.rs`).
    pub fn upload_state(repo: &str, id: &str) -> String {
        format!("v1/repositories/{repo}/_uploads/{id}/state")
    }
    /// The catalog: one marker per repository, its name with `/` escaped as `+`.
    pub fn catalog_entry(repo: &str) -> String {
        format!("v1/catalog/{}", repo.replace('/', "+"))
    }
    pub fn catalog() -> &'static str {
        "v1/catalog/"
    }
    /// Garbage collection's notice that it is about to delete a blob (see `gc.rs`): a
    /// manifest push that finds it refuses to reference the blob.
    pub fn gc_pending(d: &Digest) -> String {
        format!("v1/gc-pending/{}", algo_hex(d))
    }
    pub fn gc_pending_root() -> &'static str {
        "v1/gc-pending/"
    }
}
