//! Loading: an archive or layout in, verified blobs and image descriptions out.
//!
//! [`load_reader`] takes a tar stream (plain, gzip or zstd: detected by magic), [`load_dir`]
//! an unpacked layout directory, [`load_path`] either. Blobs are committed to the sink as
//! they are verified; the returned [`LoadReport`] describes the images, and it is up to
//! the caller to record them (and their tags) once the whole load succeeded. That split is
//! what makes a load atomic: a load that fails or is killed leaves only unreferenced
//! blobs, which the store's lease keeps out of sight until garbage collection.
//!
//! Format precedence: an OCI layout whose `index.json` lists images is read as a layout
//! (manifest bytes and digests are kept as they are), with Docker ≥ 25 `RepoTags` merged
//! in from `manifest.json`; otherwise `manifest.json` is read as a classic docker-archive.

use std::io::Read;
use std::path::Path;

use strata_oci::Digest;

use crate::detect::decompressed;
use crate::docker::{self, parse_manifest_json};
use crate::error::{Error, ErrorKind, Result};
use crate::files::{DirFiles, Files, TarFiles};
use crate::layout;
use crate::model::{self, Descriptor, Index};
use crate::sink::BlobSink;

/// One image found in an archive, its blobs already committed to the sink.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedImage {
    /// The manifest (or index) that is the image.
    pub manifest: Descriptor,
    /// The config digest (the image ID) for a manifest; `None` for an index.
    pub config: Option<Digest>,
    /// Layer descriptors for a manifest; empty for an index.
    pub layers: Vec<Descriptor>,
    /// Names as the archive gives them (`RepoTags`, `io.containerd.image.name`), not yet
    /// normalised: `busybox:latest`, `docker.io/library/busybox:latest`, ...
    pub names: Vec<String>,
}

/// What the archive was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `manifest.json` with `<id>.json` and `<v1id>/layer.tar` (Docker < 25).
    DockerArchive,
    /// An OCI image layout, possibly with Docker's `manifest.json` (Docker ≥ 25).
    OciLayout,
}

/// The result of a load.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub format: Format,
    pub images: Vec<LoadedImage>,
    /// Entries that are not images (e.g. an index.json descriptor of an unknown media
    /// type), with the reason, for the caller to show.
    pub skipped: Vec<String>,
    /// Artifact manifests attached to a subject (subject digest, artifact descriptor),
    /// their blobs committed; the caller records them once the images are recorded.
    pub attachments: Vec<(Digest, Descriptor)>,
}

/// Load from a file or directory path: a directory is read as a layout (or unpacked
/// docker-archive), a file as a possibly compressed tar.
pub fn load_path(path: &Path, sink: &mut dyn BlobSink) -> Result<LoadReport> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("opening", Some(path), e))?;
    if meta.is_dir() {
        return load_dir(path, sink);
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", Some(path), e))?;
    load_reader(file, sink)
        .map_err(|e| Error::new(e.kind, format!("{}: {}", path.display(), e.message)))
}

/// Load an unpacked layout directory.
pub fn load_dir(dir: &Path, sink: &mut dyn BlobSink) -> Result<LoadReport> {
    let mut files = DirFiles::new(dir)?;
    resolve(&mut files, sink)
        .map_err(|e| Error::new(e.kind, format!("{}: {}", dir.display(), e.message)))
}

/// Load a tar stream (uncompressed, gzip or zstd).
pub fn load_reader<R: Read>(reader: R, sink: &mut dyn BlobSink) -> Result<LoadReport> {
    let (_, mut plain) = decompressed(reader)?;
    let mut files = TarFiles::collect(&mut plain, sink)?;
    resolve(&mut files, sink)
}

/// Turn an archive's files into images.
pub fn resolve(files: &mut dyn Files, sink: &mut dyn BlobSink) -> Result<LoadReport> {
    let docker_entries = match files.small(sink, "manifest.json")? {
        Some(bytes) => Some(parse_manifest_json(&bytes)?),
        None => None,
    };
    let index = match files.small(sink, "index.json")? {
        Some(bytes) => {
            let marker = files.small(sink, "oci-layout")?.ok_or_else(|| {
                Error::malformed("index.json without an oci-layout file: not an OCI image layout")
            })?;
            layout::check_layout_marker(&marker)?;
            Some(model::parse::<Index>(&bytes, "index.json")?)
        }
        None => None,
    };
    let mut skipped = Vec::new();
    if let Some(index) = index.as_ref().filter(|i| !i.manifests.is_empty()) {
        let entries = docker_entries.as_deref().unwrap_or(&[]);
        let mut attachments = Vec::new();
        let images = layout::resolve(files, sink, index, entries, &mut skipped, &mut attachments)?;
        return Ok(LoadReport {
            format: Format::OciLayout,
            images,
            skipped,
            attachments,
        });
    }
    if let Some(entries) = docker_entries {
        let images = docker::resolve(files, sink, &entries)?;
        let format = if index.is_some() {
            Format::OciLayout
        } else {
            Format::DockerArchive
        };
        return Ok(LoadReport {
            format,
            images,
            skipped,
            attachments: Vec::new(),
        });
    }
    if index.is_some() {
        return Ok(LoadReport {
            format: Format::OciLayout,
            images: Vec::new(),
            skipped,
            attachments: Vec::new(),
        });
    }
    if files.exists("repositories")? {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "legacy docker-archive without manifest.json (written by docker before 1.10) is not supported",
        ));
    }
    Err(Error::malformed(
        "not a docker-archive or OCI image layout: neither manifest.json nor index.json found",
    ))
}
