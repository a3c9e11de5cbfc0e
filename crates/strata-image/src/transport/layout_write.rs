//! Writing an OCI layout directory (`oci:DIR[:TAG]` as a destination).
//!
//! Blobs are written under a temporary name, hashed on the way, checked against their
//! descriptor, fsynced and renamed into `blobs/<alg>/<hex>`: a layout never holds a partial
//! or wrong blob under a digest name. `index.json` is rewritten (temporary file and rename)
//! only after the manifest it names is in place; a tag replaces the entry that carried the
//! same `org.opencontainers.image.ref.name`. Referrers (manifests with a `subject`) are
//! listed in `index.json` with their `artifactType`, where [`LayoutContent`] finds them.
//!
//! One writer per directory at a time is assumed, as skopeo and umoci assume.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use strata_oci::{Descriptor, Digest, DigestWriter, ImageIndex, RawManifest};

use super::files::DirFiles;
use super::layout::{blob_path, LayoutContent, REF_NAME};
use crate::content::{referrer_descriptor, subject_of, ContentRead, ContentWrite};
use crate::error::{Error, ErrorKind, Result};

const OCI_LAYOUT_FILE: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// An OCI layout directory open for reading and writing; created when missing.
pub struct LayoutDir {
    dir: PathBuf,
    location: String,
    reader: Mutex<LayoutContent<DirFiles>>,
}

impl LayoutDir {
    pub fn open_or_create(dir: &Path) -> Result<Self> {
        let location = format!("oci:{}", dir.display());
        fs::create_dir_all(dir.join("blobs"))
            .map_err(|e| Error::io(format!("{location}: creating {}", dir.display()), e))?;
        if !dir.join("oci-layout").exists() {
            write_atomic(&dir.join("oci-layout"), OCI_LAYOUT_FILE.as_bytes())
                .map_err(|e| e.context(&location))?;
        }
        if !dir.join("index.json").exists() {
            let empty = serde_json::to_vec(&ImageIndex::oci(Vec::new())).expect("index serialises");
            write_atomic(&dir.join("index.json"), &empty).map_err(|e| e.context(&location))?;
        }
        let reader = LayoutContent::open(DirFiles::new(dir)?, location.clone())?;
        Ok(LayoutDir {
            dir: dir.to_path_buf(),
            location,
            reader: Mutex::new(reader),
        })
    }

    fn reader(&self) -> std::sync::MutexGuard<'_, LayoutContent<DirFiles>> {
        self.reader.lock().expect("layout lock")
    }

    fn update_index(&self, f: impl FnOnce(&mut ImageIndex)) -> Result<()> {
        let mut reader = self.reader();
        let mut index = reader.index().clone();
        f(&mut index);
        let bytes = serde_json::to_vec(&index).expect("index serialises");
        write_atomic(&self.dir.join("index.json"), &bytes)
            .map_err(|e| e.context(&self.location))?;
        *reader = LayoutContent::open(DirFiles::new(&self.dir)?, self.location.clone())?;
        Ok(())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp-strata");
    let mut f =
        File::create(&tmp).map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("renaming {}", tmp.display()), e))
}

impl ContentRead for LayoutDir {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn resolve(&self, reference: Option<&str>) -> Result<Descriptor> {
        self.reader().resolve(reference)
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        // Blob files are immutable once renamed in, so the file is opened directly rather
        // than through the cached reader (whose lock would be held while streaming).
        let path = self.dir.join(blob_path(&desc.digest));
        let f = strata_layer::open_regular(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::not_found(format!(
                    "{}: blob {} is not in the layout",
                    self.location, desc.digest
                ))
            } else {
                Error::io(format!("{}: opening {}", self.location, path.display()), e)
            }
        })?;
        Ok(Box::new(strata_store::VerifyingReader::new(
            f,
            desc.digest.clone(),
            desc.size,
        )))
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        self.reader().has_blob(desc)
    }

    fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        self.reader().referrers(subject)
    }
}

impl ContentWrite for LayoutDir {
    fn put_blob(&self, desc: &Descriptor, data: &mut (dyn Read + Send)) -> Result<()> {
        if self.has_blob(desc)? {
            return Ok(());
        }
        let path = self.dir.join(blob_path(&desc.digest));
        let parent = path.parent().expect("blob path has a parent");
        fs::create_dir_all(parent).map_err(|e| {
            Error::io(
                format!("{}: creating {}", self.location, parent.display()),
                e,
            )
        })?;
        let tmp = parent.join(format!(".{}.partial", desc.digest.hex()));
        let result = (|| {
            let f = File::create(&tmp)
                .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
            let mut w = DigestWriter::new(io::BufWriter::new(f), desc.digest.algorithm());
            io::copy(data, &mut w)
                .map_err(|e| Error::io(format!("writing blob {}", desc.digest), e))?;
            let (buf, got, size) = w.finish();
            if got != desc.digest || size != desc.size {
                return Err(Error::new(
                    ErrorKind::DigestMismatch,
                    format!(
                        "blob {} ({} bytes): content has digest {got} and {size} bytes",
                        desc.digest, desc.size
                    ),
                ));
            }
            let f = buf
                .into_inner()
                .map_err(|e| Error::io(format!("writing {}", tmp.display()), e.into_error()))?;
            f.sync_all()
                .map_err(|e| Error::io(format!("syncing {}", tmp.display()), e))?;
            fs::rename(&tmp, &path).map_err(|e| Error::io(format!("renaming {}", tmp.display()), e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| e.context(&self.location))
    }

    fn put_manifest(&self, raw: &RawManifest, tag: Option<&str>) -> Result<()> {
        self.put_bytes(&raw.descriptor(), &raw.bytes)?;
        if subject_of(raw).is_some() {
            if tag.is_some() {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{}: a referrer ({}) cannot be tagged",
                        self.location, raw.digest
                    ),
                ));
            }
            let d = referrer_descriptor(raw);
            return self.update_index(|index| {
                if !index.manifests.iter().any(|m| m.digest == d.digest) {
                    index.manifests.push(d);
                }
            });
        }
        let mut entry = raw.descriptor();
        if let Some(t) = tag {
            entry.annotations.insert(REF_NAME.to_owned(), t.to_owned());
        }
        self.update_index(|index| {
            match tag {
                Some(t) => index
                    .manifests
                    .retain(|m| m.annotation(REF_NAME) != Some(t)),
                None => index
                    .manifests
                    .retain(|m| !(m.digest == entry.digest && m.annotations.is_empty())),
            }
            index.manifests.push(entry);
        })
    }
}
