//! `strata manifest create|annotate|inspect|push|rm`: multi-platform indexes, as docker's
//! `manifest` commands. A list being assembled lives in the store's `manifest-lists`
//! record table until it is pushed; its entries point at images already in a registry.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use strata_distribution::copy::copy_manifest;
use strata_distribution::{NoProgress, Repository};
use strata_oci::{Descriptor, ImageIndex, Manifest, Platform, RawManifest, Reference};

use super::archive_common::open_store;
use super::pull::{client, runtime, RegistryFlags};
use crate::Global;

const TABLE: &str = "manifest-lists";

#[derive(clap::Subcommand, Debug)]
pub enum ManifestCommand {
    /// Create a local manifest list for annotating and pushing to a registry
    Create(CreateArgs),
    /// Add platform information to a local manifest list entry
    Annotate(AnnotateArgs),
    /// Display an image manifest or manifest list
    Inspect(InspectArgs),
    /// Push a manifest list to a repository
    Push(PushArgs),
    /// Delete one or more local manifest lists
    Rm(RmArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Amend an existing manifest list
    #[arg(short, long)]
    pub amend: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// MANIFEST_LIST
    pub list: String,
    /// MANIFEST...
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct AnnotateArgs {
    #[arg(long)]
    pub os: Option<String>,
    #[arg(long)]
    pub arch: Option<String>,
    #[arg(long)]
    pub variant: Option<String>,
    #[arg(long)]
    pub os_version: Option<String>,
    /// OS features (repeatable)
    #[arg(long)]
    pub os_features: Vec<String>,
    /// MANIFEST_LIST
    pub list: String,
    /// MANIFEST
    pub image: String,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// [MANIFEST_LIST] MANIFEST
    #[arg(required = true, num_args = 1..=2)]
    pub names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Remove the local manifest list after push
    #[arg(short, long)]
    pub purge: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// MANIFEST_LIST
    pub list: String,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    pub lists: Vec<String>,
}

/// A list under construction: the index plus where each entry's image lives.
#[derive(Serialize, Deserialize)]
struct LocalList {
    index: ImageIndex,
    /// manifest digest → the reference it was added from
    sources: BTreeMap<String, String>,
}

fn parse_ref(s: &str) -> Result<Reference> {
    Reference::parse(s).with_context(|| format!("invalid reference {s:?}"))
}

fn load(store: &strata_store::Store, list: &Reference) -> Result<Option<LocalList>> {
    match store.get_record(TABLE, &list.to_string())? {
        Some(b) => Ok(Some(serde_json::from_slice(&b).with_context(|| {
            format!("local manifest list {list} is unreadable")
        })?)),
        None => Ok(None),
    }
}

fn save(store: &strata_store::Store, list: &Reference, l: &LocalList) -> Result<()> {
    store.put_record(TABLE, &list.to_string(), &serde_json::to_vec(l)?)?;
    Ok(())
}

pub fn run(cmd: ManifestCommand, global: &Global) -> Result<ExitCode> {
    match cmd {
        ManifestCommand::Create(a) => create(a, global),
        ManifestCommand::Annotate(a) => annotate(a, global),
        ManifestCommand::Inspect(a) => inspect(a, global),
        ManifestCommand::Push(a) => push(a, global),
        ManifestCommand::Rm(a) => {
            let store = open_store(global)?;
            for l in &a.lists {
                let r = parse_ref(l)?;
                if !store.delete_record(TABLE, &r.to_string())? {
                    bail!("no such manifest list: {l}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn create(a: CreateArgs, global: &Global) -> Result<ExitCode> {
    let store = open_store(global)?;
    let list = parse_ref(&a.list)?;
    let mut local = match load(&store, &list)? {
        Some(_) if !a.amend => {
            bail!("refusing to amend an existing manifest list with no --amend flag")
        }
        Some(l) => l,
        None => LocalList {
            index: ImageIndex::docker(Vec::new()),
            sources: BTreeMap::new(),
        },
    };
    let refs: Vec<Reference> = a
        .images
        .iter()
        .map(|s| parse_ref(s))
        .collect::<Result<_>>()?;
    let hosts: Vec<&str> = refs.iter().map(|r| r.registry_host()).collect();
    let client = client(&a.registry, &hosts)?;
    let rt = runtime()?;
    let mut all_docker = local
        .index
        .manifests
        .iter()
        .all(|d| d.media_type.is_docker());
    for r in &refs {
        let repo = Repository::of(&client, r);
        let raw = rt
            .block_on(repo.get_manifest(&r.manifest_ref()))
            .with_context(|| format!("fetching {}", r.familiar()))?;
        let Manifest::Image(m) = &raw.parsed else {
            bail!("{} is a manifest list", r.familiar());
        };
        let config = rt.block_on(repo.get_blob_bytes(&m.config.digest, m.config.size))?;
        let cfg: serde_json::Value = serde_json::from_slice(&config)
            .with_context(|| format!("config of {} is not json", r.familiar()))?;
        let s = |k: &str| cfg.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let variant = Some(s("variant")).filter(|v| !v.is_empty());
        let platform = Platform::new(s("os"), s("architecture"), variant);
        all_docker &= raw.media_type.is_docker();
        let desc = Descriptor::new(
            raw.media_type.clone(),
            raw.digest.clone(),
            raw.bytes.len() as u64,
        )
        .with_platform(platform);
        local.index.manifests.retain(|d| d.digest != raw.digest);
        local.index.manifests.push(desc);
        local.sources.insert(raw.digest.to_string(), r.to_string());
    }
    local.index = if all_docker {
        ImageIndex::docker(local.index.manifests)
    } else {
        ImageIndex::oci(local.index.manifests)
    };
    save(&store, &list, &local)?;
    println!("Created manifest list {list}");
    Ok(ExitCode::SUCCESS)
}

fn annotate(a: AnnotateArgs, global: &Global) -> Result<ExitCode> {
    let store = open_store(global)?;
    let list = parse_ref(&a.list)?;
    let mut local =
        load(&store, &list)?.with_context(|| format!("no such manifest list: {}", a.list))?;
    let image = parse_ref(&a.image)?.to_string();
    let digest = local
        .sources
        .iter()
        .find(|(d, src)| **src == image || a.image == **d)
        .map(|(d, _)| d.clone())
        .with_context(|| {
            format!(
                "manifest for image {} does not exist in {}",
                a.image, a.list
            )
        })?;
    let entry = local
        .index
        .manifests
        .iter_mut()
        .find(|d| d.digest.to_string() == digest)
        .expect("sources and entries agree");
    let mut p = entry
        .platform
        .clone()
        .unwrap_or_else(|| Platform::new("", "", None));
    if let Some(os) = a.os {
        p.os = os;
    }
    if let Some(arch) = a.arch {
        p.architecture = arch;
    }
    if let Some(v) = a.variant {
        p.variant = Some(v);
    }
    if let Some(v) = a.os_version {
        p.os_version = Some(v);
    }
    if !a.os_features.is_empty() {
        p.os_features = a.os_features;
    }
    entry.platform = Some(p);
    save(&store, &list, &local)?;
    Ok(ExitCode::SUCCESS)
}

fn inspect(a: InspectArgs, global: &Global) -> Result<ExitCode> {
    let store = open_store(global)?;
    let (list, name) = match a.names.as_slice() {
        [one] => (None, one),
        [l, m] => (Some(l), m),
        _ => unreachable!("clap enforces 1..=2"),
    };
    if list.is_none() {
        if let Some(local) = load(&store, &parse_ref(name)?)? {
            println!("{}", serde_json::to_string_pretty(&local.index)?);
            return Ok(ExitCode::SUCCESS);
        }
    }
    if let Some(l) = list {
        let local =
            load(&store, &parse_ref(l)?)?.with_context(|| format!("no such manifest list: {l}"))?;
        let image = parse_ref(name)?.to_string();
        let Some((digest, src)) = local.sources.iter().find(|(_, s)| **s == image) else {
            bail!("manifest for image {name} does not exist in {l}");
        };
        let r = parse_ref(src)?.with_digest(strata_oci::Digest::parse(digest)?);
        return print_remote(&a.registry, &r);
    }
    print_remote(&a.registry, &parse_ref(name)?)
}

fn print_remote(flags: &RegistryFlags, r: &Reference) -> Result<ExitCode> {
    let client = client(flags, &[r.registry_host()])?;
    let repo = Repository::of(&client, r);
    let raw = runtime()?
        .block_on(repo.get_manifest(&r.manifest_ref()))
        .with_context(|| format!("inspecting {}", r.familiar()))?;
    let v: serde_json::Value = serde_json::from_slice(&raw.bytes)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(ExitCode::SUCCESS)
}

fn push(a: PushArgs, global: &Global) -> Result<ExitCode> {
    let store = open_store(global)?;
    let list = parse_ref(&a.list)?;
    let local =
        load(&store, &list)?.with_context(|| format!("no such manifest list: {}", a.list))?;
    if local.index.manifests.is_empty() {
        bail!("manifest list {} is empty", a.list);
    }
    let mut hosts = vec![list.registry_host().to_owned()];
    for s in local.sources.values() {
        hosts.push(parse_ref(s)?.registry_host().to_owned());
    }
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let client = client(&a.registry, &host_refs)?;
    let rt = runtime()?;
    let dst = Repository::of(&client, &list);
    for entry in &local.index.manifests {
        let src_ref = parse_ref(&local.sources[&entry.digest.to_string()])?;
        let src = Repository::of(&client, &src_ref);
        rt.block_on(async {
            let raw = src.get_manifest(&entry.digest.to_string()).await?;
            copy_manifest(&src, &dst, &raw, None, std::sync::Arc::new(NoProgress)).await
        })
        .with_context(|| format!("copying {} into {}", src_ref.familiar(), list.repository()))?;
    }
    let raw = RawManifest::from_index(&local.index)?;
    let tag = list.tag().unwrap_or("latest").to_owned();
    rt.block_on(dst.put_manifest(&tag, &raw))
        .with_context(|| format!("pushing manifest list {}", list.familiar()))?;
    if a.purge {
        store.delete_record(TABLE, &list.to_string())?;
    }
    println!("{}", raw.digest);
    Ok(ExitCode::SUCCESS)
}
