//! Blob uploads. Each upload is a directory of chunks in storage (`_uploads/<id>/chunks/<offset>`),
//! so any server sharing the storage can continue an upload another one started, and every
//! request streams its body straight to storage with bounded memory.
//!
//! Each chunk is hashed while it is written and its digest stored beside it: a monolithic
//! upload (one chunk) is committed by renaming the chunk, without reading it again.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use strata_oci::{Algorithm, Digest, Digester};

use super::Registry;
use crate::error::{Error, ErrorKind, Result};
use crate::storage::{keys, ByteStream, Storage};

impl Registry {
    /// Starts an upload session and returns its id.
    pub async fn upload_start(&self, repo: &str) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let started = chrono::Utc::now().to_rfc3339();
        self.storage()
            .put(
                &format!("{}started", keys::upload_root(repo, &id)),
                Bytes::from(started),
            )
            .await?;
        Ok(id)
    }

    fn unknown_upload(repo: &str, id: &str) -> Error {
        Error::new(
            ErrorKind::BlobUploadUnknown,
            format!("upload {id} unknown to repository {repo}"),
        )
    }

    fn check_id(repo: &str, id: &str) -> Result<()> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(Self::unknown_upload(repo, id));
        }
        Ok(())
    }

    /// The chunks so far as `(offset, size)`, sorted, checked to be contiguous.
    async fn upload_chunks(&self, repo: &str, id: &str) -> Result<Vec<(u64, u64)>> {
        Self::check_id(repo, id)?;
        let root = keys::upload_root(repo, id);
        if self
            .storage()
            .stat(&format!("{root}started"))
            .await?
            .is_none()
        {
            return Err(Self::unknown_upload(repo, id));
        }
        let prefix = format!("{root}chunks/");
        let mut chunks = Vec::new();
        for m in self.storage().list(&prefix).await? {
            let off: u64 = m.key[prefix.len()..]
                .parse()
                .map_err(|_| Error::storage(format!("bad upload chunk key {}", m.key)))?;
            chunks.push((off, m.size));
        }
        chunks.sort_unstable();
        let mut expect = 0;
        for &(off, size) in &chunks {
            if off != expect {
                return Err(Error::new(
                    ErrorKind::BlobUploadInvalid,
                    format!("upload {id} has a gap at byte {expect}"),
                ));
            }
            expect = off + size;
        }
        Ok(chunks)
    }

    /// Bytes received so far.
    pub async fn upload_offset(&self, repo: &str, id: &str) -> Result<u64> {
        Ok(self
            .upload_chunks(repo, id)
            .await?
            .last()
            .map_or(0, |&(o, s)| o + s))
    }

    /// Appends a chunk. `range` is the request's `Content-Range` (inclusive start, end);
    /// a chunk not starting at the current offset is refused with `RANGE_INVALID` (416).
    pub async fn upload_append(
        &self,
        repo: &str,
        id: &str,
        range: Option<(u64, u64)>,
        body: ByteStream<'_>,
    ) -> Result<u64> {
        let offset = self.upload_offset(repo, id).await?;
        if let Some((start, end)) = range {
            if start != offset || end < start {
                return Err(Error::new(
                    ErrorKind::RangeInvalid,
                    format!(
                        "chunk range {start}-{end} does not continue upload {id} at byte {offset}"
                    ),
                ));
            }
        }
        let mut digester = Digester::sha256();
        let hashed = body
            .inspect(|r| {
                if let Ok(b) = r {
                    digester.update(b);
                }
            })
            .boxed();
        let key = keys::upload_chunk(repo, id, offset);
        let n = self.storage().put_stream(&key, hashed).await?;
        if n == 0 {
            self.storage().delete(&key).await?;
            return Ok(offset);
        }
        if let Some((start, end)) = range {
            if end - start + 1 != n {
                self.storage().delete(&key).await?;
                return Err(Error::new(
                    ErrorKind::RangeInvalid,
                    format!("chunk range {start}-{end} does not match the {n} bytes received"),
                ));
            }
        }
        let sum = digester.finish().to_string();
        self.storage()
            .put(
                &format!("{}sums/{offset:020}", keys::upload_root(repo, id)),
                Bytes::from(sum),
            )
            .await?;
        Ok(offset + n)
    }

    /// Finishes an upload: appends `body` (if any), verifies `digest`, commits the blob
    /// and links it into the repository. Returns the blob size.
    pub async fn upload_complete(
        &self,
        repo: &str,
        id: &str,
        digest: &Digest,
        body: Option<ByteStream<'_>>,
    ) -> Result<u64> {
        if let Some(body) = body {
            if self.upload_chunks(repo, id).await?.is_empty() {
                return self.upload_monolithic(repo, id, digest, body).await;
            }
            self.upload_append(repo, id, None, body).await?;
        }
        let chunks = self.upload_chunks(repo, id).await?;
        let root = keys::upload_root(repo, id);
        let s = self.storage().clone();
        let blob_key = keys::blob(digest);
        let size = chunks.last().map_or(0, |&(o, n)| o + n);
        let mismatch = |actual: &Digest| {
            Error::new(
                ErrorKind::DigestInvalid,
                format!("upload {id} has digest {actual}, not the claimed {digest}"),
            )
        };
        let result: Result<()> = async {
            if chunks.len() == 1 && digest.algorithm() == Algorithm::Sha256 {
                let sum = s.get(&format!("{root}sums/{:020}", 0)).await?;
                let actual = crate::names::parse_digest(std::str::from_utf8(&sum).unwrap_or(""))?;
                if &actual != digest {
                    return Err(mismatch(&actual));
                }
                settle(&s, &keys::upload_chunk(repo, id, 0), &blob_key).await?;
                return Ok(());
            }
            // Several chunks (or another algorithm): stream them into one object, hashing.
            let mut digester = Digester::new(digest.algorithm());
            let storage = s.clone();
            let keys_list: Vec<String> = chunks
                .iter()
                .map(|&(o, _)| keys::upload_chunk(repo, id, o))
                .collect();
            let joined = futures::stream::iter(keys_list)
                .then(move |k| {
                    let storage = storage.clone();
                    async move {
                        storage
                            .get_range(&k, 0, None)
                            .await
                            .map_err(std::io::Error::other)
                    }
                })
                .map(|r| match r {
                    Ok(st) => st,
                    Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
                })
                .flatten()
                .inspect(|r| {
                    if let Ok(b) = r {
                        digester.update(b);
                    }
                })
                .boxed();
            let assembled = format!("{root}assembled");
            s.put_stream(&assembled, joined).await?;
            let actual = digester.finish();
            if &actual != digest {
                return Err(mismatch(&actual));
            }
            settle(&s, &assembled, &blob_key).await?;
            Ok(())
        }
        .await;
        // The upload is finished either way: the spec has clients restart after a mismatch.
        s.delete_prefix(&root).await?;
        result?;
        self.link_blob(repo, digest).await?;
        Ok(size)
    }

    /// The whole blob in one request (POST+PUT or single POST): hash it while streaming it
    /// to storage once, then rename it into place. No chunk bookkeeping.
    async fn upload_monolithic(
        &self,
        repo: &str,
        id: &str,
        digest: &Digest,
        body: ByteStream<'_>,
    ) -> Result<u64> {
        let s = self.storage().clone();
        let root = keys::upload_root(repo, id);
        let assembled = format!("{root}assembled");
        let mut digester = Digester::new(digest.algorithm());
        let hashed = body
            .inspect(|r| {
                if let Ok(b) = r {
                    digester.update(b);
                }
            })
            .boxed();
        let written = s.put_stream(&assembled, hashed).await;
        let actual = digester.finish();
        let result: Result<u64> = async {
            let n = written?;
            if &actual != digest {
                s.delete(&assembled).await?;
                return Err(Error::new(
                    ErrorKind::DigestInvalid,
                    format!("upload {id} has digest {actual}, not the claimed {digest}"),
                ));
            }
            let blob_key = keys::blob(digest);
            if !settle(&s, &assembled, &blob_key).await? {
                s.delete(&assembled).await?;
            }
            Ok(n)
        }
        .await;
        // Only the marker is left; delete it by name rather than listing the prefix.
        s.delete(&format!("{root}started")).await?;
        let n = result?;
        self.link_blob(repo, digest).await?;
        Ok(n)
    }

    /// Abandons an upload and deletes what it received.
    pub async fn upload_cancel(&self, repo: &str, id: &str) -> Result<()> {
        self.upload_chunks(repo, id).await?;
        self.storage()
            .delete_prefix(&keys::upload_root(repo, id))
            .await
    }
}

/// Put the uploaded bytes at `src` in place as `blob_key`; or, when that blob exists
/// already, keep it (touched) and leave `src` to the caller. Returns whether `src` was
/// moved. A blob garbage collection deletes between the check and the touch is replaced.
async fn settle(s: &Arc<dyn Storage>, src: &str, blob_key: &str) -> Result<bool> {
    if s.stat(blob_key).await?.is_some() {
        match s.touch(blob_key).await {
            Ok(()) => return Ok(false),
            Err(e) => {
                if s.stat(blob_key).await?.is_some() {
                    return Err(e);
                }
            }
        }
    }
    s.rename(src, blob_key).await?;
    Ok(true)
}
