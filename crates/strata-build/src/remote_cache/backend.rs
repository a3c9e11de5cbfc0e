//! Where a cache's blobs and manifest live: a registry repository or an OCI layout
//! directory, behind one small trait so import and export are written once.

use std::io::Read;
use std::path::Path;

use strata_oci::{Descriptor, RawManifest};

use super::layout::LayoutBackend;
use super::registry::RegistryBackend;
use super::spec::CacheLocation;
use crate::error::Result;

/// Blob and manifest access for one cache location.
pub(crate) trait Backend: Send + Sync {
    /// The cache manifest, or `None` when the location holds none.
    fn get_manifest(&self) -> Result<Option<RawManifest>>;
    /// A small blob (the key table), whole, verified, at most `limit` bytes.
    fn get_small(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>>;
    /// A blob's bytes. Readers may verify only at end of stream: read to the end. A backend
    /// that must spool the blob first does so in `scratch` (on the store's disk, not /tmp).
    fn open_blob(&self, desc: &Descriptor, scratch: &Path) -> Result<Box<dyn Read + Send + '_>>;
    fn has_blob(&self, desc: &Descriptor) -> Result<bool>;
    /// Store the file at `path`, whose digest and size are `desc`'s.
    fn put_blob_file(&self, desc: &Descriptor, path: &Path) -> Result<()>;
    fn put_blob_bytes(&self, desc: &Descriptor, data: &[u8]) -> Result<()>;
    /// Name the manifest (already serialised) as the cache.
    fn put_manifest(&self, raw: &RawManifest) -> Result<()>;
}

/// A cache location, opened.
pub struct RemoteCache {
    pub(crate) location: CacheLocation,
    pub(crate) backend: Box<dyn Backend>,
}

impl std::fmt::Debug for RemoteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCache")
            .field("location", &self.location)
            .finish()
    }
}

impl RemoteCache {
    /// Open `location`. A registry needs `client` (built by the caller with its TLS and
    /// credential settings); a local directory ignores it.
    pub fn open(
        location: &CacheLocation,
        client: Option<strata_distribution::Client>,
    ) -> Result<RemoteCache> {
        let backend: Box<dyn Backend> = match location {
            CacheLocation::Registry(r) => {
                let client = client.ok_or_else(|| {
                    crate::error::BuildError::internal(format!(
                        "cache {r}: a registry client is required"
                    ))
                })?;
                Box::new(RegistryBackend::new(client, r.clone())?)
            }
            CacheLocation::Local { dir, tag } => {
                Box::new(LayoutBackend::new(dir.clone(), tag.clone()))
            }
        };
        Ok(RemoteCache {
            location: location.clone(),
            backend,
        })
    }

    pub fn location(&self) -> &CacheLocation {
        &self.location
    }
}
