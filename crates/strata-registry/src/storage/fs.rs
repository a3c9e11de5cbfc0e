//! Local filesystem backend: keys are paths below a root directory.
//!
//! Writes go to `<root>/tmp/` first and are renamed into place (content after `fsync`), so
//! a reader never sees a half-written object and a crash leaves only temp files.
//!
//! Blob streams use `std::fs::File` on the blocking pool directly, one operation at a time
//! per stream so no thread sits waiting on a slow client: uploads hand the request-body
//! chunks to the write as they are (no copy) while the next ones arrive, and start syncing
//! large files in the background as they go; downloads read each chunk while the one
//! before it is sent.

use std::io::{self, Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{ByteStream, ObjectMeta, Storage};
use crate::error::{Error, ErrorKind, Result};

/// A storage rooted at a directory.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
}

impl FsStorage {
    /// Opens (creating if needed) a storage directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| io_err(&root, e))?;
        // Temp files a crashed writer left behind. Only old ones: another server process
        // sharing this directory may be writing the young ones right now.
        if let Ok(rd) = std::fs::read_dir(&tmp) {
            for entry in rd.flatten() {
                let stale = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| {
                    t.elapsed()
                        .is_ok_and(|age| age > std::time::Duration::from_secs(24 * 3600))
                });
                if stale {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(FsStorage { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if key.split('/').any(|c| c == ".." || c == ".") || key.starts_with('/') {
            return Err(Error::storage(format!("invalid storage key {key:?}")));
        }
        Ok(self.root.join(key))
    }

    fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().to_string())
    }

    async fn commit(&self, tmp: &Path, key: &str) -> Result<()> {
        let dest = self.path(key)?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_err(parent, e))?;
        }
        tokio::fs::rename(tmp, &dest)
            .await
            .map_err(|e| io_err(&dest, e))
    }
}

fn io_err(path: &Path, e: io::Error) -> Error {
    let kind = if e.kind() == io::ErrorKind::NotFound {
        ErrorKind::NotFound
    } else {
        ErrorKind::Storage
    };
    Error::new(kind, format!("{}: {e}", path.display()))
}

/// Downloads are read in chunks of this size.
const READ_CHUNK: usize = 256 * 1024;

/// Reads up to `min(left, READ_CHUNK)` bytes; fewer only at the end of the file.
fn read_chunk(f: &mut std::fs::File, left: u64) -> io::Result<Bytes> {
    let want = left.min(READ_CHUNK as u64);
    // `read_to_end` fills spare capacity without zeroing it first.
    let mut buf = Vec::with_capacity(want as usize);
    f.take(want).read_to_end(&mut buf)?;
    Ok(Bytes::from(buf))
}

/// What is left to read after a chunk of `got` bytes: a short chunk means the file ended.
fn left_after(left: u64, got: usize) -> u64 {
    if (got as u64) < left.min(READ_CHUNK as u64) {
        0
    } else {
        left - got as u64
    }
}

type ReadTask = tokio::task::JoinHandle<(std::fs::File, u64, io::Result<Bytes>)>;

/// Reads the next chunk on the blocking pool, handing the file back with it.
fn spawn_read(mut f: std::fs::File, left: u64) -> ReadTask {
    tokio::task::spawn_blocking(move || {
        let res = read_chunk(&mut f, left);
        (f, left, res)
    })
}

/// Body bytes an upload buffers while a write is in progress; the next write takes them
/// all. Bounds each upload's memory to about twice this.
const WRITE_QUEUE: usize = 4 << 20;

/// Once this many bytes of an upload are written but not yet being synced, a sync starts
/// in the background, so the final `fsync` only has the tail left to flush.
const SYNC_EVERY: u64 = 32 << 20;

type WriteTask = tokio::task::JoinHandle<(std::fs::File, io::Result<()>)>;

fn spawn_write(mut f: std::fs::File, batch: Vec<Bytes>) -> WriteTask {
    tokio::task::spawn_blocking(move || {
        let res = batch.iter().try_for_each(|b| f.write_all(b));
        (f, res)
    })
}

fn join_err(path: &Path, e: tokio::task::JoinError) -> Error {
    Error::storage(format!("{}: file task failed: {e}", path.display()))
}

