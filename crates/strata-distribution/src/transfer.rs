//! Moving one blob: download into the store with resume, and upload from the store with
//! optional on-the-fly compression, streamed or in chunks.
//!
//! Downloads write straight into a [`strata_store::BlobWriter`] created with the expected
//! digest and size, so nothing becomes visible unless it verifies. A connection that
//! breaks mid-body is resumed with `Range: bytes=N-`; a registry that ignores the range
//! makes the download start over in a fresh writer.
//!
//! Uploads read the blob on a blocking thread (the store's reader verifies it at end of
//! stream), optionally compress it, digest the bytes actually sent and hand them to the
//! HTTP body through a bounded channel, so memory stays at a few chunks whatever the
//! layer size. The registry checks the final digest given with the closing `PUT`.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::StatusCode;
use strata_layer::{CompressOptions, Encoder};
use strata_oci::{Algorithm, Descriptor, Digest, DigestWriter};
use strata_store::Store;
use tokio::sync::mpsc;

use crate::diff_id::DiffIdCheck;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::rate_guarded;
use crate::progress::{Outcome, Progress};
use crate::registry::{Repository, UploadStart};

/// Store record table mapping a blob digest to repositories known to hold it, used to
/// choose cross-repository mount sources.
pub const SOURCES_TABLE: &str = "distribution-sources";

/// Bytes per message between the reading thread and the HTTP body.
const PIPE_CHUNK: usize = 1024 * 1024;

/// Note that `host/repo` holds `digest` (best effort: a failure only costs a mount later).
pub(crate) fn remember_source(store: &Store, digest: &Digest, host: &str, repo: &str) {
    let key = digest.to_string();
    let entry = format!("{host}/{repo}");
    let mut list: Vec<String> = store
        .get_record(SOURCES_TABLE, &key)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if list.first() == Some(&entry) {
        return;
    }
    list.retain(|e| e != &entry);
    list.insert(0, entry);
    list.truncate(8);
    let _ = store.put_record(
        SOURCES_TABLE,
        &key,
        &serde_json::to_vec(&list).expect("list serialises"),
    );
}

/// Repositories on `host` (other than `repo`) known to hold `digest`.
pub(crate) fn mount_sources(store: &Store, digest: &Digest, host: &str, repo: &str) -> Vec<String> {
    let list: Vec<String> = store
        .get_record(SOURCES_TABLE, &digest.to_string())
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let prefix = format!("{host}/");
    list.iter()
        .filter_map(|e| e.strip_prefix(&prefix))
        .filter(|r| *r != repo)
        .map(str::to_owned)
        .collect()
}

