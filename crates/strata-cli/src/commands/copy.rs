//! `strata copy SRC DST`: move an image between transports, skopeo style.
//!
//! Transports: `docker://REF` (a registry), `oci:DIR[:TAG]` (an OCI layout directory),
//! `docker-archive:FILE[:REF]` (a `docker save` tar), `strata:NAME` (the local store).
//! Registry to registry copies go directly and keep indexes and every digest. Other pairs
//! pass through a store (the local one when either end is `strata:`, else a temporary
//! one); blobs keep their bytes, so digests are kept unless an uncompressed layer has to
//! be compressed for a registry.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use strata_archive::store::StoreSink;
use strata_archive::{SaveImage, SaveName};
use strata_distribution::{PullOptions, PushOptions, Repository};
use strata_oci::{Descriptor, Digest, Reference};
use strata_store::{Store, TagRef};

use super::archive_common::open_store;
use super::pull::{client, runtime, CliProgress, RegistryFlags};
use crate::Global;

/// Copy an image between registries, OCI layouts, docker archives and the local store
#[derive(clap::Args, Debug)]
pub struct CopyArgs {
    /// Platform to pick from a multi-platform source that is not copied whole
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// docker://REF, oci:DIR[:TAG], docker-archive:FILE[:REF] or strata:NAME
    pub source: String,
    /// docker://REF, oci:DIR[:TAG], docker-archive:FILE[:REF] or strata:NAME
    pub destination: String,
}

#[derive(Debug, Clone)]
enum Transport {
    Docker(Reference),
    Oci { dir: PathBuf, tag: Option<String> },
    Archive { file: PathBuf, name: Option<String> },
    Strata(String),
}

/// Split `path[:suffix]` where the suffix cannot contain '/'.
fn split_suffix(s: &str) -> (String, Option<String>) {
    match s.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') && !p.is_empty() => (p.to_owned(), Some(t.to_owned())),
        _ => (s.to_owned(), None),
    }
}

fn parse_transport(s: &str) -> Result<Transport> {
    if let Some(r) = s.strip_prefix("docker://") {
        return Ok(Transport::Docker(
            Reference::parse(r).with_context(|| format!("invalid reference in {s}"))?,
        ));
    }
    if let Some(r) = s.strip_prefix("oci:") {
        let (dir, tag) = split_suffix(r);
        return Ok(Transport::Oci {
            dir: dir.into(),
            tag,
        });
    }
    if let Some(r) = s.strip_prefix("docker-archive:") {
        // A reference may itself contain ':' (a tag or port); only split off one that
        // parses as a reference after the last path component.
        let (file, name) = match r.split_once(':') {
            Some((f, n)) if !n.is_empty() => (f.to_owned(), Some(n.to_owned())),
            _ => (r.to_owned(), None),
        };
        return Ok(Transport::Archive {
            file: file.into(),
            name,
        });
    }
    if let Some(r) = s.strip_prefix("strata:") {
        if r.is_empty() {
            bail!("{s}: an image name is required");
        }
        return Ok(Transport::Strata(r.to_owned()));
    }
    bail!("{s}: unknown transport (use docker://, oci:, docker-archive: or strata:)")
}

pub fn run(a: CopyArgs, global: &Global) -> Result<ExitCode> {
    let digest = copy_image(a, global)?;
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}

