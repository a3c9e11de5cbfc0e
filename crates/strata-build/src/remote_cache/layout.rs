//! The cache as an OCI image layout directory (`type=local`), written and read through
//! strata-image's layout transport (the one OCI layout writer): `index.json` names the
//! cache manifest by its `org.opencontainers.image.ref.name` annotation; blobs are
//! committed only when their digest and size match (temporary file, fsync, rename) and
//! verified when read; `index.json` is replaced atomically after the manifest is in place.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use strata_image::transport::layout_write::LayoutDir;
use strata_image::{ContentRead, ContentWrite};
use strata_oci::{Descriptor, RawManifest};

use super::backend::Backend;
use crate::error::{BuildError, BuildErrorKind, Result};

pub(crate) struct LayoutBackend {
    dir: PathBuf,
    tag: String,
    layout: OnceLock<LayoutDir>,
}

fn err(e: strata_image::Error) -> BuildError {
    let kind = if e.is_not_found() {
        BuildErrorKind::NotFound
    } else {
        BuildErrorKind::Internal
    };
    BuildError::new(kind, e.to_string())
}

impl LayoutBackend {
    pub(crate) fn new(dir: PathBuf, tag: String) -> Self {
        LayoutBackend {
            dir,
            tag,
            layout: OnceLock::new(),
        }
    }

    /// Whether the directory holds a layout; reading a missing cache finds nothing rather
    /// than creating the directory.
    fn exists(&self) -> bool {
        self.dir.join("index.json").is_file()
    }

    /// The layout, created on first use.
    fn layout(&self) -> Result<&LayoutDir> {
        if let Some(l) = self.layout.get() {
            return Ok(l);
        }
        let l = LayoutDir::open_or_create(&self.dir).map_err(err)?;
        Ok(self.layout.get_or_init(|| l))
    }
}

impl Backend for LayoutBackend {
    fn get_manifest(&self) -> Result<Option<RawManifest>> {
        if !self.exists() {
            return Ok(None);
        }
        let layout = self.layout()?;
        let desc = match layout.resolve(Some(&self.tag)) {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        layout.get_manifest(&desc).map(Some).map_err(err)
    }

    fn get_small(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        self.layout()?.read_verified(desc, limit).map_err(err)
    }

    fn open_blob(&self, desc: &Descriptor, _scratch: &Path) -> Result<Box<dyn Read + Send + '_>> {
        // A layout reads its blobs in place; the scratch directory goes unused.
        self.layout()?.open_blob(desc).map_err(err)
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        if !self.exists() {
            return Ok(false);
        }
        self.layout()?.has_blob(desc).map_err(err)
    }

    fn put_blob_file(&self, desc: &Descriptor, path: &Path) -> Result<()> {
        let mut f = std::fs::File::open(path)
            .map_err(|e| BuildError::internal(format!("opening {}: {e}", path.display())))?;
        self.layout()?.put_blob(desc, &mut f).map_err(err)
    }

    fn put_blob_bytes(&self, desc: &Descriptor, data: &[u8]) -> Result<()> {
        self.layout()?.put_bytes(desc, data).map_err(err)
    }

    fn put_manifest(&self, raw: &RawManifest) -> Result<()> {
        self.layout()?
            .put_manifest(raw, Some(&self.tag))
            .map_err(err)
    }
}
