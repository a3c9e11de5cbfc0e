//! Whether a version is affected, evaluated as the OSV schema's pseudocode says: listed in
//! `versions`, or inside an ECOSYSTEM / SEMVER range whose events, sorted by version
//! (`introduced: "0"` first), leave it affected: `introduced` turns the state on at or
//! above its version, `fixed` turns it off at or above, `last_affected` off strictly above,
//! and `limit` events bound the range from above. GIT ranges are skipped: they need the
//! repository's history.

use std::cmp::Ordering;

use crate::osv::{Affected, Event, Range};
use crate::version::{Parsed, Scheme};

/// The verdict for one affected entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The lowest fix above the installed version, from the range that matched.
    pub fixed: Option<String>,
}

/// Evaluate `affected` for `version`, ordering ECOSYSTEM ranges with `scheme`.
pub fn evaluate(affected: &Affected, scheme: Scheme, version: &str) -> Option<Verdict> {
    let installed_ecosystem = scheme.parse(version);
    if affected.versions.iter().any(|v| v == version) {
        let fixed = affected
            .ranges
            .iter()
            .find_map(|r| fix_above(r, scheme, installed_ecosystem.as_ref()));
        return Some(Verdict { fixed });
    }
    for range in &affected.ranges {
        let range_scheme = match range.kind.as_str() {
            "ECOSYSTEM" => scheme,
            "SEMVER" => Scheme::Semver,
            _ => continue,
        };
        let Some(v) = range_scheme.parse(version) else {
            continue;
        };
        if in_range(&range.events, range_scheme, &v) {
            return Some(Verdict {
                fixed: fix_above(range, range_scheme, Some(&v)),
            });
        }
    }
    None
}

/// An event's kind and version string.
fn event_version(e: &Event) -> Option<(u8, &str)> {
    if let Some(v) = &e.introduced {
        Some((0, v))
    } else if let Some(v) = &e.fixed {
        Some((1, v))
    } else if let Some(v) = &e.last_affected {
        Some((2, v))
    } else {
        e.limit.as_deref().map(|v| (3, v))
    }
}

fn in_range(events: &[Event], scheme: Scheme, v: &Parsed) -> bool {
    // (kind, parsed version; None = "0", below everything)
    let mut sorted: Vec<(u8, Option<Parsed>)> = Vec::with_capacity(events.len());
    for e in events {
        let Some((kind, raw)) = event_version(e) else {
            continue;
        };
        if kind == 0 && raw == "0" {
            sorted.push((0, None));
            continue;
        }
        if kind == 3 && raw == "*" {
            continue;
        }
        match scheme.parse(raw) {
            Some(p) => sorted.push((kind, Some(p))),
            // An event strata cannot order makes the whole range unusable.
            None => return false,
        }
    }
    sorted.sort_by(|a, b| match (&a.1, &b.1) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    });
    let limits: Vec<&Parsed> = sorted
        .iter()
        .filter(|(k, _)| *k == 3)
        .filter_map(|(_, p)| p.as_ref())
        .collect();
    if !limits.is_empty() && !limits.iter().any(|l| v < *l) {
        return false;
    }
    let mut affected = false;
    for (kind, at) in &sorted {
        match (kind, at) {
            (0, None) => affected = true,
            (0, Some(p)) if v >= p => affected = true,
            (1, Some(p)) if v >= p => affected = false,
            (2, Some(p)) if v > p => affected = false,
            _ => {}
        }
    }
    affected
}

/// The lowest `fixed` event of `range` above the installed version (any fix when the installed
/// version cannot be parsed).
fn fix_above(range: &Range, scheme: Scheme, installed: Option<&Parsed>) -> Option<String> {
    let scheme = if range.kind == "SEMVER" {
        Scheme::Semver
    } else {
        scheme
    };
    let mut fixes: Vec<(Parsed, &str)> = range
        .events
        .iter()
        .filter_map(|e| e.fixed.as_deref())
        .filter_map(|f| Some((scheme.parse(f)?, f)))
        .filter(|(p, _)| installed.is_none_or(|i| p > i))
        .collect();
    fixes.sort_by(|a, b| a.0.cmp(&b.0));
    fixes.first().map(|(_, f)| (*f).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::Affected;

    fn affected(json: &str) -> Affected {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn introduced_fixed_last_affected_limit() {
        let a = affected(
            r#"{"ranges":[{"type":"ECOSYSTEM","events":[
                {"introduced":"0"},{"fixed":"1.2"},{"introduced":"2.0"},{"last_affected":"2.3"}]}]}"#,
        );
        let s = Scheme::Semver;
        assert_eq!(
            evaluate(&a, s, "1.1").unwrap().fixed.as_deref(),
            Some("1.2")
        );
        assert!(evaluate(&a, s, "1.2").is_none());
        assert!(evaluate(&a, s, "1.9").is_none());
        assert!(evaluate(&a, s, "2.0").is_some());
        assert!(evaluate(&a, s, "2.3").is_some());
        assert!(evaluate(&a, s, "2.3.1").is_none());
        let limited = affected(
            r#"{"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"limit":"1.5.0"}]}]}"#,
        );
        assert!(evaluate(&limited, s, "1.4.0").is_some());
        assert!(evaluate(&limited, s, "1.5.0").is_none());
        let listed = affected(r#"{"versions":["0.9-1"]}"#);
        assert!(evaluate(&listed, Scheme::Debian, "0.9-1").is_some());
        assert!(evaluate(&listed, Scheme::Debian, "0.9-2").is_none());
    }
}
