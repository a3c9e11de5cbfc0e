//! Local filesystem backend: keys are paths below a root directory.
//!
//! Writes go to `<root>/tmp/` first and are renamed into place (content after `fsync`), so
//! a reader never sees a half-written object and a crash leaves only temp files.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

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
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| io_err(&path, e))?;
        if start > 0 {
            file.seek(io::SeekFrom::Start(start))
                .await
                .map_err(|e| io_err(&path, e))?;
        }
        let stream = match end {
            Some(end) => {
                ReaderStream::with_capacity(file.take(end.saturating_sub(start)), 256 * 1024)
                    .boxed()
            }
            None => ReaderStream::with_capacity(file, 256 * 1024).boxed(),
        };
        Ok(stream)
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
        let result: Result<u64> = async {
            let mut f = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| io_err(&tmp, e))?;
            let mut n = 0u64;
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(|e| {
                    Error::new(
                        ErrorKind::BlobUploadInvalid,
                        format!("reading upload body: {e}"),
                    )
                })?;
                f.write_all(&chunk).await.map_err(|e| io_err(&tmp, e))?;
                n += chunk.len() as u64;
            }
            f.sync_data().await.map_err(|e| io_err(&tmp, e))?;
            Ok(n)
        }
        .await;
        match result {
            Ok(n) => match self.commit(&tmp, key).await {
                Ok(()) => Ok(n),
                Err(e) => {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    Err(e)
                }
            },
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
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
