//! `strata system df` (disk usage), `strata system prune` (unused images and build cache)
//! and `strata system check` (store consistency).

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use chrono::Utc;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use strata_oci::Digest;

use super::images::{open_store, short_id, store_err};
use crate::output::{created_since, human_size_prec, Formatter};
use crate::Global;

#[derive(Subcommand)]
pub enum SystemCommand {
    /// Show store disk usage
    Df(DfArgs),
    /// Remove unused data: dangling images (all unused ones with -a) and the build cache
    Prune(PruneArgs),
    /// Verify every blob, reference and snapshot in the store
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Fix what can be fixed without losing data (incomplete snapshots are removed; they are
    /// unpacked again from their layers when next used), then check again
    #[arg(long)]
    pub repair: bool,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    #[command(flatten)]
    pub select: super::prune::Selection,
    /// Prune anonymous volumes (strata keeps no volumes: refused)
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

pub fn run(cmd: SystemCommand, global: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        SystemCommand::Df(a) => df(a, global),
        SystemCommand::Prune(a) => prune(a, global),
        SystemCommand::Check(a) => check(a, global),
    }
}

/// docker's `system prune` for what strata has: images and the build cache (no containers,
/// networks or volumes exist without a daemon). One garbage collection at the end.
fn prune(args: PruneArgs, global: &Global) -> anyhow::Result<ExitCode> {
    if args.volumes {
        anyhow::bail!("--volumes: strata keeps no volumes, so there are none to prune");
    }
    let pred = super::prune::image_filter(args.select.all, &args.select.filter)?;
    let images = if args.select.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    let warning = format!("WARNING! This will remove:\n  - {images}\n  - all build cache\n");
    if !args.select.force && !super::prune::confirm(&warning)? {
        return Ok(ExitCode::SUCCESS);
    }
    let store = open_store(global)?;
    let lines = super::prune::remove_images(&store, pred)?;
    let (cache, dirs) = super::builder::drop_build_cache(&store)?;
    let report = store.gc().map_err(store_err)?;
    if !lines.is_empty() {
        println!("Deleted Images:");
        for l in &lines {
            println!("{l}");
        }
        println!();
    }
    if !cache.is_empty() {
        println!("Deleted build cache objects:");
        for key in &cache {
            println!("{}", key.strip_prefix("sha256:").unwrap_or(key));
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::output::human_size(report.reclaimed + dirs)
    );
    Ok(ExitCode::SUCCESS)
}

fn size(n: u64) -> String {
    human_size_prec(n, 4)
}

fn with_percent(part: u64, total: u64) -> String {
    if total == 0 {
        return size(part);
    }
    format!("{} ({}%)", size(part), part * 100 / total)
}

fn df(args: DfArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let store = open_store(global)?;
    let images = store.list_images().map_err(store_err)?;
    // Sizes as docker counts them: each layer's unpacked content, a layer shared by several
    // images counted once in the total.
    let records: Vec<&strata_store::ImageRecord> = images.iter().map(|i| &i.record).collect();
    let layer_sizes = store.layer_content_sizes(&records).map_err(store_err)?;
    let layers_of = |i: &strata_store::Image| -> BTreeSet<Digest> {
        i.record.diff_ids.iter().cloned().collect()
    };
    let mut refcount: BTreeMap<Digest, usize> = BTreeMap::new();
    let mut tagged_refs: BTreeSet<Digest> = BTreeSet::new();
    for i in &images {
        for d in layers_of(i) {
            *refcount.entry(d.clone()).or_default() += 1;
            if !i.tags.is_empty() {
                tagged_refs.insert(d);
            }
        }
    }
    let size_of = |d: &Digest| layer_sizes.get(d).copied().unwrap_or(0);
    let total: u64 = refcount.keys().map(size_of).sum();
    let reclaim: u64 = refcount
        .keys()
        .filter(|d| !tagged_refs.contains(*d))
        .map(size_of)
        .sum();
    let snaps = store.list_snapshots().map_err(store_err)?;
    let live_chains: BTreeSet<Digest> = images.iter().flat_map(|i| i.record.chain_ids()).collect();
    let tagged_chains: BTreeSet<Digest> = images
        .iter()
        .filter(|i| !i.tags.is_empty())
        .flat_map(|i| i.record.chain_ids())
        .collect();
    let snap_total: u64 = snaps.iter().map(|s| s.size).sum();
    let snap_reclaim: u64 = snaps
        .iter()
        .filter(|s| !tagged_chains.contains(&s.chain_id))
        .map(|s| s.size)
        .sum();
    let rows = vec![
        json!({"Type": "Images", "TotalCount": images.len().to_string(),
               "Active": images.iter().filter(|i| !i.tags.is_empty()).count().to_string(),
               "Size": size(total), "Reclaimable": with_percent(reclaim, total)}),
        json!({"Type": "Snapshots", "TotalCount": snaps.len().to_string(),
               "Active": snaps.iter().filter(|s| live_chains.contains(&s.chain_id)).count().to_string(),
               "Size": size(snap_total), "Reclaimable": with_percent(snap_reclaim, snap_total)}),
    ];
    let headers = &[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ];
    if !args.verbose {
        let fmt = Formatter::new(
            args.format.as_deref(),
            "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
            headers,
        )?;
        print!("{}", fmt.render(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.format.is_some() {
        anyhow::bail!("--format cannot be combined with -v/--verbose");
    }
    let now = Utc::now();
    let mut items: Vec<Value> = Vec::new();
    for i in &images {
        let (mut shared, mut unique) = (0u64, 0u64);
        for d in layers_of(i) {
            let n = size_of(&d);
            if refcount.get(&d).copied().unwrap_or(0) > 1 {
                shared += n;
            } else {
                unique += n;
            }
        }
        let names: Vec<(String, String)> = if i.tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            i.tags
                .iter()
                .map(|t| (t.familiar_repository().to_owned(), t.tag.clone()))
                .collect()
        };
        for (repo, tag) in names {
            items.push(json!({
                "Repository": repo, "Tag": tag, "ID": short_id(&i.record.config_digest, false),
                "CreatedSince": created_since(i.record.created, now), "Size": crate::output::human_size(shared + unique),
                "SharedSize": size(shared), "UniqueSize": size(unique),
            }));
        }
    }
    let fmt = Formatter::new(
        None,
        "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}",
        &[
            ("Repository", "REPOSITORY"),
            ("Tag", "TAG"),
            ("ID", "IMAGE ID"),
            ("CreatedSince", "CREATED"),
            ("Size", "SIZE"),
            ("SharedSize", "SHARED SIZE"),
            ("UniqueSize", "UNIQUE SIZE"),
        ],
    )?;
    println!("Images space usage:\n");
    print!("{}", fmt.render(&items)?);
    println!("\nSnapshots space usage:\n");
    let snap_items: Vec<Value> = snaps
        .iter()
        .map(|s| {
            json!({"ChainID": short_id(&s.chain_id, false), "Size": size(s.size),
                   "InUse": live_chains.contains(&s.chain_id).to_string()})
        })
        .collect();
    let fmt = Formatter::new(
        None,
        "{{.ChainID}}\t{{.Size}}\t{{.InUse}}",
        &[
            ("ChainID", "CHAIN ID"),
            ("Size", "SIZE"),
            ("InUse", "IN USE"),
        ],
    )?;
    print!("{}", fmt.render(&snap_items)?);
    Ok(ExitCode::SUCCESS)
}

fn check(args: CheckArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let store = open_store(global)?;
    if args.repair {
        for fixed in store.repair().map_err(store_err)? {
            println!("repaired {fixed}");
        }
    }
    let problems = store.check().map_err(store_err)?;
    if problems.is_empty() {
        println!("store {} is consistent", store.layout_dir().display());
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("{p}");
    }
    let mut hints = Vec::new();
    if problems.iter().any(|p| p.repairable()) {
        hints.push(
            "hint: run `strata system check --repair` (or any prune) to remove incomplete \
             snapshots; they are unpacked again from their layers when next used",
        );
    }
    if problems.iter().any(|p| !p.repairable()) {
        hints
            .push("hint: remove the affected images with `strata rmi` and pull or load them again");
    }
    eprintln!(
        "Error: {} problem(s) found in {}\n{}",
        problems.len(),
        store.layout_dir().display(),
        hints.join("\n")
    );
    Ok(ExitCode::from(1))
}
