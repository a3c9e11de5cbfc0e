//! Saving: images out as one archive that is both a docker-archive and an OCI layout.
//!
//! The tar holds, in this order (deterministic: same images and names, same bytes):
//! `blobs/`, `blobs/<alg>/`, every blob sorted by digest and written once however many
//! images share it, then `index.json`, `manifest.json`, `oci-layout` and `repositories`.
//! Every entry has mtime 0 and owner 0:0. Blobs are streamed from the [`BlobSource`] into
//! the output with their size fixed in the tar header up front, so nothing is staged on
//! disk or in memory; a source that ends early or runs long is an error.
//!
//! `index.json` has one descriptor per name, annotated with `io.containerd.image.name`
//! (the full name) and `org.opencontainers.image.ref.name` (the tag), as Docker ≥ 25 and
//! containerd write; an untagged image gets one descriptor without annotations.
//! `manifest.json` points `Config` and `Layers` into `blobs/` and lists `LayerSources`.
//!
//! [`save_layout_dir`] writes the same OCI files into a directory (no Docker files).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;

use serde::Serialize;
use strata_oci::media_type::OCI_INDEX;
use strata_oci::{Digest, ImageIndex};

use crate::docker::ManifestEntry;
use crate::error::{Error, ErrorKind, Result};
use crate::files::blob_path;
use crate::model::{
    self, ConfigHead, Descriptor, Manifest, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME,
    OCI_LAYOUT_FILE,
};
use crate::sink::BlobSource;

/// A name to save an image under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveName {
    /// Fully qualified: `docker.io/library/busybox:latest`.
    pub full: String,
    /// Repository in Docker's familiar form: `busybox`, `quay.io/x/y`.
    pub familiar_repo: String,
    /// The tag: `latest`.
    pub tag: String,
}

/// An image to save: its manifest descriptor and the names to write for it.
#[derive(Debug, Clone)]
pub struct SaveImage {
    pub manifest: Descriptor,
    pub names: Vec<SaveName>,
    /// Artifact manifests whose subject is this image (OCI 1.1 referrers: SBOMs,
    /// signatures), as referrers listings describe them (with `artifactType`). They are
    /// written with their blobs and listed in `index.json`, not in `manifest.json`.
    pub attachments: Vec<Descriptor>,
}

/// An image with its documents read and checked, ready to be written.
struct Planned {
    image: SaveImage,
    manifest: Manifest,
    diff_ids: Vec<Digest>,
}

/// Everything an archive will contain.
struct Plan {
    images: Vec<Planned>,
    /// Every blob once, sorted by digest, with its size.
    blobs: BTreeMap<Digest, u64>,
}

fn plan(images: &[SaveImage], source: &dyn BlobSource) -> Result<Plan> {
    let mut planned = Vec::new();
    let mut blobs = BTreeMap::new();
    for image in images {
        let desc = &image.manifest;
        if !desc.media_type.is_manifest() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "image {} is a {}; saving multi-platform indexes is not supported, save one platform's image",
                    desc.digest, desc.media_type
                ),
            ));
        }
        let bytes = read_small(source, &desc.digest, desc.size)?;
        let manifest: Manifest = model::parse(&bytes, &format!("manifest {}", desc.digest))?;
        let config = read_small(source, &manifest.config.digest, manifest.config.size)?;
        let head: ConfigHead =
            model::parse(&config, &format!("config {}", manifest.config.digest))?;
        let diff_ids = head.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        if diff_ids.len() != manifest.layers.len() {
            return Err(Error::malformed(format!(
                "image {}: config lists {} diff_ids for {} layers",
                desc.digest,
                diff_ids.len(),
                manifest.layers.len()
            )));
        }
        blobs.insert(desc.digest.clone(), desc.size);
        blobs.insert(manifest.config.digest.clone(), manifest.config.size);
        for layer in &manifest.layers {
            blobs.insert(layer.digest.clone(), layer.size);
        }
        for a in &image.attachments {
            let bytes = read_small(source, &a.digest, a.size)?;
            let m: Manifest = model::parse(&bytes, &format!("attachment {}", a.digest))?;
            blobs.insert(a.digest.clone(), a.size);
            for d in std::iter::once(&m.config).chain(m.layers.iter()) {
                blobs.insert(d.digest.clone(), d.size);
            }
        }
        planned.push(Planned {
            image: image.clone(),
            manifest,
            diff_ids,
        });
    }
    Ok(Plan {
        images: planned,
        blobs,
    })
}