/// Writes `data` to a new file at `tmp` and syncs it; returns its size. Blocking file
/// operations run one at a time on the blocking pool (no thread waits on the network),
/// and take request-body chunks as they are, without copying them. The caller removes
/// the file on error.
async fn write_file(tmp: &Path, data: &mut ByteStream<'_>) -> Result<u64> {
    let path = tmp.to_path_buf();
    let file = tokio::task::spawn_blocking(move || std::fs::File::create(path))
        .await
        .map_err(|e| join_err(tmp, e))?
        .map_err(|e| io_err(tmp, e))?;
    let mut idle = Some(file);
    let mut writing: Option<(WriteTask, usize)> = None;
    let mut queued: Vec<Bytes> = Vec::new();
    let mut queued_len = 0usize;
    let mut body_done = false;
    let mut written = 0u64;
    let mut syncing: Option<tokio::task::JoinHandle<io::Result<()>>> = None;
    let mut sync_mark = 0u64;
    loop {
        if !queued.is_empty() {
            if let Some(f) = idle.take() {
                writing = Some((spawn_write(f, std::mem::take(&mut queued)), queued_len));
                queued_len = 0;
            }
        }
        if body_done && writing.is_none() {
            break;
        }
        tokio::select! {
            res = async {
                match writing.as_mut() {
                    Some((task, _)) => task.await,
                    None => std::future::pending().await,
                }
            }, if writing.is_some() => {
                let len = writing.take().map_or(0, |(_, len)| len);
                let (f, res) = res.map_err(|e| join_err(tmp, e))?;
                res.map_err(|e| io_err(tmp, e))?;
                written += len as u64;
                if written - sync_mark >= SYNC_EVERY
                    && syncing.as_ref().is_none_or(|h| h.is_finished())
                {
                    // An early sync's error must fail the upload: a later fsync may not
                    // report it again.
                    if let Some(h) = syncing.take() {
                        h.await
                            .map_err(|e| join_err(tmp, e))?
                            .map_err(|e| io_err(tmp, e))?;
                    }
                    let clone = f.try_clone().map_err(|e| io_err(tmp, e))?;
                    syncing = Some(tokio::task::spawn_blocking(move || clone.sync_data()));
                    sync_mark = written;
                }
                idle = Some(f);
            }
            chunk = data.next(), if !body_done && queued_len < WRITE_QUEUE => match chunk {
                None => body_done = true,
                Some(Ok(b)) => {
                    if !b.is_empty() {
                        queued_len += b.len();
                        queued.push(b);
                    }
                }
                Some(Err(e)) => {
                    return Err(Error::new(
                        ErrorKind::BlobUploadInvalid,
                        format!("reading upload body: {e}"),
                    ))
                }
            },
        }
    }
    if let Some(h) = syncing {
        h.await
            .map_err(|e| join_err(tmp, e))?
            .map_err(|e| io_err(tmp, e))?;
    }
    let f = idle.ok_or_else(|| Error::storage("upload file lost"))?;
    tokio::task::spawn_blocking(move || f.sync_data())
        .await
        .map_err(|e| join_err(tmp, e))?
        .map_err(|e| io_err(tmp, e))?;
    Ok(written)
}

