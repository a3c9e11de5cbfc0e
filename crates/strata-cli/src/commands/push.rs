//! `strata push`: upload an image (or every tag of a repository) from the store.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use strata_distribution::PushOptions;
use strata_layer::Compression;
use strata_oci::Reference;
use strata_store::TagRef;

use super::archive_common::open_store;
use super::pull::{
    client, client_options, runtime, typed_tag_or_digest, CliProgress, RegistryFlags,
};
use crate::Global;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionFormat {
    Gzip,
    Zstd,
}

/// Upload an image to a registry
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Push all tags of the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Compression for layers stored uncompressed
    #[arg(long, value_enum, default_value_t = CompressionFormat::Gzip)]
    pub compression_format: CompressionFormat,
    /// Compression level (gzip 0-9, zstd 1-22)
    #[arg(long, value_name = "N")]
    pub compression_level: Option<i32>,
    /// Upload in chunks of this many bytes instead of one streamed request
    #[arg(long, value_name = "BYTES")]
    pub chunk_size: Option<usize>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// NAME[:TAG]
    pub name: String,
}

pub fn run(a: PushArgs, global: &Global) -> Result<ExitCode> {
    if a.all_tags && typed_tag_or_digest(&a.name) {
        bail!("tag can't be used with --all-tags/-a");
    }
    if a.name.contains('@') {
        bail!("{}: push a tag, not a digest reference", a.name);
    }
    let compression = match a.compression_format {
        CompressionFormat::Gzip => Compression::Gzip,
        CompressionFormat::Zstd => Compression::Zstd,
    };
    if let Some(l) = a.compression_level {
        let ok = match compression {
            Compression::Zstd => (1..=22).contains(&l),
            _ => (0..=9).contains(&l),
        };
        if !ok {
            bail!(
                "--compression-level {l} is out of range for {:?}",
                a.compression_format
            );
        }
    }
    if a.chunk_size == Some(0) {
        bail!("--chunk-size must be positive");
    }
    let store = open_store(global)?;
    let reference =
        Reference::parse(&a.name).with_context(|| format!("invalid reference {:?}", a.name))?;
    let targets: Vec<(Reference, strata_oci::Digest)> = if a.all_tags {
        let repo = reference.repository();
        let mut out = Vec::new();
        for image in store.list_images()? {
            for t in &image.tags {
                if t.repository == repo {
                    out.push((
                        reference.with_tag(&t.tag)?,
                        image.record.manifest_digest.clone(),
                    ));
                }
            }
        }
        if out.is_empty() {
            bail!(
                "an image does not exist locally with the repository {}",
                reference.familiar()
            );
        }
        out.sort_by(|x, y| x.0.tag().cmp(&y.0.tag()));
        out
    } else {
        let tag = TagRef::parse(&a.name)?;
        let image = store
            .resolve(&tag.key())
            .with_context(|| format!("an image does not exist locally with the tag: {}", a.name))?;
        vec![(reference.clone(), image.record.manifest_digest)]
    };
    let client = client(&a.registry, &[reference.registry_host()])?;
    let opts = PushOptions {
        compression,
        level: a.compression_level,
        concurrency: a.registry.max_concurrent,
        upload: strata_distribution::UploadOptions {
            chunk_size: a.chunk_size,
        },
    };
    let progress = CliProgress::new(a.quiet, true);
    let rt = runtime()?;
    if !a.quiet {
        eprintln!("The push refers to repository [{}]", reference.repository());
    }
    for (r, digest) in &targets {
        let pushed = rt
            .block_on(strata_distribution::push(
                &client,
                &store,
                digest,
                r,
                &opts,
                progress.clone(),
            ))
            .with_context(|| format!("pushing {}", r.familiar()))?;
        if let Err(e) = push_attachments(&a.registry, &store, r, digest, &pushed.manifest) {
            eprintln!("warning: attachments of {} not pushed: {e:#}", r.familiar());
        }
        if a.quiet {
            println!("{}", r.familiar());
        } else {
            println!(
                "{}: digest: {} size: {}",
                r.tag().unwrap_or("latest"),
                pushed.manifest.digest,
                pushed.manifest.bytes.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Push the attachments (SBOMs, signatures) of the store's manifest `local` along, as
/// referrers of the manifest as pushed (its digest differs when layers were compressed).
fn push_attachments(
    flags: &RegistryFlags,
    store: &strata_store::Store,
    r: &Reference,
    local: &strata_oci::Digest,
    pushed: &strata_oci::RawManifest,
) -> Result<usize> {
    if store.attachments(local)?.is_empty() {
        return Ok(0);
    }
    let opts = client_options(flags, &[r.registry_host()])?;
    let remote = strata_image::transport::remote::RegistryContent::new(r.clone(), &opts)?;
    let src = strata_image::transport::store::StoreContent::new(store.clone());
    Ok(strata_image::reattach(
        &src,
        &remote,
        local,
        &pushed.descriptor(),
    )?)
}