fn read_small(source: &dyn BlobSource, digest: &Digest, size: u64) -> Result<Vec<u8>> {
    if size > crate::files::SMALL_FILE_LIMIT {
        return Err(Error::malformed(format!(
            "document {digest} is too large ({size} bytes)"
        )));
    }
    let mut out = Vec::with_capacity(size as usize);
    ExactReader::new(source.open_blob(digest)?, size, digest.clone())
        .read_to_end(&mut out)
        .map_err(|e| Error::io(format!("reading blob {digest}"), None, e))?;
    Ok(out)
}

fn index_json(plan: &Plan) -> Vec<u8> {
    let mut manifests = Vec::new();
    for p in &plan.images {
        let base = Descriptor::new(
            p.image.manifest.media_type.clone(),
            p.image.manifest.digest.clone(),
            p.image.manifest.size,
        );
        if p.image.names.is_empty() {
            manifests.push(base.clone());
        }
        for name in &p.image.names {
            manifests.push(
                base.clone()
                    .with_annotation(ANNOTATION_IMAGE_NAME, &name.full)
                    .with_annotation(ANNOTATION_REF_NAME, &name.tag),
            );
        }
        for a in &p.image.attachments {
            if !manifests.iter().any(|m: &Descriptor| m.digest == a.digest) {
                manifests.push(a.clone());
            }
        }
    }
    let mut index = ImageIndex::oci(manifests);
    index.media_type = Some(OCI_INDEX.into());
    serde_json::to_vec(&index).expect("index serialises")
}

fn manifest_json(plan: &Plan) -> Vec<u8> {
    let entries: Vec<ManifestEntry> = plan
        .images
        .iter()
        .map(|p| {
            let sources = p
                .diff_ids
                .iter()
                .zip(&p.manifest.layers)
                .map(|(diff, layer)| {
                    let l =
                        Descriptor::new(layer.media_type.clone(), layer.digest.clone(), layer.size);
                    (diff.clone(), l)
                })
                .collect();
            ManifestEntry {
                config: blob_path(&p.manifest.config.digest),
                repo_tags: Some(
                    p.image
                        .names
                        .iter()
                        .map(|n| format!("{}:{}", n.familiar_repo, n.tag))
                        .collect(),
                ),
                layers: Some(
                    p.manifest
                        .layers
                        .iter()
                        .map(|l| blob_path(&l.digest))
                        .collect(),
                ),
                parent: None,
                layer_sources: Some(sources),
            }
        })
        .collect();
    serde_json::to_vec(&entries).expect("manifest.json serialises")
}

fn repositories_json(plan: &Plan) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(transparent)]
    struct Repos(BTreeMap<String, BTreeMap<String, String>>);
    let mut repos = BTreeMap::<String, BTreeMap<String, String>>::new();
    for p in &plan.images {
        // Docker names the top layer here; the archive has no v1 IDs, so use its digest.
        let Some(top) = p.manifest.layers.last() else {
            continue;
        };
        for name in &p.image.names {
            repos
                .entry(name.familiar_repo.clone())
                .or_default()
                .insert(name.tag.clone(), top.digest.hex().to_owned());
        }
    }
    serde_json::to_vec(&Repos(repos)).expect("repositories serialises")
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h
}

