//! `strata analyze IMAGE`: layer efficiency and wasted bytes with dive's formulas, dive's CI
//! gate (`--ci`, `.dive-ci`, the three rule flags) and its `--json` export, plus strata's
//! own report (`--format table|json`): per-layer changes, biggest files, and which layer
//! introduced, overwrote or deleted each wasted path.

pub mod source;
mod table;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use strata_analyze::ci::{self, CiFile, CiRules};
use strata_analyze::{Analysis, AnalyzeOptions, Analyzer};

use super::archive_common::open_store;
use super::pull::RegistryFlags;
use crate::Global;
use source::{open_image, OpenedImage};

/// Analyse an image's layers: efficiency, wasted space, what each layer changed
#[derive(clap::Args, Debug)]
pub struct AnalyzeArgs {
    /// Skip the report and validate against CI rules (also when CI=true in the environment
    /// and no --format is given, as dive does)
    #[arg(long)]
    pub ci: bool,
    /// YAML file with the CI rules (dive's format)
    #[arg(long, value_name = "FILE", default_value = ".dive-ci")]
    pub ci_config: PathBuf,
    /// (with --ci) lowest allowable efficiency, a ratio 0-1 [default: 0.9]
    #[arg(long = "lowestEfficiency", value_name = "RATIO")]
    pub lowest_efficiency: Option<String>,
    /// (with --ci) highest allowable wasted bytes, e.g. 20MB [default: disabled]
    #[arg(long = "highestWastedBytes", value_name = "SIZE")]
    pub highest_wasted_bytes: Option<String>,
    /// (with --ci) highest allowable wasted share of the user layers, 0-1 [default: 0.1]
    #[arg(long = "highestUserWastedPercent", value_name = "RATIO")]
    pub highest_user_wasted_percent: Option<String>,
    /// Also write dive's JSON export (layers with their files, image figures) to FILE
    #[arg(short = 'j', long = "json", value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Report format [default: table]
    #[arg(long, value_parser = ["table", "json"])]
    pub format: Option<String>,
    /// Leave the base image's layers out of the score (the local image whose layers are
    /// the longest prefix of this one's)
    #[arg(long, conflicts_with = "base")]
    pub exclude_base: bool,
    /// Leave the layers of this base image out of the score
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The image: a local name or ID, docker-archive:FILE[:REF], oci:DIR[:TAG], docker://REF
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// Scan every layer of `image` bottom up into an analysis.
pub fn analyze_image(image: &OpenedImage, options: AnalyzeOptions) -> Result<Analysis> {
    let mut analyzer = Analyzer::new(image.history.clone(), options);
    for i in 0..image.layer_count() {
        let mut stream = image.open_layer(i)?;
        // The tar reader asks for 512-byte blocks: buffer above the hashing stream.
        let buffered = std::io::BufReader::with_capacity(1 << 18, &mut stream);
        analyzer.add_layer(&image.diff_ids[i].to_string(), buffered)?;
        stream.finish()?;
    }
    Ok(analyzer.finish())
}

pub fn run(args: AnalyzeArgs, global: &Global) -> Result<ExitCode> {
    let ci_env = std::env::var("CI")
        .ok()
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"));
    // An explicit --format asks for a report: CI=true alone does not turn it into the gate.
    let ci_mode = args.ci || (ci_env && args.format.is_none());
    let flags = CiFile {
        lowest_efficiency: args.lowest_efficiency.clone(),
        highest_wasted_bytes: args.highest_wasted_bytes.clone(),
        highest_user_wasted_percent: args.highest_user_wasted_percent.clone(),
    };
    if !ci_mode && flags != CiFile::default() {
        bail!("--lowestEfficiency, --highestWastedBytes and --highestUserWastedPercent need --ci");
    }
    // Read the rules before the (long) analysis, so a bad file fails fast.
    let rules = if ci_mode {
        let file = if args.ci_config.exists() {
            println!("  Using CI config: {}", args.ci_config.display());
            let text = std::fs::read_to_string(&args.ci_config)
                .with_context(|| format!("reading {}", args.ci_config.display()))?;
            CiFile::parse(&text, &args.ci_config.display().to_string())?
        } else {
            println!("  Using default CI config");
            CiFile::default()
        };
        Some(CiRules::resolve(&file, &flags))
    } else {
        None
    };

    let image = open_image(&args.image, global, &args.registry)?;
    let base_layers = base_layers(&args, &image, global)?;
    if ci_mode {
        println!("Image Source: {}", args.image);
        println!("Analyzing image...");
    }
    let analysis = analyze_image(
        &image,
        AnalyzeOptions {
            base_layers,
            keep_entries: args.json.is_some(),
        },
    )?;
    if let Some(path) = &args.json {
        write_json(path, &strata_analyze::dive_json(&analysis))?;
    }
    if let Some(rules) = rules {
        let outcome = ci::evaluate(&rules, &analysis.efficiency);
        println!("{}", ci::report(&analysis.efficiency, &outcome));
        return Ok(if outcome.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    match args.format.as_deref().unwrap_or("table") {
        "json" => {
            let v = strata_analyze::report_json(&analysis);
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => print!("{}", table::render(&args.image, &analysis)),
    }
    Ok(ExitCode::SUCCESS)
}

/// How many bottom layers belong to the base image the user asked to leave out.
fn base_layers(args: &AnalyzeArgs, image: &OpenedImage, global: &Global) -> Result<usize> {
    if let Some(base) = &args.base {
        let b = open_image(base, global, &args.registry)?;
        if b.diff_ids.len() > image.diff_ids.len()
            || image.diff_ids[..b.diff_ids.len()] != b.diff_ids[..]
        {
            bail!(
                "{base} is not a base of {}: its {} layers are not the first layers of the image",
                args.image,
                b.diff_ids.len()
            );
        }
        return Ok(b.diff_ids.len());
    }
    if !args.exclude_base {
        return Ok(0);
    }
    let store = open_store(global)?;
    let best = store
        .list_images()?
        .into_iter()
        .map(|i| i.record.diff_ids)
        .filter(|ids| {
            !ids.is_empty()
                && ids.len() < image.diff_ids.len()
                && image.diff_ids[..ids.len()] == ids[..]
        })
        .map(|ids| ids.len())
        .max();
    best.with_context(|| {
        format!(
            "--exclude-base: no image in the local store has layers that start {}; name the base with --base IMAGE",
            args.image
        )
    })
}

/// Write `value` to `path` whole: a temporary file beside it, renamed into place.
fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".strata-analyze-")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    serde_json::to_writer_pretty(&mut tmp, value)?;
    tmp.write_all(b"\n")?;
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
