//! `strata builder prune`: drop the build cache and reclaim its space.
//!
//! The cache is three records tables (`build-cache` step results, `build-explain` miss
//! explanations, `gc-roots` that keep cached layers alive) plus the `RUN --mount=type=cache`
//! directories. Removing the records and directories, then collecting garbage, frees every
//! layer and snapshot no image still uses.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use strata_store::Store;

use super::archive_common::open_store;
use crate::output::human::human_size;
use crate::Global;

/// Records tables that make up the build cache.
const CACHE_TABLES: &[&str] = &["build-cache", "build-explain", "gc-roots"];
/// Directories under the store root that only the builder uses.
const CACHE_DIRS: &[&str] = &[
    "build-v1/cache-mounts",
    "build-v1/statcache",
    "build-v1/tmp",
];

#[derive(clap::Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(PruneArgs),
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all build cache (strata's cache has no partial notion: same as without)
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (not supported)
    #[arg(long, hide = true)]
    pub filter: Vec<String>,
    /// Amount of disk space to keep for cache (not supported)
    #[arg(long, hide = true)]
    pub keep_storage: Option<String>,
}

pub fn run(cmd: BuilderCommand, global: &Global) -> Result<ExitCode> {
    match cmd {
        BuilderCommand::Prune(a) => prune(a, global),
    }
}

fn dir_size(path: &Path) -> u64 {
    walk_size(path).unwrap_or(0)
}

fn walk_size(path: &Path) -> std::io::Result<u64> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += walk_size(&entry?.path()).unwrap_or(0);
    }
    Ok(total)
}

fn confirm() -> Result<bool> {
    eprint!(
        "WARNING! This will remove all build cache.\nAre you sure you want to continue? [y/N] "
    );
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// Delete the build cache's records and directories (garbage collection is left to the
/// caller). Returns the step cache keys removed and the bytes the directories held.
pub(crate) fn drop_build_cache(store: &Store) -> Result<(Vec<String>, u64)> {
    let mut removed = Vec::new();
    for table in CACHE_TABLES {
        let rows = store
            .list_records(table)
            .with_context(|| format!("listing {table} records"))?;
        for (key, _) in rows {
            if store.delete_record(table, &key)? && *table == "build-cache" {
                removed.push(key);
            }
        }
    }
    let mut reclaimed = 0u64;
    for dir in CACHE_DIRS {
        let path = store.root().join(dir);
        if !path.exists() {
            continue;
        }
        reclaimed += dir_size(&path);
        std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok((removed, reclaimed))
}

fn prune(a: PruneArgs, global: &Global) -> Result<ExitCode> {
    if !a.filter.is_empty() {
        bail!("--filter is not supported by strata builder prune");
    }
    if a.keep_storage.is_some() {
        bail!("--keep-storage is not supported by strata builder prune");
    }
    let _ = a.all;
    if !a.force && std::io::stdin().is_terminal() && !confirm()? {
        return Ok(ExitCode::SUCCESS);
    }
    let store = open_store(global)?;
    let (removed, mut reclaimed) = drop_build_cache(&store)?;
    let report = store.gc().context("collecting garbage")?;
    reclaimed += report.reclaimed;
    if !removed.is_empty() {
        println!("Deleted build cache objects:");
        for key in &removed {
            println!("{}", key.strip_prefix("sha256:").unwrap_or(key));
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(ExitCode::SUCCESS)
}