/// Removes a temp file when dropped still armed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn meta_of(key: String, m: &std::fs::Metadata) -> ObjectMeta {
    ObjectMeta {
        key,
        size: m.len(),
        modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

#[async_trait::async_trait]
impl Storage for FsStorage {
    async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path(key)?;
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(|e| io_err(&path, e))
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<ByteStream<'static>> {
        let path = self.path(key)?;
        let left = end.map_or(u64::MAX, |end| end.saturating_sub(start));
        // Opening, seeking and the first chunk take one trip to the blocking pool: a small
        // object needs no more, and goes out in one piece.
        let (file, first) = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::open(&path).map_err(|e| io_err(&path, e))?;
            if start > 0 {
                f.seek(io::SeekFrom::Start(start))
                    .map_err(|e| io_err(&path, e))?;
            }
            let first = read_chunk(&mut f, left).map_err(|e| io_err(&path, e))?;
            Ok::<_, Error>((f, first))
        })
        .await
        .map_err(|e| Error::storage(format!("read task failed: {e}")))??;
        let left = left_after(left, first.len());
        let first = futures::stream::iter((!first.is_empty()).then_some(Ok(first)));
        if left == 0 {
            return Ok(first.boxed());
        }
        // Each further chunk is read while the one before it is sent.
        let rest = futures::stream::unfold(Some(spawn_read(file, left)), |next| async move {
            let (file, left, res) = match next?.await {
                Ok(r) => r,
                Err(e) => return Some((Err(io::Error::other(e)), None)),
            };
            match res {
                Ok(b) if b.is_empty() => None,
                Ok(b) => {
                    let left = left_after(left, b.len());
                    let next = (left > 0).then(|| spawn_read(file, left));
                    Some((Ok(b), next))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(first.chain(rest).boxed())
    }

    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Some(meta_of(key.to_string(), &m))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let tmp = self.temp_path();
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io_err(&tmp, e))?;
        f.write_all(&data).await.map_err(|e| io_err(&tmp, e))?;
        // Content (manifests) is synced before it becomes visible. Small metadata (links,
        // tags, upload markers) is not: after a crash a missing link only means a client
        // pushes that blob again, and per-file fsyncs would dominate push latency.
        if key.starts_with(super::keys::blobs_root()) {
            f.sync_data().await.map_err(|e| io_err(&tmp, e))?;
        }
        drop(f);
        let res = self.commit(&tmp, key).await;
        if res.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        res
    }

    async fn put_stream(&self, key: &str, mut data: ByteStream<'_>) -> Result<u64> {
        let tmp = self.temp_path();
        // For this future being dropped midway (errors remove the file below); a drop
        // while the file is being created leaves it to the sweep in `open`.
        let mut guard = TempGuard(Some(tmp.clone()));
        let result = match write_file(&tmp, &mut data).await {
            Ok(n) => self.commit(&tmp, key).await.map(|()| n),
            Err(e) => Err(e),
        };
        guard.0 = None;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let src = self.path(from)?;
        let dest = self.path(to)?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_err(parent, e))?;
        }
        tokio::fs::rename(&src, &dest)
            .await
            .map_err(|e| io_err(&src, e))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                // Prune now-empty parent directories so listings stay cheap; failures
                // (directory not empty, concurrent writer) are expected and harmless.
                let mut dir = path.parent();
                while let Some(d) = dir {
                    if d == self.root || std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || list_blocking(&root, &prefix))
            .await
            .map_err(|e| Error::storage(format!("listing task failed: {e}")))?
    }

    async fn list_children(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = self.path(prefix.trim_end_matches('/'))?;
        let mut rd = match tokio::fs::read_dir(&dir).await {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir, e)),
        };
        let mut out = Vec::new();
        while let Some(entry) = rd.next_entry().await.map_err(|e| io_err(&dir, e))? {
            if let Some(name) = entry.file_name().to_str() {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    async fn touch(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        let now = filetime::FileTime::now();
        tokio::task::spawn_blocking(move || {
            filetime::set_file_mtime(&path, now).map_err(|e| io_err(&path, e))
        })
        .await
        .map_err(|e| Error::storage(format!("touch task failed: {e}")))?
    }
}

fn list_blocking(root: &Path, prefix: &str) -> Result<Vec<ObjectMeta>> {
    // The prefix may end inside a path segment ("v1/blobs/sha256/ab"); walk from its
    // directory part and filter by the full prefix.
    let dir_part = match prefix.rfind('/') {
        Some(i) => &prefix[..i],
        None => "",
    };
    let start = root.join(dir_part);
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&dir, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| io_err(&dir, e))?;
            let path = entry.path();
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let Some(key) = rel.to_str().map(|s| s.to_string()) else {
                continue;
            };
            let ft = entry.file_type().map_err(|e| io_err(&path, e))?;
            if ft.is_dir() {
                if format!("{key}/").starts_with(prefix) || prefix.starts_with(&format!("{key}/")) {
                    stack.push(path);
                }
            } else if key.starts_with(prefix) {
                match entry.metadata() {
                    Ok(m) => out.push(meta_of(key, &m)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&path, e)),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_files(root: &Path) -> usize {
        std::fs::read_dir(root.join("tmp")).unwrap().count()
    }

    #[tokio::test]
    async fn failed_or_abandoned_uploads_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStorage::open(dir.path()).unwrap();
        let bad = futures::stream::iter(vec![
            Ok(Bytes::from(vec![1u8; 100_000])),
            Err(io::Error::other("boom")),
        ])
        .boxed();
        assert!(s.put_stream("v1/bad", bad).await.is_err());
        assert_eq!(temp_files(dir.path()), 0);
        // A client that stops sending, and whose request is then dropped.
        let stalled = futures::stream::iter(vec![Ok(Bytes::from(vec![2u8; 100_000]))])
            .chain(futures::stream::pending())
            .boxed();
        let put = s.put_stream("v1/stalled", stalled);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(200), put)
                .await
                .is_err()
        );
        assert_eq!(temp_files(dir.path()), 0);
        assert!(s.stat("v1/stalled").await.unwrap().is_none());
    }
}
