//! Severity of a record: the CVSS vectors it carries scored per CVSS 3.x / 4.0 (the
//! `cvss` crate), else the qualitative severity some databases add (GHSA's
//! `database_specific.severity`), else Debian's urgency.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::osv::{Affected, Record};

/// Qualitative severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Negligible => "NEGLIGIBLE",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// From a CVSS score, with the rating scale CVSS 3.1 and 4.0 share.
    pub fn from_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Negligible,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "unknown" => Severity::Unknown,
            "negligible" | "unimportant" => Severity::Negligible,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" | "important" => Severity::High,
            "critical" => Severity::Critical,
            other => {
                return Err(format!(
                    "unknown severity {other:?} (expected unknown, negligible, low, medium, high or critical)"
                ))
            }
        })
    }
}

/// A scored severity and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The CVSS vector scored, or `debian-urgency` / `database` for qualitative sources.
    pub source: String,
}

/// Rate `record` for the package entry `affected` that matched.
pub fn rate(record: &Record, affected: &Affected) -> Rating {
    let vectors = affected.severity.iter().chain(record.severity.iter());
    let mut best: Option<(u8, f64, String)> = None;
    for s in vectors {
        let rank = match s.kind.as_str() {
            "CVSS_V4" => 2,
            "CVSS_V3" => 1,
            _ => continue,
        };
        let Ok(cvss) = cvss::Cvss::from_str(s.score.trim()) else {
            continue;
        };
        let score = cvss.score();
        if best.as_ref().is_none_or(|(r, _, _)| rank > *r) {
            best = Some((rank, score, s.score.clone()));
        }
    }
    if let Some((_, score, vector)) = best {
        return Rating {
            severity: Severity::from_score(score),
            score: Some(score),
            source: vector,
        };
    }
    let qualitative = |v: &Option<Value>, key: &str| {
        v.as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Severity>().ok())
    };
    if let Some(s) = qualitative(&affected.database_specific, "severity")
        .or_else(|| qualitative(&record.database_specific, "severity"))
        .or_else(|| qualitative(&affected.ecosystem_specific, "severity"))
    {
        return Rating {
            severity: s,
            score: None,
            source: "database".into(),
        };
    }
    if let Some(s) = qualitative(&affected.ecosystem_specific, "urgency")
        .or_else(|| qualitative(&affected.database_specific, "urgency"))
        .or_else(|| qualitative(&record.database_specific, "urgency"))
    {
        return Rating {
            severity: s,
            score: None,
            source: "debian-urgency".into(),
        };
    }
    Rating {
        severity: Severity::Unknown,
        score: None,
        source: "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_cvss_3_and_4() {
        let record: Record = serde_json::from_str(
            r#"{"id":"X","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}"#,
        )
        .unwrap();
        let affected: Affected = serde_json::from_str("{}").unwrap();
        let r = rate(&record, &affected);
        assert_eq!(r.score, Some(9.8));
        assert_eq!(r.severity, Severity::Critical);
        let v4: Record = serde_json::from_str(
            r#"{"id":"Y","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}"#,
        )
        .unwrap();
        let r = rate(&v4, &affected);
        assert_eq!(r.score, Some(9.3));
        assert_eq!(r.severity, Severity::Critical);
        let debian: Affected =
            serde_json::from_str(r#"{"ecosystem_specific":{"urgency":"low"}}"#).unwrap();
        let plain: Record = serde_json::from_str(r#"{"id":"Z"}"#).unwrap();
        assert_eq!(rate(&plain, &debian).severity, Severity::Low);
        assert_eq!(rate(&plain, &affected).severity, Severity::Unknown);
    }
}
