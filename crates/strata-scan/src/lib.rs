//! Offline vulnerability scanning of an SBOM against an OSV database.
//!
//! - [`Database`] reads OSV records from a directory or straight from a zip (its central
//!   directory is the index; one record is inflated at a time).
//! - [`version::Scheme`] orders versions per ecosystem (Debian, Alpine, PEP 440, semver,
//!   Maven); [`matcher`] evaluates `affected` ranges and `versions` lists as the OSV schema's
//!   pseudocode says.
//! - [`scan`] matches packages by ecosystem and name (the source package for Debian and
//!   Alpine, as their databases are keyed), or by PURL for packages with no ecosystem;
//!   severities come from CVSS 3.x/4.0 vectors, database severities or Debian urgency.
//! - [`IgnoreList`] hides ids with reasons until their expiry; [`to_sarif`] writes SARIF 2.1.0.

mod db;
mod error;
pub mod ignore;
pub mod matcher;
pub mod osv;
mod report;
mod sarif;
pub mod severity;
pub mod version;

pub use db::{Database, MAX_RECORD};
pub use error::{Error, Result};
pub use ignore::{IgnoreEntry, IgnoreList};
pub use report::{scan, Finding, Ignored, Report, ScanOptions};
pub use sarif::to_sarif;
pub use severity::{Rating, Severity};
