//! The cache in a registry repository, through `strata-distribution`'s client. The
//! builder's threads are synchronous; this backend owns a small async runtime and blocks
//! on it for each request.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use strata_distribution::{Client, ErrorKind, Repository};
use strata_oci::{Descriptor, Manifest, RawManifest, Reference};

use super::backend::Backend;
use crate::error::{BuildError, BuildErrorKind, Result};

pub(crate) struct RegistryBackend {
    client: Client,
    reference: Reference,
    runtime: tokio::runtime::Runtime,
}

fn failed(what: String, e: strata_distribution::Error) -> BuildError {
    let kind = match e.kind {
        ErrorKind::NotFound => BuildErrorKind::NotFound,
        _ => BuildErrorKind::Internal,
    };
    BuildError::new(kind, format!("{what}: {e}"))
}

impl RegistryBackend {
    pub(crate) fn new(client: Client, reference: Reference) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| BuildError::internal(format!("starting the async runtime: {e}")))?;
        Ok(RegistryBackend {
            client,
            reference,
            runtime,
        })
    }

    fn repo(&self) -> Repository<'_> {
        Repository::of(&self.client, &self.reference)
    }

    fn push_scope(&self) -> String {
        format!("repository:{}:pull,push", self.reference.path())
    }

    fn tag(&self) -> String {
        self.reference.manifest_ref()
    }
}

impl Backend for RegistryBackend {
    fn get_manifest(&self) -> Result<Option<RawManifest>> {
        let what = format!("manifest {}", self.tag());
        match self.runtime.block_on(self.repo().get_manifest(&self.tag())) {
            Ok(raw) => match raw.parsed {
                Manifest::Image(_) => Ok(Some(raw)),
                Manifest::Index(_) => Err(BuildError::internal(format!(
                    "{what}: is an index, not a strata build cache manifest"
                ))),
            },
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(what, e)),
        }
    }

    fn get_small(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        let what = format!("blob {}", desc.digest);
        if desc.size > limit {
            return Err(BuildError::internal(format!(
                "{what}: {} bytes is over the {limit} byte limit",
                desc.size
            )));
        }
        let bytes = self
            .runtime
            .block_on(self.repo().get_blob_bytes(&desc.digest, desc.size))
            .map_err(|e| failed(what, e))?;
        Ok(bytes.to_vec())
    }

    fn open_blob(&self, desc: &Descriptor, scratch: &Path) -> Result<Box<dyn Read + Send + '_>> {
        // Spooled to an unnamed temporary file, verified, then read from there: layers can
        // be large, and memory stays bounded.
        let what = format!("blob {}", desc.digest);
        let mut file = tempfile::tempfile_in(scratch)
            .map_err(|e| BuildError::internal(format!("{what}: temporary file: {e}")))?;
        self.runtime
            .block_on(
                self.repo()
                    .download_blob_to(&desc.digest, desc.size, &mut file),
            )
            .map_err(|e| failed(what.clone(), e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| BuildError::internal(format!("{what}: {e}")))?;
        Ok(Box::new(file))
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        let what = format!("blob {}", desc.digest);
        let size = self
            .runtime
            .block_on(self.repo().blob_size(&desc.digest, &self.push_scope()))
            .map_err(|e| failed(what, e))?;
        Ok(size.is_some())
    }

    fn put_blob_file(&self, desc: &Descriptor, path: &Path) -> Result<()> {
        let what = format!("uploading blob {}", desc.digest);
        self.runtime
            .block_on(self.repo().upload_blob_file(&desc.digest, path))
            .map_err(|e| failed(what, e))
    }

    fn put_blob_bytes(&self, desc: &Descriptor, data: &[u8]) -> Result<()> {
        let what = format!("uploading blob {}", desc.digest);
        self.runtime
            .block_on(
                self.repo()
                    .upload_bytes(&desc.digest, bytes::Bytes::copy_from_slice(data)),
            )
            .map_err(|e| failed(what, e))
    }

    fn put_manifest(&self, raw: &RawManifest) -> Result<()> {
        let what = format!("pushing manifest {}", self.tag());
        self.runtime
            .block_on(self.repo().put_manifest(&self.tag(), raw))
            .map_err(|e| failed(what, e))?;
        Ok(())
    }
}
