//! S3-compatible object storage backend (through `object_store`).
//!
//! Streams are written with multipart uploads holding at most a few parts in memory.
//! S3 has no "touch", so `touch` writes a tiny marker under `touch/<key>` and `last_used`
//! takes the newer of the object and its marker.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::{ByteStream, ObjectMeta, Storage};
use crate::error::{Error, ErrorKind, Result};

/// Settings for an S3-compatible endpoint.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// e.g. `http://127.0.0.1:9000`; empty means AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: Option<String>,
}

/// A storage inside one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Storage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

const PART_SIZE: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 4;

impl S3Storage {
    pub fn new(cfg: &S3Config) -> Result<Self> {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&cfg.bucket)
            .with_region(cfg.region.clone().unwrap_or_else(|| "us-east-1".into()));
        if let Some(ep) = &cfg.endpoint {
            b = b
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"));
        }
        if let Some(k) = &cfg.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &cfg.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        let store = b
            .build()
            .map_err(|e| Error::new(ErrorKind::Config, format!("s3 bucket {}: {e}", cfg.bucket)))?;
        let prefix = cfg
            .prefix
            .clone()
            .unwrap_or_default()
            .trim_matches('/')
            .to_string();
        Ok(S3Storage {
            store: Arc::new(store),
            prefix,
        })
    }

    fn path(&self, key: &str) -> Result<Path> {
        let full = if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        };
        Path::parse(full.trim_end_matches('/'))
            .map_err(|e| Error::storage(format!("invalid storage key {key:?}: {e}")))
    }

    fn key_of(&self, p: &Path) -> String {
        let s = p.as_ref();
        if self.prefix.is_empty() {
            s.to_string()
        } else {
            s.strip_prefix(&format!("{}/", self.prefix))
                .unwrap_or(s)
                .to_string()
        }
    }
}

fn os_err(key: &str, e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => {
            Error::new(ErrorKind::NotFound, format!("{key}: not found"))
        }
        e => Error::storage(format!("{key}: {e}")),
    }
}

fn meta(key: String, m: &object_store::ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        key,
        size: m.size,
        modified: SystemTime::from(m.last_modified),
    }
}

#[async_trait::async_trait]
impl Storage for S3Storage {
    async fn get(&self, key: &str) -> Result<Bytes> {
        let p = self.path(key)?;
        let r = self.store.get(&p).await.map_err(|e| os_err(key, e))?;
        r.bytes().await.map_err(|e| os_err(key, e))
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<ByteStream<'static>> {
        let p = self.path(key)?;
        let range = match end {
            Some(end) if end <= start => {
                return Ok(futures::stream::empty().boxed());
            }
            Some(end) => Some(GetRange::Bounded(start..end)),
            None if start > 0 => Some(GetRange::Offset(start)),
            None => None,
        };
        let opts = GetOptions {
            range,
            ..Default::default()
        };
        let r = self
            .store
            .get_opts(&p, opts)
            .await
            .map_err(|e| os_err(key, e))?;
        Ok(r.into_stream().map_err(std::io::Error::other).boxed())
    }

    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>> {
        let p = self.path(key)?;
        match self.store.head(&p).await {
            Ok(m) => Ok(Some(meta(key.to_string(), &m))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(os_err(key, e)),
        }
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let p = self.path(key)?;
        self.store
            .put(&p, PutPayload::from(data))
            .await
            .map_err(|e| os_err(key, e))?;
        Ok(())
    }

    async fn put_stream(&self, key: &str, mut data: ByteStream<'_>) -> Result<u64> {
        let p = self.path(key)?;
        let upload = self
            .store
            .put_multipart(&p)
            .await
            .map_err(|e| os_err(key, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut n = 0u64;
        while let Some(chunk) = data.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(Error::new(
                        ErrorKind::BlobUploadInvalid,
                        format!("reading upload body: {e}"),
                    ));
                }
            };
            n += chunk.len() as u64;
            if let Err(e) = w.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(os_err(key, e));
            }
            w.put(chunk);
        }
        w.finish().await.map_err(|e| os_err(key, e))?;
        Ok(n)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.path(from)?, self.path(to)?);
        self.store.rename(&f, &t).await.map_err(|e| os_err(from, e))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let p = self.path(key)?;
        match self.store.delete(&p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(os_err(key, e)),
        }
        if key.starts_with(crate::storage::keys::blobs_root()) {
            let t = self.path(&format!("touch/{key}"))?;
            match self.store.delete(&t).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(os_err(key, e)),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        // object_store lists by whole path segments; filter the partial last segment here.
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let p = if dir.is_empty() && self.prefix.is_empty() {
            None
        } else {
            Some(self.path(dir)?)
        };
        let items: Vec<object_store::ObjectMeta> = self
            .store
            .list(p.as_ref())
            .try_collect()
            .await
            .map_err(|e| os_err(prefix, e))?;
        Ok(items
            .iter()
            .map(|m| meta(self.key_of(&m.location), m))
            .filter(|m| m.key.starts_with(prefix))
            .collect())
    }

    async fn list_children(&self, prefix: &str) -> Result<Vec<String>> {
        let p = self.path(prefix.trim_end_matches('/'))?;
        let r = self
            .store
            .list_with_delimiter(Some(&p))
            .await
            .map_err(|e| os_err(prefix, e))?;
        let mut out: Vec<String> = Vec::new();
        for loc in r
            .common_prefixes
            .iter()
            .chain(r.objects.iter().map(|o| &o.location))
        {
            if let Some(name) = loc.filename() {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    async fn touch(&self, key: &str) -> Result<()> {
        let t = self.path(&format!("touch/{key}"))?;
        self.store
            .put(&t, PutPayload::from(Bytes::new()))
            .await
            .map_err(|e| os_err(key, e))?;
        Ok(())
    }

    async fn last_used(&self, key: &str) -> Result<Option<SystemTime>> {
        let Some(m) = self.stat(key).await? else {
            return Ok(None);
        };
        let touched = self
            .stat(&format!("touch/{key}"))
            .await?
            .map(|t| t.modified);
        Ok(Some(touched.map_or(m.modified, |t| t.max(m.modified))))
    }
}