/// Download `desc` into the store under `lease`, resuming after broken connections. With
/// `diff_id`, the blob is a layer whose uncompressed content must have that digest; it is
/// checked while the bytes arrive, and a mismatch stores nothing.
pub(crate) async fn download(
    repo: &Repository<'_>,
    store: &Store,
    lease: &str,
    desc: &Descriptor,
    diff_id: Option<&Digest>,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let digest = &desc.digest;
    if store.blob_size(digest).ok() == Some(desc.size) {
        store
            .lease_add(lease, std::slice::from_ref(digest))
            .map_err(|e| Error::store(format!("leasing blob {digest}"), e))?;
        progress.finish(digest, Outcome::Exists);
        return Ok(Outcome::Exists);
    }
    progress.start(digest, desc.size);
    let new_writer = || {
        store
            .writer(Some((digest.clone(), desc.size)))
            .map(|w| w.with_lease(lease))
            .map_err(|e| Error::store(format!("starting to store blob {digest}"), e))
    };
    let mut writer = new_writer()?;
    let mut check = diff_id.map(DiffIdCheck::start);
    let mut written: u64 = 0;
    let retries = repo.client.opts.retries;
    let backoff = repo.client.opts.backoff;
    let mut failures = 0u32;
    let host = repo.host;
    loop {
        let resp = match repo.blob_response(digest, written).await {
            Ok(r) => r,
            Err(e) if e.kind == ErrorKind::Transport && failures < retries => {
                failures += 1;
                tokio::time::sleep(backoff * 2u32.pow(failures)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        if written > 0 && resp.status() != StatusCode::PARTIAL_CONTENT {
            // The registry ignored the range: start over in a fresh writer.
            writer = new_writer()?;
            check = diff_id.map(DiffIdCheck::start);
            written = 0;
            progress.resumed(digest, 0);
        }
        let mut stream = rate_guarded(
            resp.bytes_stream(),
            repo.client.rate_floor(),
            format!("registry {host}: reading blob {digest}"),
        );
        let mut interrupted = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(c) => {
                    if written + c.len() as u64 > desc.size {
                        return Err(Error::new(
                            ErrorKind::SizeMismatch,
                            format!(
                                "registry {host}: blob {digest} is larger than the {} bytes its descriptor says; nothing was stored",
                                desc.size
                            ),
                        ));
                    }
                    writer
                        .write_all(&c)
                        .map_err(|e| Error::io(format!("storing blob {digest}"), e))?;
                    written += c.len() as u64;
                    progress.advance(digest, c.len() as u64);
                    if let Some(check) = &mut check {
                        check.feed(c).await;
                    }
                }
                Err(e) => {
                    interrupted = Some(e);
                    break;
                }
            }
        }
        if interrupted.is_none() && written == desc.size {
            break;
        }
        let err = interrupted.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Transport,
                format!(
                    "registry {host}: blob {digest} ended after {written} of {} bytes",
                    desc.size
                ),
            )
        });
        if failures >= retries {
            return Err(err);
        }
        failures += 1;
        progress.resumed(digest, written);
        tokio::time::sleep(backoff * 2u32.pow(failures)).await;
    }
    let mut refusal = None;
    let mut unpacked = None;
    if let (Some(check), Some(want)) = (check, diff_id) {
        refusal = match check.finish().await {
            Err(e) => Some(format!("it does not decompress: {e}")),
            Ok((got, ..)) if &got != want => Some(format!(
                "it unpacks to {got}, but the image config says {want}"
            )),
            Ok((_, size, content)) => {
                unpacked = Some((want, size, content));
                None
            }
        }
        .map(|m| strata_store::Error::new(strata_store::ErrorKind::DigestMismatch, m));
    }
    writer.commit_unless(refusal).map_err(|e| {
        Error::store(
            format!("registry {host}: blob {digest} rejected, nothing was stored"),
            e,
        )
    })?;
    if let Some((diff_id, size, content)) = unpacked {
        store
            .record_unpacked_size(diff_id, size)
            .map_err(|e| Error::store(format!("noting the unpacked size of {digest}"), e))?;
        if let Some(content) = content {
            store
                .record_layer_content_size(diff_id, content)
                .map_err(|e| Error::store(format!("noting the size of {digest}"), e))?;
        }
    }
    remember_source(store, digest, repo.host, repo.name);
    progress.finish(digest, Outcome::Transferred);
    Ok(Outcome::Transferred)
}

/// Upload settings.
#[derive(Debug, Clone, Copy)]
pub struct UploadOptions {
    /// `None`: one streamed PATCH per blob; `Some(n)`: chunks of `n` bytes.
    pub chunk_size: Option<usize>,
}

/// Check whether `repo` has `digest`, else try to mount it from a known repository.
/// Returns the outcome if nothing needs sending, else the upload location to use.
pub(crate) async fn existing_or_location(
    repo: &Repository<'_>,
    store: &Store,
    digest: &Digest,
) -> Result<std::result::Result<Outcome, String>> {
    if repo.blob_size(digest, &repo.push_scope()).await?.is_some() {
        return Ok(Ok(Outcome::Exists));
    }
    for from in mount_sources(store, digest, repo.host, repo.name) {
        match repo.start_upload(Some((digest, &from))).await {
            Ok(UploadStart::Mounted) => return Ok(Ok(Outcome::Mounted)),
            Ok(UploadStart::Location(loc)) => return Ok(Err(loc)),
            // A source we may not read is no reason to fail: upload instead.
            Err(e) if matches!(e.kind, ErrorKind::Denied | ErrorKind::Unauthorized) => {}
            Err(e) => return Err(e),
        }
    }
    match repo.start_upload(None).await? {
        UploadStart::Mounted => Ok(Ok(Outcome::Mounted)),
        UploadStart::Location(l) => Ok(Err(l)),
    }
}