/// Copy as `run` does and return the destination manifest digest without printing it.
pub fn copy_image(a: CopyArgs, global: &Global) -> Result<Digest> {
    let src = parse_transport(&a.source)?;
    let dst = parse_transport(&a.destination)?;
    let mut hosts = Vec::new();
    for t in [&src, &dst] {
        if let Transport::Docker(r) = t {
            hosts.push(r.registry_host().to_owned());
        }
    }
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let client = client(&a.registry, &host_refs)?;
    let rt = runtime()?;
    let progress = CliProgress::new(a.quiet, false);

    if let (Transport::Docker(s), Transport::Docker(d)) = (&src, &dst) {
        if a.platform.is_some() {
            bail!("--platform is not supported for registry to registry copies: the whole image is copied");
        }
        let sr = Repository::of(&client, s);
        let dr = Repository::of(&client, d);
        let digest = rt.block_on(strata_distribution::copy::copy_between(
            &sr,
            &dr,
            &s.manifest_ref(),
            d.tag(),
            progress,
        ))?;
        return Ok(digest);
    }

    // Stage through the local store if either end is it, else a temporary store.
    let uses_local = matches!(src, Transport::Strata(_)) || matches!(dst, Transport::Strata(_));
    let _tmp;
    let store = if uses_local {
        open_store(global)?
    } else {
        // Beside the local store rather than in /tmp (often a small tmpfs): images are big.
        let parent = global
            .root
            .clone()
            .unwrap_or_else(strata_store::default_root)
            .join("tmp");
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        _tmp = tempfile::Builder::new()
            .prefix("copy-")
            .tempdir_in(&parent)
            .with_context(|| format!("creating a temporary store in {}", parent.display()))?;
        Store::open(_tmp.path())?
    };
    let lease = store.lease(Some(std::time::Duration::from_secs(3600)))?;
    let manifest = match &src {
        Transport::Docker(r) => {
            let opts = PullOptions {
                platform: a
                    .platform
                    .as_deref()
                    .map(strata_oci::Platform::parse)
                    .transpose()?,
                concurrency: a.registry.max_concurrent,
            };
            let pulled = rt.block_on(strata_distribution::pull(
                &client,
                &store,
                r,
                &opts,
                progress.clone(),
            ))?;
            lease.add(std::slice::from_ref(&pulled.manifest_digest))?;
            pulled.manifest_digest
        }
        Transport::Strata(name) => store.resolve(name)?.record.manifest_digest,
        Transport::Oci { dir, tag } => {
            let mut sink = StoreSink::new(&store, &lease);
            let report = strata_archive::load_dir(dir, &mut sink)
                .with_context(|| format!("reading OCI layout {}", dir.display()))?;
            pick(&store, report, tag.as_deref(), &a.source)?
        }
        Transport::Archive { file, name } => {
            let mut sink = StoreSink::new(&store, &lease);
            let report = strata_archive::load_path(file, &mut sink)
                .with_context(|| format!("reading {}", file.display()))?;
            pick(&store, report, name.as_deref(), &a.source)?
        }
    };
    let record = store.get_image(&manifest)?;
    let desc = Descriptor::new(
        record.media_type.clone(),
        manifest.clone(),
        record.manifest_size,
    );
    let out_digest = match &dst {
        Transport::Docker(r) => {
            let opts = PushOptions {
                concurrency: a.registry.max_concurrent,
                ..PushOptions::default()
            };
            let progress = CliProgress::new(a.quiet, true);
            rt.block_on(strata_distribution::push(
                &client, &store, &manifest, r, &opts, progress,
            ))?
            .manifest
            .digest
        }
        Transport::Strata(name) => {
            store.tag(name, &manifest)?;
            manifest
        }
        Transport::Oci { dir, tag } => {
            let names = tag
                .iter()
                .map(|t| SaveName {
                    full: t.clone(),
                    familiar_repo: t.clone(),
                    tag: t.clone(),
                })
                .collect();
            strata_archive::save_layout_dir(
                &[SaveImage {
                    manifest: desc,
                    names,
                }],
                &store,
                dir,
            )
            .with_context(|| format!("writing OCI layout {}", dir.display()))?;
            manifest
        }
        Transport::Archive { file, name } => {
            let names = match name {
                Some(n) => {
                    let t = TagRef::parse(n)?;
                    vec![SaveName {
                        full: t.key(),
                        familiar_repo: t.familiar_repository().to_owned(),
                        tag: t.tag.clone(),
                    }]
                }
                None => Vec::new(),
            };
            let f = std::fs::File::create(file)
                .with_context(|| format!("creating {}", file.display()))?;
            strata_archive::save_archive(
                &[SaveImage {
                    manifest: desc,
                    names,
                }],
                &store,
                f,
            )
            .with_context(|| format!("writing {}", file.display()))?;
            manifest
        }
    };
    drop(lease);
    Ok(out_digest)
}

/// The one image of a loaded archive or layout (by name when given), recorded in `store`.
fn pick(
    store: &Store,
    report: strata_archive::LoadReport,
    name: Option<&str>,
    what: &str,
) -> Result<Digest> {
    let images: Vec<_> = report
        .images
        .into_iter()
        .filter(|i| i.manifest.media_type.is_manifest())
        .collect();
    let chosen = match name {
        Some(n) => images
            .iter()
            .find(|i| {
                i.names.iter().any(|x| {
                    x == n
                        || TagRef::parse(x).ok().map(|t| t.key())
                            == TagRef::parse(n).ok().map(|t| t.key())
                })
            })
            .with_context(|| format!("{what}: no image named {n}"))?,
        None => match images.as_slice() {
            [one] => one,
            [] => bail!("{what}: no single-platform image found"),
            _ => bail!("{what}: holds several images; name one"),
        },
    };
    let bytes = store.read_blob_verified(&chosen.manifest.digest)?;
    store.add_image(&bytes, &chosen.manifest.media_type)?;
    Ok(chosen.manifest.digest.clone())
}
