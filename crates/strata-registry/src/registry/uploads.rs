//! Blob uploads. An upload is one state object (`_uploads/<id>/state`, see
//! [`upload_state`](super::upload_state): offset, chunk count, running hash) and its
//! chunks (`_uploads/<id>/chunks/<n>`), all in storage, so any server sharing the storage
//! can continue an upload another one started, and every request streams its body straight
//! to storage with bounded memory.
//!
//! A PATCH costs the same three storage operations however many chunks came before it:
//! read the state, write the chunk (hashing it on the way), write the state. Nothing is
//! listed. The chunk is written before the state that counts it, so a crash between the
//! two leaves an orphan chunk the next PATCH overwrites, never a state naming a missing one.
//!
//! Finishing knows the digest from the saved hash without reading the chunks: a mismatch
//! is refused at once, a blob that already exists needs no assembly, a single chunk is
//! renamed into place, and only several chunks are joined into one object.

use std::sync::Arc;

use futures::StreamExt;
use strata_oci::{Algorithm, Digest, Digester};

use super::upload_state::{RunningHash, UploadState};
use super::Registry;
use crate::error::{Error, ErrorKind, Result};
use crate::storage::{keys, ByteStream, Storage};

impl Registry {
    /// Starts an upload session whose running hash uses `algorithm` and returns its id.
    pub async fn upload_start(&self, repo: &str) -> Result<String> {
        self.upload_start_with(repo, Algorithm::Sha256).await
    }

    /// [`Registry::upload_start`] for a client that announced the digest algorithm
    /// (`?digest-algorithm=`), so the saved hash is the one the final digest will use.
    pub async fn upload_start_with(&self, repo: &str, algorithm: Algorithm) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        self.storage()
            .put(
                &keys::upload_state(repo, &id),
                UploadState::new(algorithm).encode(),
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

    /// The upload's state: one read, whatever its size.
    async fn upload_state(&self, repo: &str, id: &str) -> Result<UploadState> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(Self::unknown_upload(repo, id));
        }
        let bytes = self
            .storage()
            .get(&keys::upload_state(repo, id))
            .await
            .map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    Self::unknown_upload(repo, id)
                } else {
                    e
                }
            })?;
        UploadState::decode(&bytes, &format!("{repo}/{id}"))
    }

    /// Bytes received so far.
    pub async fn upload_offset(&self, repo: &str, id: &str) -> Result<u64> {
        Ok(self.upload_state(repo, id).await?.offset)
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
        let state = self.upload_state(repo, id).await?;
        Ok(self.append_to(repo, id, state, range, body).await?.offset)
    }

    async fn append_to(
        &self,
        repo: &str,
        id: &str,
        mut state: UploadState,
        range: Option<(u64, u64)>,
        body: ByteStream<'_>,
    ) -> Result<UploadState> {
        let offset = state.offset;
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
        let mut hash = state.hash.clone();
        let hashed = body
            .inspect(|r| {
                if let Ok(b) = r {
                    hash.update(b);
                }
            })
            .boxed();
        let key = keys::upload_chunk(repo, id, state.chunks);
        let n = self.storage().put_stream(&key, hashed).await?;
        if n == 0 {
            self.storage().delete(&key).await?;
            return Ok(state);
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
        state.offset += n;
        state.chunks += 1;
        state.hash = hash;
        self.storage()
            .put(&keys::upload_state(repo, id), state.encode())
            .await?;
        Ok(state)
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
        let mut state = self.upload_state(repo, id).await?;
        if let Some(body) = body {
            if state.chunks == 0 {
                return self.upload_monolithic(repo, id, digest, body).await;
            }
            state = self.append_to(repo, id, state, None, body).await?;
        }
        let root = keys::upload_root(repo, id);
        let s = self.storage().clone();
        let result = self.commit_chunks(repo, id, &state, digest).await;
        // The upload is finished either way: the spec has clients restart after a mismatch.
        s.delete_prefix(&root).await?;
        result?;
        self.link_blob(repo, digest).await?;
        Ok(state.offset)
    }

    /// Check the digest and put the chunks' bytes in place as the blob.
    async fn commit_chunks(
        &self,
        repo: &str,
        id: &str,
        state: &UploadState,
        digest: &Digest,
    ) -> Result<()> {
        let s = self.storage().clone();
        let blob_key = keys::blob(digest);
        let mismatch = |actual: &Digest| {
            Error::new(
                ErrorKind::DigestInvalid,
                format!("upload {id} has digest {actual}, not the claimed {digest}"),
            )
        };
        if state.hash.algorithm() == digest.algorithm() {
            let actual = state.hash.clone().finish()?;
            if &actual != digest {
                return Err(mismatch(&actual));
            }
            if state.chunks == 1 {
                settle(&s, &keys::upload_chunk(repo, id, 0), &blob_key).await?;
                return Ok(());
            }
            if s.stat(&blob_key).await?.is_some() && s.touch(&blob_key).await.is_ok() {
                return Ok(());
            }
            let assembled = self.assemble(repo, id, state.chunks, None).await?;
            settle(&s, &assembled, &blob_key).await?;
            return Ok(());
        }
        // Another algorithm than the running hash's: hash while joining.
        let mut digester = Digester::new(digest.algorithm());
        let assembled = self
            .assemble(repo, id, state.chunks, Some(&mut digester))
            .await?;
        let actual = digester.finish();
        if &actual != digest {
            return Err(mismatch(&actual));
        }
        settle(&s, &assembled, &blob_key).await?;
        Ok(())
    }

    /// Join chunks `0..count` into one object (hashing them into `digester` if given);
    /// returns its key.
    async fn assemble(
        &self,
        repo: &str,
        id: &str,
        count: u64,
        mut digester: Option<&mut Digester>,
    ) -> Result<String> {
        let s = self.storage().clone();
        let storage = s.clone();
        let (repo_owned, id_owned) = (repo.to_owned(), id.to_owned());
        let joined = futures::stream::iter(0..count)
            .then(move |n| {
                let storage = storage.clone();
                let key = keys::upload_chunk(&repo_owned, &id_owned, n);
                async move {
                    storage
                        .get_range(&key, 0, None)
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
                if let (Ok(b), Some(d)) = (r, digester.as_mut()) {
                    d.update(b);
                }
            })
            .boxed();
        let assembled = format!("{}assembled", keys::upload_root(repo, id));
        s.put_stream(&assembled, joined).await?;
        Ok(assembled)
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
        let mut hash = RunningHash::new(digest.algorithm());
        let hashed = body
            .inspect(|r| {
                if let Ok(b) = r {
                    hash.update(b);
                }
            })
            .boxed();
        let written = s.put_stream(&assembled, hashed).await;
        let result: Result<u64> = async {
            let n = written?;
            let actual = hash.finish()?;
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
        // Only the state is left; delete it by name rather than listing the prefix.
        s.delete(&keys::upload_state(repo, id)).await?;
        let n = result?;
        self.link_blob(repo, digest).await?;
        Ok(n)
    }

    /// Abandons an upload and deletes what it received.
    pub async fn upload_cancel(&self, repo: &str, id: &str) -> Result<()> {
        self.upload_state(repo, id).await?;
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