/// Write `images` as a docker-archive + OCI layout tar to `out`. Returns `out`.
pub fn save_archive<W: Write>(images: &[SaveImage], source: &dyn BlobSource, out: W) -> Result<W> {
    let plan = plan(images, source)?;
    let io_err = |what: &str, e: io::Error| Error::io(what, None, e);
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_data(
        &mut header(tar::EntryType::Directory, 0),
        "blobs/",
        io::empty(),
    )
    .map_err(|e| io_err("writing archive", e))?;
    let mut algs: Vec<&str> = plan.blobs.keys().map(|d| d.algorithm().as_str()).collect();
    algs.dedup();
    for alg in algs {
        tar.append_data(
            &mut header(tar::EntryType::Directory, 0),
            format!("blobs/{alg}/"),
            io::empty(),
        )
        .map_err(|e| io_err("writing archive", e))?;
    }
    for (digest, size) in &plan.blobs {
        let reader = ExactReader::new(source.open_blob(digest)?, *size, digest.clone());
        tar.append_data(
            &mut header(tar::EntryType::Regular, *size),
            blob_path(digest),
            reader,
        )
        .map_err(|e| io_err(&format!("writing blob {digest} to archive"), e))?;
    }
    for (name, bytes) in [
        ("index.json", index_json(&plan)),
        ("manifest.json", manifest_json(&plan)),
        ("oci-layout", OCI_LAYOUT_FILE.as_bytes().to_vec()),
        ("repositories", repositories_json(&plan)),
    ] {
        tar.append_data(
            &mut header(tar::EntryType::Regular, bytes.len() as u64),
            name,
            &bytes[..],
        )
        .map_err(|e| io_err(&format!("writing {name} to archive"), e))?;
    }
    let mut out = tar
        .into_inner()
        .map_err(|e| io_err("finishing archive", e))?;
    out.flush().map_err(|e| io_err("flushing archive", e))?;
    Ok(out)
}

/// Write `images` as an OCI image layout into directory `dir`, which must not exist or be
/// empty. Blobs are written under temporary names and renamed; `index.json` comes last,
/// so an interrupted save leaves no layout that claims images it lacks.
pub fn save_layout_dir(images: &[SaveImage], source: &dyn BlobSource, dir: &Path) -> Result<()> {
    let plan = plan(images, source)?;
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io("reading", Some(dir), e))?;
        if entries.next().is_some() {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{} exists and is not empty; refusing to write a layout into it",
                    dir.display()
                ),
            ));
        }
    }
    for (digest, size) in &plan.blobs {
        let path = dir.join(blob_path(digest));
        let parent = path.parent().expect("blob path has a parent");
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", Some(parent), e))?;
        let tmp = parent.join(format!(".{}.partial", digest.hex()));
        let mut file =
            std::fs::File::create(&tmp).map_err(|e| Error::io("creating", Some(&tmp), e))?;
        let mut reader = ExactReader::new(source.open_blob(digest)?, *size, digest.clone());
        io::copy(&mut reader, &mut file).map_err(|e| Error::io("writing", Some(&tmp), e))?;
        file.sync_all()
            .map_err(|e| Error::io("syncing", Some(&tmp), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("renaming", Some(&tmp), e))?;
    }
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::io("writing", Some(&path), e))
    };
    write("oci-layout", OCI_LAYOUT_FILE.as_bytes())?;
    write("index.json", &index_json(&plan))?;
    Ok(())
}

/// Yields exactly `size` bytes of `inner` and then checks that `inner` is at its end
/// (which is also when a verifying source checks the digest).
struct ExactReader<R> {
    inner: R,
    remaining: u64,
    done: bool,
    digest: Digest,
}

impl<R: Read> ExactReader<R> {
    fn new(inner: R, size: u64, digest: Digest) -> Self {
        ExactReader {
            inner,
            remaining: size,
            done: false,
            digest,
        }
    }
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            if !self.done {
                let mut probe = [0u8; 1];
                if self.inner.read(&mut probe)? != 0 {
                    return Err(io::Error::other(format!(
                        "blob {} is larger than its descriptor says",
                        self.digest
                    )));
                }
                self.done = true;
            }
            return Ok(0);
        }
        let max = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "blob {} is {} bytes shorter than its descriptor says",
                    self.digest, self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}
