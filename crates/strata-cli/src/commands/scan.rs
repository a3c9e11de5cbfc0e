//! `strata scan IMAGE --db PATH`: match the image's SBOM against an offline OSV database.
//!
//! The database is a directory or zip of OSV JSON records, as osv.dev exports them per
//! ecosystem (`https://osv-vulnerabilities.storage.googleapis.com/<ECOSYSTEM>/all.zip`, e.g.
//! `Debian`, `Alpine`, `PyPI`, `npm`, `Go`, `crates.io`, `Maven`); see README.md.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use strata_scan::{Database, IgnoreList, Report, ScanOptions, Severity};

use super::sbom::{sbom_of, write_output};
use crate::output::table::TabWriter;
use crate::Global;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    Table,
    Json,
    Sarif,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// OSV database: a directory of OSV JSON files or a zip of them
    #[arg(long, value_name = "PATH")]
    pub db: std::path::PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: ScanFormat,
    /// Exit with status 1 when a finding has this severity or higher
    /// (negligible, low, medium, high, critical)
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Leave out vulnerabilities that have no fixed version
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// File of vulnerability ids to ignore: `ID [exp:YYYY-MM-DD] [# reason]` per line
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<std::path::PathBuf>,
    /// Write the report to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// The image: a local name or ID, docker-archive:FILE, oci:DIR[:TAG], oci-archive:FILE
    /// or docker://REF
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

pub fn run(a: ScanArgs, global: &Global) -> Result<ExitCode> {
    let ignore = match &a.ignore_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading ignore file {}", path.display()))?;
            IgnoreList::parse(&path.display().to_string(), &text).map_err(anyhow::Error::msg)?
        }
        None => IgnoreList::default(),
    };
    // Open the database first: a wrong path should fail before the image is read.
    let mut db = Database::open(&a.db)?;
    let sbom = sbom_of(global, &a.image)?;
    let options = ScanOptions {
        ignore_unfixed: a.ignore_unfixed,
        ignore,
        today: chrono::Utc::now().date_naive(),
    };
    let report = strata_scan::scan(&sbom, &mut db, &options)?;
    for n in &report.notes {
        eprintln!("warning: {n}");
    }
    let text = match a.format {
        ScanFormat::Table => table(&report),
        ScanFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        ScanFormat::Sarif => format!(
            "{}\n",
            serde_json::to_string_pretty(&strata_scan::to_sarif(
                &report,
                env!("CARGO_PKG_VERSION")
            ))?
        ),
    };
    write_output(a.output.as_deref(), text.as_bytes())?;
    if let Some(threshold) = a.fail_on {
        if report.fails(threshold) {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table(report: &Report) -> String {
    let mut t = TabWriter::new();
    t.push("PACKAGE\tVULNERABILITY\tSEVERITY\tINSTALLED\tFIXED\tLAYER\tTITLE");
    for f in &report.findings {
        let layer = f
            .layer
            .as_ref()
            .map(|l| l.index.to_string())
            .unwrap_or_else(|| "-".into());
        t.push(&format!(
            "{}\t{}\t{}\t{}\t{}\t{layer}\t{}",
            f.package,
            f.id,
            f.severity,
            f.installed_version,
            f.fixed_version.as_deref().unwrap_or("-"),
            f.summary.as_deref().unwrap_or("")
        ));
    }
    let mut out = t.render();
    let mut counts = std::collections::BTreeMap::new();
    for f in &report.findings {
        *counts
            .entry(std::cmp::Reverse(f.severity))
            .or_insert(0usize) += 1;
    }
    let summary: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{}: {n}", s.0))
        .collect();
    out.push_str(&format!(
        "\n{} vulnerabilities in {} packages ({}); {} ignored, {} unfixed left out; {} records read\n",
        report.findings.len(),
        report.packages_scanned,
        if summary.is_empty() { "none".to_owned() } else { summary.join(", ") },
        report.ignored.len(),
        report.unfixed_dropped,
        report.records_read
    ));
    out
}
