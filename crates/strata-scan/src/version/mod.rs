//! Version ordering per ecosystem, as the OSV schema requires ranges to be evaluated.
//!
//! - Debian: dpkg's rules ([`debian`]; epoch, upstream, revision, `~`), checked against
//!   `dpkg --compare-versions` in the tests.
//! - Alpine: apk-tools' rules ([`alpine`]), written here: no crate implements them.
//! - PyPI: PEP 440 through `pep440_rs` (uv's implementation).
//! - npm, Go, crates.io and SEMVER ranges: semantic versioning 2.0 through `semver`, after
//!   the leniencies OSV data needs (a leading `v`, missing minor or patch numbers).
//! - Maven: Maven's `ComparableVersion` rules ([`maven`]), written here for the same reason.

pub mod alpine;
pub mod debian;
pub mod maven;

use std::cmp::Ordering;

/// How versions of one ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Debian,
    Alpine,
    Pep440,
    Semver,
    Maven,
}

impl Scheme {
    /// The ordering an OSV ecosystem name (`Debian:12`, `Alpine:v3.20`, `PyPI`, …) uses;
    /// `None` for ecosystems strata cannot order.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Debian,
            "Alpine" => Scheme::Alpine,
            "PyPI" => Scheme::Pep440,
            "npm" | "Go" | "crates.io" | "Packagist" | "Hex" | "Pub" | "NuGet" => Scheme::Semver,
            "Maven" => Scheme::Maven,
            _ => return None,
        })
    }

    /// Compare two versions; `None` when either does not parse in this scheme.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        Some(self.parse(a)?.cmp(&self.parse(b)?))
    }

    /// Parse one version for repeated comparisons.
    pub fn parse(self, v: &str) -> Option<Parsed> {
        let v = v.trim();
        Some(match self {
            Scheme::Debian => Parsed::Debian(debian::Version::parse(v)?),
            Scheme::Alpine => Parsed::Alpine(alpine::Version::parse(v)?),
            Scheme::Pep440 => Parsed::Pep440(v.parse::<pep440_rs::Version>().ok()?),
            Scheme::Semver => Parsed::Semver(lenient_semver(v)?),
            Scheme::Maven => Parsed::Maven(maven::Version::parse(v)),
        })
    }
}

/// A parsed version; only versions of the same scheme are compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Debian(debian::Version),
    Alpine(alpine::Version),
    Pep440(pep440_rs::Version),
    Semver(semver::Version),
    Maven(maven::Version),
}

impl PartialOrd for Parsed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Parsed {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Parsed::Debian(a), Parsed::Debian(b)) => a.cmp(b),
            (Parsed::Alpine(a), Parsed::Alpine(b)) => a.cmp(b),
            (Parsed::Pep440(a), Parsed::Pep440(b)) => a.cmp(b),
            (Parsed::Semver(a), Parsed::Semver(b)) => a.cmp_precedence(b),
            (Parsed::Maven(a), Parsed::Maven(b)) => a.cmp(b),
            // Never produced: one scheme parses both sides.
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl Parsed {
    fn rank(&self) -> u8 {
        match self {
            Parsed::Debian(_) => 0,
            Parsed::Alpine(_) => 1,
            Parsed::Pep440(_) => 2,
            Parsed::Semver(_) => 3,
            Parsed::Maven(_) => 4,
        }
    }
}

/// Semantic versions as OSV data writes them: `v1.2.3`, `1.2`, `go1.21` all accepted.
pub fn lenient_semver(v: &str) -> Option<semver::Version> {
    let v = v.strip_prefix("go").unwrap_or(v);
    let v = v.strip_prefix('v').unwrap_or(v);
    if let Ok(p) = semver::Version::parse(v) {
        return Some(p);
    }
    // Pad `1` / `1.2` (before any pre-release or build suffix) to three numbers.
    let split = v.find(['-', '+']).unwrap_or(v.len());
    let (core, rest) = v.split_at(split);
    let parts = core.split('.').count();
    if parts == 0 || parts > 3 || core.split('.').any(|p| p.parse::<u64>().is_err()) {
        return None;
    }
    let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts));
    semver::Version::parse(&padded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_leniency_and_precedence() {
        let s = Scheme::Semver;
        assert_eq!(s.compare("v1.2", "1.2.0"), Some(Ordering::Equal));
        assert_eq!(s.compare("1.0.0-rc.1", "1.0.0"), Some(Ordering::Less));
        assert_eq!(
            s.compare("1.0.0+build1", "1.0.0+build2"),
            Some(Ordering::Equal)
        );
        assert_eq!(s.compare("go1.21.4", "1.21.10"), Some(Ordering::Less));
        assert_eq!(s.compare("x", "1"), None);
    }

    #[test]
    fn pep440_orders_pre_post_dev() {
        let s = Scheme::Pep440;
        let ordered = [
            "1.0.dev1",
            "1.0a1",
            "1.0b2",
            "1.0rc1",
            "1.0",
            "1.0.post1",
            "1.1",
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                s.compare(w[0], w[1]),
                Some(Ordering::Less),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert_eq!(s.compare("1.0", "1.0.0"), Some(Ordering::Equal));
    }

    #[test]
    fn debian_epochs_and_tildes() {
        let s = Scheme::Debian;
        assert_eq!(s.compare("1:1.0", "2.0"), Some(Ordering::Greater));
        assert_eq!(s.compare("1.0~rc1", "1.0"), Some(Ordering::Less));
        assert_eq!(
            s.compare("2.36-9+deb12u4", "2.36-9+deb12u10"),
            Some(Ordering::Less)
        );
    }
}
