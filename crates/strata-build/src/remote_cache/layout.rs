//! The cache as an OCI image layout directory (`type=local`): `oci-layout`,
//! `blobs/sha256/<hex>`, and `index.json` naming the cache manifest by its
//! `org.opencontainers.image.ref.name` annotation. Blobs and `index.json` are written to
//! a temporary file and renamed into place, so a reader never sees half a file; blobs are
//! verified against their digest when read.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use strata_oci::{media_type, Descriptor, Digest, ImageIndex, Manifest, RawManifest};
use strata_store::VerifyingReader;

use super::backend::Backend;
use crate::error::{BuildError, BuildErrorKind, Result};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub(crate) struct LayoutBackend {
    dir: PathBuf,
    tag: String,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> BuildError {
    let kind = if e.kind() == std::io::ErrorKind::NotFound {
        BuildErrorKind::NotFound
    } else {
        BuildErrorKind::Internal
    };
    BuildError::new(kind, format!("{what} {}: {e}", path.display()))
}

impl LayoutBackend {
    pub(crate) fn new(dir: PathBuf, tag: String) -> Self {
        LayoutBackend { dir, tag }
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(d.hex())
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    fn read_index(&self) -> Result<Option<ImageIndex>> {
        let path = self.index_path();
        // A FIFO or device in the cache directory is refused, never read.
        let read = strata_layer::open_regular(&path).and_then(|mut f| {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map(|_| bytes)
        });
        let bytes = match read {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("reading", &path, e)),
        };
        let raw = RawManifest::parse(bytes, Some(media_type::OCI_INDEX))
            .map_err(|e| BuildError::internal(format!("{}: {e}", path.display())))?;
        match raw.parsed {
            Manifest::Index(i) => Ok(Some(i)),
            Manifest::Image(_) => Err(BuildError::internal(format!(
                "{}: not an image index",
                path.display()
            ))),
        }
    }

    /// Write `data` to `path` through a temporary file in the same directory.
    fn write_atomic(path: &Path, data: &mut dyn Read) -> Result<()> {
        let parent = path
            .parent()
            .ok_or_else(|| BuildError::internal(format!("{}: no parent", path.display())))?;
        fs::create_dir_all(parent).map_err(|e| io_err("creating", parent, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(parent)
            .map_err(|e| io_err("creating a temporary file in", parent, e))?;
        std::io::copy(data, &mut tmp).map_err(|e| io_err("writing", tmp.path(), e))?;
        tmp.as_file_mut()
            .sync_all()
            .map_err(|e| io_err("syncing", path, e))?;
        tmp.persist(path)
            .map_err(|e| io_err("renaming into", path, e.error))?;
        Ok(())
    }
}

impl Backend for LayoutBackend {
    fn get_manifest(&self) -> Result<Option<RawManifest>> {
        let Some(index) = self.read_index()? else {
            return Ok(None);
        };
        let named = index
            .manifests
            .iter()
            .find(|d| d.annotation(REF_NAME) == Some(self.tag.as_str()));
        let Some(desc) = named else {
            return Ok(None);
        };
        let bytes = self.get_small(desc, crate::remote_cache::CONFIG_LIMIT)?;
        let raw = RawManifest::parse_verified(bytes, Some(desc.media_type.as_str()), &desc.digest)
            .map_err(|e| {
                BuildError::internal(format!(
                    "{}: manifest {}: {e}",
                    self.dir.display(),
                    desc.digest
                ))
            })?;
        Ok(Some(raw))
    }

    fn get_small(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        if desc.size > limit {
            return Err(BuildError::internal(format!(
                "{}: blob {} is over the {limit} byte limit",
                self.dir.display(),
                desc.digest
            )));
        }
        let mut out = Vec::new();
        // A layout reads its blobs in place; the scratch directory goes unused.
        self.open_blob(desc, Path::new("."))?
            .read_to_end(&mut out)
            .map_err(|e| io_err("reading", &self.blob_path(&desc.digest), e))?;
        Ok(out)
    }

    fn open_blob(&self, desc: &Descriptor, _scratch: &Path) -> Result<Box<dyn Read + Send + '_>> {
        let path = self.blob_path(&desc.digest);
        let file = strata_layer::open_regular(&path).map_err(|e| io_err("opening", &path, e))?;
        Ok(Box::new(VerifyingReader::new(
            file,
            desc.digest.clone(),
            desc.size,
        )))
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        Ok(fs::metadata(self.blob_path(&desc.digest)).is_ok_and(|m| m.len() == desc.size))
    }

    fn put_blob_file(&self, desc: &Descriptor, path: &Path) -> Result<()> {
        let mut f = fs::File::open(path).map_err(|e| io_err("opening", path, e))?;
        Self::write_atomic(&self.blob_path(&desc.digest), &mut f)
    }

    fn put_blob_bytes(&self, desc: &Descriptor, data: &[u8]) -> Result<()> {
        Self::write_atomic(&self.blob_path(&desc.digest), &mut &data[..])
    }

    fn put_manifest(&self, raw: &RawManifest) -> Result<()> {
        let desc = raw.descriptor();
        if !self.has_blob(&desc)? {
            self.put_blob_bytes(&desc, &raw.bytes)?;
        }
        let mut index = self
            .read_index()?
            .unwrap_or_else(|| ImageIndex::oci(Vec::new()));
        index
            .manifests
            .retain(|d| d.annotation(REF_NAME) != Some(self.tag.as_str()));
        index
            .manifests
            .push(desc.with_annotation(REF_NAME, self.tag.clone()));
        let layout = self.dir.join("oci-layout");
        if !layout.exists() {
            Self::write_atomic(&layout, &mut &br#"{"imageLayoutVersion":"1.0.0"}"#[..])?;
        }
        let mut bytes = serde_json::to_vec(&index).map_err(BuildError::internal)?;
        bytes.write_all(b"\n").map_err(BuildError::internal)?;
        Self::write_atomic(&self.index_path(), &mut &bytes[..])
    }
}
