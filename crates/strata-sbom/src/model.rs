//! The SBOM as strata sees it: plain data, independent of any output format.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which packaging system a package was catalogued from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageKind {
    Deb,
    Apk,
    Rpm,
    Python,
    Npm,
    Go,
    Cargo,
    Maven,
    /// A binary recognised by its embedded version string (busybox), with no package database.
    Binary,
}

impl PackageKind {
    /// The short name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
            PackageKind::Python => "python",
            PackageKind::Npm => "npm",
            PackageKind::Go => "go-module",
            PackageKind::Cargo => "rust-crate",
            PackageKind::Maven => "java-archive",
            PackageKind::Binary => "binary",
        }
    }
}

/// The layer a package came from: its position in the image (0 = bottom) and diffID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LayerRef {
    pub index: usize,
    pub diff_id: String,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub kind: PackageKind,
    pub purl: String,
    /// SPDX license ids or expressions where known (`LicenseRef-…` for others).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// The source package (dpkg `Source:`, apk origin, rpm source RPM) when it differs or is
    /// recorded; vulnerability databases of distributions are keyed by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Maintainer or author, as the package metadata names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// Where the evidence was found (the package database or the file itself), image-absolute.
    pub location: String,
    /// Files the package owns, image-absolute, sorted (dpkg `info/*.list`, apk `F:`/`R:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// The layer that introduced this package at this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
}

impl Package {
    /// The OSV ecosystem this package is matched in (`Debian:12`, `Alpine:v3.20`, `PyPI`, …),
    /// given the image's distribution.
    pub fn osv_ecosystem(&self, distro: Option<&Distro>) -> Option<String> {
        match self.kind {
            PackageKind::Deb => distro
                .filter(|d| d.id == "debian")
                .and_then(|d| d.version_id.as_deref())
                .map(|v| format!("Debian:{}", v.split('.').next().unwrap_or(v)))
                .or_else(|| Some("Debian".to_owned())),
            PackageKind::Apk => distro
                .filter(|d| d.id == "alpine")
                .and_then(|d| d.version_id.as_deref())
                .map(|v| {
                    let minor: Vec<&str> = v.split('.').take(2).collect();
                    format!("Alpine:v{}", minor.join("."))
                })
                .or_else(|| Some("Alpine".to_owned())),
            PackageKind::Rpm => None,
            PackageKind::Python => Some("PyPI".to_owned()),
            PackageKind::Npm => Some("npm".to_owned()),
            PackageKind::Go => Some("Go".to_owned()),
            PackageKind::Cargo => Some("crates.io".to_owned()),
            PackageKind::Maven => Some("Maven".to_owned()),
            PackageKind::Binary => None,
        }
    }
}

/// The distribution named by `/etc/os-release`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
}

/// What the SBOM describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSubject {
    /// The name the user gave (reference or archive path).
    pub name: String,
    /// The image ID (config digest).
    pub id: String,
    /// The manifest digest, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// The image config's `created`; the SBOM's own timestamp, so output is reproducible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// Layer diffIDs, bottom first.
    pub layers: Vec<String>,
}

/// A bill of materials for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    pub image: ImageSubject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// Sorted by kind, name, version, location.
    pub packages: Vec<Package>,
    /// What could not be catalogued and why (unsupported rpm databases, unreadable files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Sbom {
    /// Sort packages and notes into their canonical order (output must not depend on the order
    /// files appeared in the layers).
    pub fn normalize(&mut self) {
        for p in &mut self.packages {
            p.files.sort();
            p.files.dedup();
            p.licenses.sort();
            p.licenses.dedup();
        }
        self.packages.sort_by(|a, b| {
            (a.kind, &a.name, &a.version, &a.location, &a.arch).cmp(&(
                b.kind,
                &b.name,
                &b.version,
                &b.location,
                &b.arch,
            ))
        });
        self.packages.dedup_by(|a, b| {
            a.kind == b.kind
                && a.name == b.name
                && a.version == b.version
                && a.location == b.location
                && a.arch == b.arch
        });
        self.notes.sort();
        self.notes.dedup();
    }
}
