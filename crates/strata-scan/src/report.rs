//! Matching an SBOM against an OSV database, and the resulting report.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use strata_sbom::{LayerRef, Package, PackageKind, Sbom};

use crate::db::Database;
use crate::error::Result;
use crate::ignore::IgnoreList;
use crate::matcher;
use crate::osv::{Affected, Record};
use crate::severity::{rate, Rating, Severity};
use crate::version::Scheme;

/// One vulnerability in one installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The CVSS vector the score came from, or the qualitative source.
    pub severity_source: String,
    /// The package as installed (binary package name for dpkg and apk).
    pub package: String,
    pub installed_version: String,
    /// The name and version the database knows it by (the source package for distributions).
    pub matched_name: String,
    pub matched_version: String,
    pub kind: PackageKind,
    pub purl: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
}

/// A finding left out by the ignore file, with the entry's reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ignored {
    pub finding: Finding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub image: String,
    pub image_id: String,
    /// Sorted by severity (highest first), then id, package, location.
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<Ignored>,
    /// Findings dropped by `--ignore-unfixed`.
    pub unfixed_dropped: usize,
    pub records_read: usize,
    pub packages_scanned: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// Whether any finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }
}

/// Options of a scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub ignore_unfixed: bool,
    pub ignore: IgnoreList,
    /// The date expiry dates are compared with.
    pub today: NaiveDate,
}

/// How a package is looked up: ecosystem family (`Debian`, `PyPI`, …) and name.
type Key = (String, String);

struct Candidate<'a> {
    package: &'a Package,
    ecosystem: Option<String>,
    name: String,
    version: String,
}

/// Match every package of `sbom` against every record of `db`.
pub fn scan(sbom: &Sbom, db: &mut Database, options: &ScanOptions) -> Result<Report> {
    let mut by_key: HashMap<Key, Vec<Candidate<'_>>> = HashMap::new();
    let mut by_purl: HashMap<String, Vec<Candidate<'_>>> = HashMap::new();
    for p in &sbom.packages {
        let ecosystem = p.osv_ecosystem(sbom.distro.as_ref());
        let (name, version) = match p.kind {
            PackageKind::Deb | PackageKind::Apk => (
                p.source_name.clone().unwrap_or_else(|| p.name.clone()),
                p.source_version
                    .clone()
                    .unwrap_or_else(|| p.version.clone()),
            ),
            PackageKind::Python => (normalize_pypi(&p.name), p.version.clone()),
            _ => (p.name.clone(), p.version.clone()),
        };
        let candidate = Candidate {
            package: p,
            ecosystem: ecosystem.clone(),
            name: name.clone(),
            version,
        };
        match &ecosystem {
            Some(eco) => by_key
                .entry((family(eco).to_owned(), name))
                .or_default()
                .push(candidate),
            None => by_purl
                .entry(purl_base(&p.purl).to_owned())
                .or_default()
                .push(candidate),
        }
    }

    let mut findings: Vec<Finding> = Vec::new();
    let mut seen: BTreeSet<(String, String, String, String)> = BTreeSet::new();
    let records_read = db.for_each(|record| {
        if record.withdrawn.is_some() {
            return;
        }
        for affected in &record.affected {
            let Some(pkg) = &affected.package else {
                continue;
            };
            let mut matched: Vec<(&Candidate<'_>, Scheme)> = Vec::new();
            let fam = family(&pkg.ecosystem);
            let name = if fam == "PyPI" {
                normalize_pypi(&pkg.name)
            } else {
                pkg.name.clone()
            };
            if let Some(cands) = by_key.get(&(fam.to_owned(), name)) {
                let Some(scheme) = Scheme::for_ecosystem(&pkg.ecosystem) else {
                    continue;
                };
                for c in cands {
                    if same_release(&pkg.ecosystem, c.ecosystem.as_deref()) {
                        matched.push((c, scheme));
                    }
                }
            }
            if let Some(purl) = &pkg.purl {
                if let Some(cands) = by_purl.get(purl_base(purl)) {
                    let scheme = Scheme::for_ecosystem(&pkg.ecosystem).unwrap_or(Scheme::Semver);
                    matched.extend(cands.iter().map(|c| (c, scheme)));
                }
            }
            for (c, scheme) in matched {
                let Some(verdict) = matcher::evaluate(affected, scheme, &c.version) else {
                    continue;
                };
                let key = (
                    record.id.clone(),
                    c.package.name.clone(),
                    c.package.version.clone(),
                    c.package.location.clone(),
                );
                if !seen.insert(key) {
                    continue;
                }
                findings.push(finding(&record, affected, c, verdict.fixed));
            }
        }
    })?;

    let mut report = Report {
        image: sbom.image.name.clone(),
        image_id: sbom.image.id.clone(),
        findings: Vec::new(),
        ignored: Vec::new(),
        unfixed_dropped: 0,
        records_read,
        packages_scanned: sbom.packages.len(),
        notes: Vec::new(),
    };
    for e in options.ignore.expired(options.today) {
        report.notes.push(format!(
            "ignore entry {} (line {}) expired on {}; no longer ignored",
            e.id,
            e.line,
            e.expires.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    for f in findings {
        if let Some(entry) = options.ignore.matching(&f.id, &f.aliases, options.today) {
            report.ignored.push(Ignored {
                finding: f,
                reason: entry.reason.clone(),
            });
            continue;
        }
        if options.ignore_unfixed && f.fixed_version.is_none() {
            report.unfixed_dropped += 1;
            continue;
        }
        report.findings.push(f);
    }
    let order = |a: &Finding, b: &Finding| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.location.cmp(&b.location))
    };
    report.findings.sort_by(order);
    report.ignored.sort_by(|a, b| order(&a.finding, &b.finding));
    Ok(report)
}

fn finding(
    record: &Record,
    affected: &Affected,
    c: &Candidate<'_>,
    fixed: Option<String>,
) -> Finding {
    let Rating {
        severity,
        score,
        source,
    } = rate(record, affected);
    let mut aliases = record.aliases.clone();
    aliases.sort();
    Finding {
        id: record.id.clone(),
        aliases,
        summary: record
            .summary
            .clone()
            .or_else(|| record.details.as_ref().map(|d| first_line(d))),
        severity,
        score,
        severity_source: source,
        package: c.package.name.clone(),
        installed_version: c.package.version.clone(),
        matched_name: c.name.clone(),
        matched_version: c.version.clone(),
        kind: c.package.kind,
        purl: c.package.purl.clone(),
        ecosystem: c.ecosystem.clone(),
        fixed_version: fixed,
        location: c.package.location.clone(),
        layer: c.package.layer.clone(),
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() > 120 {
        let cut: String = line.chars().take(119).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

/// `Debian:12` → `Debian`.
fn family(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// A record for `Debian:12` applies to a `Debian:12` image; one for plain `Debian` to any.
fn same_release(record_ecosystem: &str, package_ecosystem: Option<&str>) -> bool {
    match (record_ecosystem.split_once(':'), package_ecosystem) {
        (None, _) => true,
        (Some(_), Some(p)) => record_ecosystem == p,
        (Some(_), None) => false,
    }
}

/// A PURL without version, qualifiers and subpath: `pkg:generic/busybox@1.35.0` →
/// `pkg:generic/busybox`.
fn purl_base(purl: &str) -> &str {
    let end = purl.find(['@', '?', '#']).unwrap_or(purl.len());
    &purl[..end]
}

/// PEP 503 normalisation: PyPI names compare case-insensitively with `-_.` runs equal.
fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}
