//! `strata image prune`: remove dangling (or, with `-a`, all) images matching filters, or
//! apply a retention policy file; then collect unreferenced content.
//!
//! Policy file (TOML). Each tag is governed by the first rule whose pattern matches it
//! (docker reference-filter globbing against `repo:tag`, then `repo`); within a rule the
//! tags are ordered newest first:
//!
//! ```toml
//! [[rule]]
//! pattern = "myapp*"   # required
//! keep_latest = 3      # the 3 newest tags are always kept
//! max_count = 10       # beyond the 10 newest, tags are removed
//! max_age = "30d"      # older tags are removed (s, m, h, d, w or a Go duration)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Utc};
use clap::Args;
use serde::Deserialize;
use strata_oci::Digest;
use strata_store::{Image, Store, TagRef};

use super::images::{
    image_time, label_matches, open_store, parse_go_duration, parse_time, reference_matches,
    store_err,
};
use crate::output::human_size;
use crate::Global;

/// The flags `image prune` and `system prune` share.
#[derive(Args, Debug)]
pub struct Selection {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (until=<time>, label=<key>[=<value>], label!=<key>[=<value>])
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    #[command(flatten)]
    pub select: Selection,
    /// Apply the retention rules in this TOML file instead of removing dangling images
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print what would be removed, remove nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Rule {
    pattern: String,
    #[serde(default)]
    max_age: Option<String>,
    #[serde(default)]
    max_count: Option<usize>,
    #[serde(default)]
    keep_latest: Option<usize>,
}

fn parse_age(s: &str) -> Option<chrono::Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    match (n.parse::<i64>(), unit) {
        (Ok(n), "d") => Some(chrono::Duration::days(n)),
        (Ok(n), "w") => Some(chrono::Duration::weeks(n)),
        _ => parse_go_duration(s),
    }
}

