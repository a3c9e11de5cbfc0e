//! `strata copy SRC DST`: move an image between transports, skopeo style.
//!
//! Sources and destinations are `strata_image` sources: `docker://REF`, `oci:DIR[:TAG]`,
//! `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`, or `strata:NAME` / a bare name
//! for the local store. Every pair is a copy over strata-image's content interface: blobs
//! stream from source to destination verified, digests are kept, attachments follow their
//! image. Archives are written whole to a temporary file beside the destination and
//! renamed, so a failed copy leaves no half-written archive. From the local store to a
//! registry the copy is a `push` (uncompressed store layers are compressed on the way).

use std::process::ExitCode;

use anyhow::{Context, Result};
use strata_distribution::PushOptions;
use strata_image::copy::{copy_image, save_to_archive, CopyOptions};
use strata_image::transport::reference_of;
use strata_image::{ImageSource, OpenOptions};

use super::pull::{client, client_options, runtime, CliProgress, RegistryFlags};
use crate::Global;

/// Copy an image between registries, OCI layouts, archives and the local store
#[derive(clap::Args, Debug)]
pub struct CopyArgs {
    /// Platform to pick from a multi-platform source (default: the whole index where the
    /// destination keeps indexes, else the host's platform)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or strata:NAME
    pub source: String,
    /// docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or strata:NAME
    pub destination: String,
}

/// The tag a destination names for the copied image.
fn destination_tag(dst: &ImageSource) -> Option<String> {
    match dst {
        ImageSource::Store(name) => Some(name.clone()),
        ImageSource::OciLayout { reference, .. } => reference.clone(),
        ImageSource::Registry(r) => r.tag().map(str::to_owned),
        ImageSource::DockerArchive { .. } | ImageSource::OciArchive { .. } => None,
    }
}

pub fn run(a: CopyArgs, global: &Global) -> Result<ExitCode> {
    let src: ImageSource = a.source.parse()?;
    let dst: ImageSource = a.destination.parse()?;
    let platform = a
        .platform
        .as_deref()
        .map(strata_oci::Platform::parse)
        .transpose()?;
    let hosts: Vec<String> = [&src, &dst]
        .into_iter()
        .filter_map(|s| match s {
            ImageSource::Registry(r) => Some(r.registry_host().to_owned()),
            _ => None,
        })
        .collect();
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let mut opts = OpenOptions::new(
        global
            .root
            .clone()
            .unwrap_or_else(strata_store::default_root),
    );
    opts.platform = platform.clone();
    opts.registry = client_options(&a.registry, &host_refs)?;
    let copy_opts = CopyOptions {
        platform,
        skip_attachments: false,
    };

    let digest = match (&src, &dst) {
        (ImageSource::Store(name), ImageSource::Registry(r)) => {
            let store = super::archive_common::open_store(global)?;
            let image = store.resolve(name)?;
            let client = client(&a.registry, &host_refs)?;
            let push = PushOptions {
                concurrency: a.registry.max_concurrent,
                ..PushOptions::default()
            };
            let progress = CliProgress::new(a.quiet, true);
            runtime()?
                .block_on(strata_distribution::push(
                    &client,
                    &store,
                    &image.record.manifest_digest,
                    r,
                    &push,
                    progress,
                ))?
                .manifest
                .digest
        }
        (_, ImageSource::DockerArchive { path, reference })
        | (_, ImageSource::OciArchive { path, reference }) => {
            let content = strata_image::open_read(&src, &opts)?;
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let tmp = tempfile::Builder::new()
                .prefix(".strata-copy-")
                .tempfile_in(dir)
                .with_context(|| format!("creating a file in {}", dir.display()))?;
            let (digest, file) = save_to_archive(
                content.as_ref(),
                reference_of(&src).as_deref(),
                reference.as_deref(),
                &copy_opts,
                tmp,
            )?;
            file.persist(path)
                .with_context(|| format!("writing {}", path.display()))?;
            digest
        }
        _ => {
            let content = strata_image::open_read(&src, &opts)?;
            let dest = strata_image::open_write(&dst, &opts)?;
            copy_image(
                content.as_ref(),
                reference_of(&src).as_deref(),
                dest.as_ref(),
                destination_tag(&dst).as_deref(),
                &copy_opts,
            )?
            .digest
        }
    };
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}
