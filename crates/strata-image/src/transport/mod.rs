//! One module per place an image can live, each implementing [`ContentRead`] (and
//! [`ContentWrite`] where strata writes there in place):
//!
//! | module | source | read | write |
//! |---|---|---|---|
//! | [`store`] | the local store | yes | yes (images, attachments) |
//! | [`layout`] | `oci:` directories, `oci-archive:` tars, Docker ≥ 25 archives | yes | — |
//! | [`layout_write`] | `oci:` directories | yes | yes |
//! | [`docker_archive`] | classic `docker save` tars | yes | — |
//! | [`remote`] | `docker://` repositories | yes | yes |
//!
//! Archives are written whole by strata-archive's `save_archive` (see [`crate::copy`]).

pub mod docker_archive;
pub mod files;
pub mod layout;
pub mod layout_write;
pub mod remote;
pub mod store;

use std::path::Path;

use crate::content::{ContentRead, ContentWrite};
use crate::error::{Error, ErrorKind, Result};
use crate::image::OpenOptions;
use crate::source::ImageSource;

/// The reference a source names inside its transport (`None`: the only image there).
pub fn reference_of(source: &ImageSource) -> Option<String> {
    match source {
        ImageSource::Store(name) => Some(name.clone()),
        ImageSource::DockerArchive { reference, .. }
        | ImageSource::OciLayout { reference, .. }
        | ImageSource::OciArchive { reference, .. } => reference.clone(),
        ImageSource::Registry(r) => Some(r.manifest_ref()),
    }
}

fn scratch_dir(opts: &OpenOptions) -> std::path::PathBuf {
    opts.store_root.join("tmp")
}

fn open_store(opts: &OpenOptions) -> Result<store::StoreContent> {
    let s = strata_store::Store::open(&opts.store_root)?;
    Ok(store::StoreContent::new(s))
}

/// Open a tar that is either an OCI layout (`index.json`) or a classic docker-archive.
fn open_archive(
    path: &Path,
    location: String,
    opts: &OpenOptions,
    docker_allowed: bool,
) -> Result<Box<dyn ContentRead>> {
    let tar = files::TarFiles::open(path, &scratch_dir(opts)).map_err(|e| e.context(&location))?;
    let has_images = layout::LayoutContent::is_layout(&tar)?;
    if has_images {
        let l = layout::LayoutContent::open(tar, location)?;
        if !l.index().manifests.is_empty() || !docker_allowed {
            return Ok(Box::new(l));
        }
        // An empty index.json beside a manifest.json: read the docker side.
        let tar = files::TarFiles::open(path, &scratch_dir(opts))?;
        let location = l.location();
        return Ok(Box::new(docker_archive::DockerArchiveContent::open(
            tar, location,
        )?));
    }
    if !docker_allowed {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{location}: no index.json: not an OCI image layout"),
        ));
    }
    Ok(Box::new(docker_archive::DockerArchiveContent::open(
        tar, location,
    )?))
}

/// Content to read `source` from.
pub fn open_read(source: &ImageSource, opts: &OpenOptions) -> Result<Box<dyn ContentRead>> {
    let location = match source {
        ImageSource::DockerArchive { path, .. } => format!("docker-archive:{}", path.display()),
        ImageSource::OciArchive { path, .. } => format!("oci-archive:{}", path.display()),
        ImageSource::OciLayout { dir, .. } => format!("oci:{}", dir.display()),
        _ => String::new(),
    };
    Ok(match source {
        ImageSource::Store(_) => Box::new(open_store(opts)?),
        ImageSource::DockerArchive { path, .. } => open_archive(path, location, opts, true)?,
        ImageSource::OciArchive { path, .. } => open_archive(path, location, opts, false)?,
        ImageSource::OciLayout { dir, .. } => {
            let files = files::DirFiles::new(dir).map_err(|e| e.context(&location))?;
            Box::new(layout::LayoutContent::open(files, location)?)
        }
        ImageSource::Registry(r) => {
            Box::new(remote::RegistryContent::new(r.clone(), &opts.registry)?)
        }
    })
}

/// Content to write into `source` in place: the store, an OCI layout directory (created if
/// missing) or a registry. Archives are written whole instead (see [`crate::copy`]).
pub fn open_write(source: &ImageSource, opts: &OpenOptions) -> Result<Box<dyn ContentWrite>> {
    Ok(match source {
        ImageSource::Store(_) => Box::new(open_store(opts)?),
        ImageSource::OciLayout { dir, .. } => {
            Box::new(layout_write::LayoutDir::open_or_create(dir)?)
        }
        ImageSource::Registry(r) => {
            Box::new(remote::RegistryContent::new(r.clone(), &opts.registry)?)
        }
        ImageSource::DockerArchive { .. } | ImageSource::OciArchive { .. } => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("{source}: archives are written whole, not blob by blob"),
            ))
        }
    })
}
