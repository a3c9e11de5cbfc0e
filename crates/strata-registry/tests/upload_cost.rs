//! Regression: a chunked upload's PATCH costs the same storage operations however many
//! chunks came before it (it used to list every earlier chunk, so 4,000 one-byte PATCHes
//! slowed down quadratically). Checked structurally, by counting the operations each PATCH
//! makes on either backend, not by timing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use strata_registry::storage::{ByteStream, ObjectMeta, Storage};
use strata_registry::{Registry, Result};

use common::Backend;

/// A storage that records every operation (name and key) it passes on.
struct Counting {
    inner: Arc<dyn Storage>,
    ops: Mutex<Vec<String>>,
}

impl Counting {
    fn note(&self, op: &str, key: &str) {
        self.ops.lock().unwrap().push(format!("{op} {key}"));
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.ops.lock().unwrap())
    }
}

#[async_trait::async_trait]
impl Storage for Counting {
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.note("get", key);
        self.inner.get(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<ByteStream<'static>> {
        self.note("get_range", key);
        self.inner.get_range(key, start, end).await
    }
    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>> {
        self.note("stat", key);
        self.inner.stat(key).await
    }
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.note("put", key);
        self.inner.put(key, data).await
    }
    async fn put_stream(&self, key: &str, data: ByteStream<'_>) -> Result<u64> {
        self.note("put_stream", key);
        self.inner.put_stream(key, data).await
    }
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.note("rename", from);
        self.inner.rename(from, to).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.note("delete", key);
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.note("list", prefix);
        self.inner.list(prefix).await
    }
    async fn list_children(&self, prefix: &str) -> Result<Vec<String>> {
        self.note("list_children", prefix);
        self.inner.list_children(prefix).await
    }
    async fn touch(&self, key: &str) -> Result<()> {
        self.note("touch", key);
        self.inner.touch(key).await
    }
    async fn last_used(&self, key: &str) -> Result<Option<SystemTime>> {
        self.note("last_used", key);
        self.inner.last_used(key).await
    }
}

/// The operations of one PATCH with the chunk number taken out of the keys, so two
/// PATCHes compare equal exactly when they do the same work.
fn shape(ops: &[String]) -> Vec<String> {
    ops.iter()
        .map(|op| {
            let (name, key) = op.split_once(' ').unwrap();
            let key = match key.rfind("/chunks/") {
                Some(i) => format!("{}/chunks/N", &key[..i]),
                None => key.to_owned(),
            };
            format!("{name} {key}")
        })
        .collect()
}

fn one_byte(b: u8) -> ByteStream<'static> {
    futures::stream::once(async move { Ok(Bytes::from(vec![b])) }).boxed()
}

async fn patch_cost_does_not_grow_with_the_upload(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(inner) = common::storage(b, dir.path()).await else {
        return;
    };
    let counting = Arc::new(Counting {
        inner,
        ops: Mutex::new(Vec::new()),
    });
    let registry = Registry::new(counting.clone());
    let id = registry.upload_start("team/app").await.unwrap();
    // Enough chunks that a listing per PATCH would show; each byte its own PATCH.
    let chunks: u64 = if b == Backend::S3 { 120 } else { 400 };
    let data: Vec<u8> = (0..chunks).map(|i| (i * 7 % 251) as u8).collect();
    let mut first: Option<Vec<String>> = None;
    for (i, byte) in data.iter().enumerate() {
        counting.take();
        let i = i as u64;
        let offset = registry
            .upload_append("team/app", &id, Some((i, i)), one_byte(*byte))
            .await
            .unwrap();
        assert_eq!(offset, i + 1);
        let ops = counting.take();
        assert!(
            ops.iter().all(|o| !o.starts_with("list")),
            "PATCH {i} listed storage: {ops:?}"
        );
        let shape = shape(&ops);
        match &first {
            None => {
                assert_eq!(
                    shape.len(),
                    3,
                    "read state, write chunk, write state: {ops:?}"
                );
                first = Some(shape);
            }
            Some(f) => assert_eq!(&shape, f, "PATCH {i} did different work than the first"),
        }
    }
    // Finishing assembles the chunks in order into the blob and cleans up after itself.
    let digest = strata_oci::Digest::sha256_of(&data);
    assert_eq!(
        registry.upload_offset("team/app", &id).await.unwrap(),
        chunks
    );
    let size = registry
        .upload_complete("team/app", &id, &digest, None)
        .await
        .unwrap();
    assert_eq!(size, chunks);
    let back: Vec<Bytes> = registry
        .blob_read(&digest, 0, None)
        .await
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(back.concat(), data);
    assert!(counting
        .inner
        .list(&format!("v1/repositories/team/app/_uploads/{id}/"))
        .await
        .unwrap()
        .is_empty());
}

async fn a_wrong_digest_is_refused_from_the_saved_hash(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(inner) = common::storage(b, dir.path()).await else {
        return;
    };
    let counting = Arc::new(Counting {
        inner,
        ops: Mutex::new(Vec::new()),
    });
    let registry = Registry::new(counting.clone());
    let id = registry.upload_start("team/app").await.unwrap();
    for i in 0..3u64 {
        registry
            .upload_append("team/app", &id, Some((i, i)), one_byte(b'a'))
            .await
            .unwrap();
    }
    counting.take();
    let wrong = strata_oci::Digest::sha256_of(b"bbb");
    let err = registry
        .upload_complete("team/app", &id, &wrong, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), strata_registry::ErrorKind::DigestInvalid);
    let ops = counting.take();
    assert!(
        ops.iter().all(|o| !o.starts_with("get_range")),
        "the chunks were read again: {ops:?}"
    );
}

per_backend!(
    patch_cost_does_not_grow_with_the_upload,
    a_wrong_digest_is_refused_from_the_saved_hash
);
