//! SARIF 2.1.0 output: one rule per vulnerability id, one result per finding, located at the
//! file where the package was found. `security-severity` carries the CVSS score so code
//! scanning services rank results as they do for other scanners.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::report::{Finding, Report};
use crate::severity::Severity;

/// The SARIF log for `report`.
pub fn to_sarif(report: &Report, tool_version: &str) -> Value {
    let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
    for f in &report.findings {
        rules.entry(&f.id).or_insert_with(|| rule(f));
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut text = format!(
                "{} {} is affected by {} ({})",
                f.package, f.installed_version, f.id, f.severity
            );
            match &f.fixed_version {
                Some(v) => text.push_str(&format!("; fixed in {v}")),
                None => text.push_str("; no fix available"),
            }
            if let Some(l) = &f.layer {
                text.push_str(&format!(
                    "; introduced in layer {} ({})",
                    l.index, l.diff_id
                ));
            }
            json!({
                "ruleId": f.id,
                "ruleIndex": index[f.id.as_str()],
                "level": level(f.severity),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.location.trim_start_matches('/')},
                    },
                    "message": {"text": format!("{}@{}", f.package, f.installed_version)},
                }],
            })
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "strata",
                "version": tool_version,
                "informationUri": "https://github.com/strata-build/strata",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
            "properties": {"image": report.image, "imageID": report.image_id},
        }],
    })
}

fn rule(f: &Finding) -> Value {
    let short = f.summary.clone().unwrap_or_else(|| f.id.clone());
    let mut r = json!({
        "id": f.id,
        "name": f.id.replace(['-', ':'], ""),
        "shortDescription": {"text": short},
        "helpUri": format!("https://osv.dev/vulnerability/{}", f.id),
        "help": {"text": format!("{}: {}", f.id, short)},
        "properties": {
            "tags": ["security", "vulnerability"],
            "precision": "very-high",
        },
    });
    let score = f.score.unwrap_or(match f.severity {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        _ => 0.0,
    });
    r["properties"]["security-severity"] = Value::String(format!("{score:.1}"));
    r
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}