/// Tags the policy removes, each with the reason.
fn policy_plan(
    rules: &[Rule],
    images: &[Image],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<(TagRef, String)>> {
    let mut ages = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let age = match &r.max_age {
            Some(a) => Some(parse_age(a).ok_or_else(|| {
                anyhow!(
                    "policy rule {}: invalid max_age {a:?} (use e.g. 30d, 2w, 12h)",
                    i + 1
                )
            })?),
            None => None,
        };
        ages.push(age);
    }
    let mut per_rule: BTreeMap<usize, Vec<(DateTime<Utc>, TagRef)>> = BTreeMap::new();
    for img in images {
        for t in &img.tags {
            if let Some(i) = rules.iter().position(|r| reference_matches(&r.pattern, t)) {
                per_rule
                    .entry(i)
                    .or_default()
                    .push((image_time(img), t.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for (i, mut tags) in per_rule {
        let rule = &rules[i];
        tags.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (idx, (time, tag)) in tags.into_iter().enumerate() {
            if rule.keep_latest.is_some_and(|k| idx < k) {
                continue;
            }
            let reason = if rule.max_count.is_some_and(|m| idx >= m) {
                format!(
                    "rule {} ({}): beyond the {} newest",
                    i + 1,
                    rule.pattern,
                    rule.max_count.unwrap_or(0)
                )
            } else if ages[i].is_some_and(|a| now - time > a) {
                format!(
                    "rule {} ({}): older than {}",
                    i + 1,
                    rule.pattern,
                    rule.max_age.as_deref().unwrap_or("")
                )
            } else {
                continue;
            };
            out.push((tag, reason));
        }
    }
    Ok(out)
}

pub(crate) fn confirm(message: &str) -> anyhow::Result<bool> {
    print!("{message}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// Bytes held only by `doomed` images (what deleting them frees, before snapshots).
fn reclaimable(store: &Store, all: &[Image], doomed: &BTreeSet<Digest>) -> u64 {
    let blobs = |i: &Image| -> Vec<Digest> {
        let mut v = vec![
            i.record.manifest_digest.clone(),
            i.record.config_digest.clone(),
        ];
        v.extend(i.record.layers.iter().map(|l| l.digest.clone()));
        v
    };
    let kept: BTreeSet<Digest> = all
        .iter()
        .filter(|i| !doomed.contains(&i.record.manifest_digest))
        .flat_map(blobs)
        .collect();
    let freed: BTreeSet<Digest> = all
        .iter()
        .filter(|i| doomed.contains(&i.record.manifest_digest))
        .flat_map(blobs)
        .filter(|d| !kept.contains(d))
        .collect();
    freed.iter().filter_map(|d| store.blob_size(d).ok()).sum()
}

fn run_policy(args: &PruneArgs, path: &PathBuf, store: &Store) -> anyhow::Result<ExitCode> {
    if args.select.all || !args.select.filter.is_empty() {
        bail!("--policy cannot be combined with -a/--all or --filter\nhint: put the selection in the policy rules");
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file {}", path.display()))?;
    let policy: PolicyFile = toml::from_str(&text)
        .map_err(|e| anyhow!("invalid policy file {}: {e}", path.display()))?;
    if policy.rule.is_empty() {
        bail!("policy file {} has no [[rule]] entries", path.display());
    }
    let now = Utc::now();
    let images = store.list_images().map_err(store_err)?;
    let plan = policy_plan(&policy.rule, &images, now)?;
    let doomed_tags: BTreeSet<&TagRef> = plan.iter().map(|(t, _)| t).collect();
    let doomed_images: BTreeSet<Digest> = images
        .iter()
        .filter(|i| !i.tags.is_empty() && i.tags.iter().all(|t| doomed_tags.contains(t)))
        .map(|i| i.record.manifest_digest.clone())
        .collect();
    if args.dry_run {
        for (t, why) in &plan {
            println!("Would untag: {} ({why})", t.familiar());
        }
        for i in images
            .iter()
            .filter(|i| doomed_images.contains(&i.record.manifest_digest))
        {
            println!("Would delete: {}", i.record.config_digest);
        }
        println!(
            "\nTotal reclaimable space: {}",
            human_size(reclaimable(store, &images, &doomed_images))
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !args.select.force
        && !confirm(&format!(
            "WARNING! This will remove {} tag(s) as {} says.",
            plan.len(),
            path.display()
        ))?
    {
        return Ok(ExitCode::SUCCESS);
    }
    let mut lines = Vec::new();
    for (t, _) in &plan {
        match store.remove(&t.key(), false) {
            Ok(out) => {
                lines.extend(
                    out.untagged
                        .iter()
                        .map(|t| format!("untagged: {}", t.familiar())),
                );
                lines.extend(out.deleted.iter().map(|d| format!("deleted: {d}")));
            }
            // Another process removed it meanwhile: nothing left to do for this tag.
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(store_err(e)),
        }
    }
    finish(store, &lines)
}

fn finish(store: &Store, lines: &[String]) -> anyhow::Result<ExitCode> {
    let report = store.gc().map_err(store_err)?;
    if !lines.is_empty() {
        println!("Deleted Images:");
        for l in lines {
            println!("{l}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(report.reclaimed));
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: PruneArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let store = open_store(global)?;
    if let Some(path) = &args.policy {
        return run_policy(&args, path, &store);
    }
    let pred = image_filter(args.select.all, &args.select.filter)?;
    if args.dry_run {
        let images = store.list_images().map_err(store_err)?;
        let doomed: BTreeSet<Digest> = images
            .iter()
            .filter(|i| pred(i))
            .map(|i| i.record.manifest_digest.clone())
            .collect();
        for i in images
            .iter()
            .filter(|i| doomed.contains(&i.record.manifest_digest))
        {
            for t in &i.tags {
                println!("Would untag: {}", t.familiar());
            }
            println!("Would delete: {}", i.record.config_digest);
        }
        println!(
            "\nTotal reclaimable space: {}",
            human_size(reclaimable(&store, &images, &doomed))
        );
        return Ok(ExitCode::SUCCESS);
    }
    let warning = if args.select.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.select.force && !confirm(warning)? {
        return Ok(ExitCode::SUCCESS);
    }
    let lines = remove_images(&store, pred)?;
    finish(&store, &lines)
}

/// Which images a prune removes: dangling ones (all unused with `all`) that pass the
/// `--filter` values (until=, label=, label!=).
pub(crate) fn image_filter(
    all: bool,
    filters: &[String],
) -> anyhow::Result<impl Fn(&Image) -> bool> {
    let now = Utc::now();
    let mut until = None;
    let mut labels = Vec::new();
    let mut not_labels = Vec::new();
    for spec in filters {
        if let Some(v) = spec.strip_prefix("label!=") {
            not_labels.push(v.to_owned());
            continue;
        }
        match spec.split_once('=') {
            Some(("until", v)) => until = Some(parse_time(v, now)?),
            Some(("label", v)) => labels.push(v.to_owned()),
            _ => bail!(
                "invalid filter {spec:?}\nhint: image prune supports until=, label= and label!="
            ),
        }
    }
    Ok(move |i: &Image| {
        (all || i.tags.is_empty())
            && until.is_none_or(|u| image_time(i) < u)
            && labels.iter().all(|l| label_matches(l, &i.record.labels))
            && !not_labels
                .iter()
                .any(|l| label_matches(l, &i.record.labels))
    })
}

/// Remove the images `pred` selects (one transaction); docker's "untagged:"/"deleted:" lines.
pub(crate) fn remove_images(
    store: &Store,
    pred: impl FnMut(&Image) -> bool,
) -> anyhow::Result<Vec<String>> {
    let removed = store.remove_images_where(pred).map_err(store_err)?;
    let mut lines = Vec::new();
    for i in &removed {
        lines.extend(i.tags.iter().map(|t| format!("untagged: {}", t.familiar())));
        lines.push(format!("deleted: {}", i.record.config_digest));
    }
    Ok(lines)
}