/// Upload the store blob `source` to `location`, compressing it with `compress` if given.
/// Returns the digest and size of the bytes sent.
pub(crate) async fn upload_from_store(
    repo: &Repository<'_>,
    store: &Store,
    source: &Digest,
    compress: Option<CompressOptions>,
    location: String,
    opts: UploadOptions,
    progress: Arc<dyn Progress>,
    progress_key: &Digest,
) -> Result<(Digest, u64)> {
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(4);
    let store2 = store.clone();
    let src = source.clone();
    let producer = tokio::task::spawn_blocking(move || produce(&store2, &src, compress, tx));
    let scope = repo.push_scope();
    let key = progress_key.clone();
    let sent = match opts.chunk_size {
        None => {
            let p = progress.clone();
            let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(move |item| {
                if let Ok(b) = &item {
                    p.advance(&key, b.len() as u64);
                }
                item
            });
            repo.patch(&location, reqwest::Body::wrap_stream(stream), None, &scope)
                .await
        }
        Some(n) => {
            let mut loc = location;
            let mut offset = 0u64;
            let mut buf = BytesMut::with_capacity(n);
            let mut result = Ok(String::new());
            loop {
                let item = rx.recv().await;
                let done = match item {
                    Some(Ok(b)) => {
                        buf.extend_from_slice(&b);
                        false
                    }
                    // The producer failed: send nothing more, its error is reported below.
                    Some(Err(_)) => {
                        buf.clear();
                        true
                    }
                    None => true,
                };
                while buf.len() >= n || (done && !buf.is_empty()) {
                    let take = buf.len().min(n);
                    let chunk = buf.split_to(take).freeze();
                    let len = chunk.len() as u64;
                    match repo
                        .patch(
                            &loc,
                            reqwest::Body::from(chunk),
                            Some((offset, len)),
                            &scope,
                        )
                        .await
                    {
                        Ok(next) => loc = next,
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                    offset += len;
                    progress.advance(progress_key, len);
                }
                if done || result.is_err() {
                    break;
                }
            }
            result.map(|_| loc)
        }
    };
    let produced = producer
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("reading blob {source}: {e}")))?;
    let (digest, size) = produced?;
    let location = sent?;
    repo.finish_upload(&location, &digest, None, &scope).await?;
    Ok((digest, size))
}

/// Read (and maybe compress) a store blob into the channel. Runs on a blocking thread.
fn produce(
    store: &Store,
    source: &Digest,
    compress: Option<CompressOptions>,
    tx: mpsc::Sender<io::Result<Bytes>>,
) -> Result<(Digest, u64)> {
    let run = || -> Result<(Digest, u64)> {
        let mut reader = store
            .open_blob(source)
            .map_err(|e| Error::store(format!("reading blob {source}"), e))?;
        let sink = DigestWriter::new(
            ChannelWriter {
                tx: tx.clone(),
                buf: BytesMut::with_capacity(PIPE_CHUNK),
            },
            Algorithm::Sha256,
        );
        let io_err = |e: io::Error| Error::io(format!("sending blob {source}"), e);
        let sink = match compress {
            Some(opts) => {
                let mut enc = Encoder::new(sink, &opts).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidInput,
                        format!("compressing blob {source}: {e}"),
                    )
                })?;
                copy(&mut reader, &mut enc).map_err(io_err)?;
                enc.finish().map_err(io_err)?
            }
            None => {
                let mut sink = sink;
                copy(&mut reader, &mut sink).map_err(io_err)?;
                sink
            }
        };
        let (mut chan, digest, size) = sink.finish();
        chan.flush().map_err(io_err)?;
        Ok((digest, size))
    };
    let result = run();
    if let Err(e) = &result {
        // Abort the HTTP body so the registry never sees a complete blob.
        let _ = tx.blocking_send(Err(io::Error::other(e.message.clone())));
    }
    result
}

fn copy(r: &mut dyn Read, w: &mut dyn Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..k])?;
        n += k as u64;
    }
}

/// A `Write` that batches bytes into channel messages.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: BytesMut,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIPE_CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload stopped"))
    }
}

/// Pause used between whole-blob upload attempts.
pub(crate) fn retry_delay(base: Duration, attempt: u32) -> Duration {
    base * 2u32.pow(attempt.min(6))
}
