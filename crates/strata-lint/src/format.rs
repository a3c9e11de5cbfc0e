//! Output formats for findings, as hadolint offers them: `tty` (coloured, with the source
//! line), `json`, `sarif` (2.1.0), `checkstyle`, `codeclimate`, `gitlab_codeclimate`,
//! `gnu` and `junit`. Pure: callers pass the Dockerfile texts for the source lines.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{json, Value};

use crate::{rule_info, Finding, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tty,
    Json,
    Sarif,
    Checkstyle,
    Codeclimate,
    GitlabCodeclimate,
    Gnu,
    Junit,
}

impl Format {
    pub const NAMES: [&'static str; 8] = [
        "tty",
        "json",
        "sarif",
        "checkstyle",
        "codeclimate",
        "gitlab_codeclimate",
        "gnu",
        "junit",
    ];

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "tty" => Format::Tty,
            "json" => Format::Json,
            "sarif" => Format::Sarif,
            "checkstyle" => Format::Checkstyle,
            "codeclimate" => Format::Codeclimate,
            "gitlab_codeclimate" => Format::GitlabCodeclimate,
            "gnu" => Format::Gnu,
            "junit" => Format::Junit,
            _ => return None,
        })
    }
}

/// Renders `findings`; `sources` maps each file name to its text (for tty snippets).
pub fn render(
    format: Format,
    findings: &[Finding],
    sources: &BTreeMap<String, String>,
    color: bool,
) -> String {
    match format {
        Format::Tty => tty(findings, sources, color),
        Format::Json => json_list(findings),
        Format::Sarif => serde_json::to_string_pretty(&sarif(findings)).unwrap_or_default() + "\n",
        Format::Checkstyle => checkstyle(findings),
        Format::Codeclimate => codeclimate(findings),
        Format::GitlabCodeclimate => {
            serde_json::to_string_pretty(&gitlab(findings)).unwrap_or_default() + "\n"
        }
        Format::Gnu => findings
            .iter()
            .map(|f| {
                format!(
                    "{}:{}:{}: {}: {} {}\n",
                    f.file,
                    f.line,
                    f.column,
                    f.level.as_str(),
                    f.code,
                    f.message
                )
            })
            .collect(),
        Format::Junit => junit(findings),
    }
}

fn color_of(level: Level) -> &'static str {
    match level {
        Level::Error => "\x1b[1;31m",
        Level::Warning => "\x1b[1;33m",
        Level::Info => "\x1b[1;32m",
        Level::Style | Level::Ignore => "\x1b[1;36m",
    }
}

fn tty(findings: &[Finding], sources: &BTreeMap<String, String>, color: bool) -> String {
    let mut out = String::new();
    for f in findings {
        let (c, reset, dim) = if color {
            (color_of(f.level), "\x1b[0m", "\x1b[2m")
        } else {
            ("", "", "")
        };
        let _ = writeln!(
            out,
            "{}:{} {}{} {}{}: {}",
            f.file,
            f.line,
            c,
            f.code,
            f.level.as_str(),
            reset,
            f.message
        );
        let source_line = sources
            .get(&f.file)
            .and_then(|t| t.split('\n').nth(f.line.saturating_sub(1)));
        if let Some(l) = source_line {
            let _ = writeln!(
                out,
                "{dim}  {:>4} | {}{reset}",
                f.line,
                l.trim_end_matches('\r')
            );
        }
    }
    out
}

/// hadolint's JSON: `[{code, column, file, level, line, message}]`.
pub fn json_list(findings: &[Finding]) -> String {
    let items: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "code": f.code,
                "column": f.column,
                "file": f.file,
                "level": f.level.as_str(),
                "line": f.line,
                "message": f.message,
            })
        })
        .collect();
    serde_json::to_string(&items).unwrap_or_default() + "\n"
}

fn help_uri(code: &str) -> String {
    if let Some(n) = code.strip_prefix("SC") {
        format!("https://www.shellcheck.net/wiki/SC{n}")
    } else {
        format!("https://github.com/hadolint/hadolint/wiki/{code}")
    }
}

/// A SARIF 2.1.0 log with one run; rules are the codes that occur.
pub fn sarif(findings: &[Finding]) -> Value {
    let mut codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    codes.sort();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|c| {
            let text = rule_info(c).map_or_else(
                || {
                    findings
                        .iter()
                        .find(|f| f.code == *c)
                        .map(|f| f.message.clone())
                        .unwrap_or_default()
                },
                |r| r.message.to_string(),
            );
            json!({
                "id": c,
                "shortDescription": { "text": text },
                "helpUri": help_uri(c),
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let level = match f.level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Info | Level::Style | Level::Ignore => "note",
            };
            json!({
                "ruleId": f.code,
                "ruleIndex": codes.iter().position(|c| *c == f.code).unwrap_or(0),
                "level": level,
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file },
                        "region": {
                            "startLine": f.line.max(1),
                            "startColumn": f.column.max(1),
                        }
                    }
                }]
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "strata-lint",
                    "informationUri": "https://github.com/strata-build/strata",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "results": results,
        }]
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn checkstyle(findings: &[Finding]) -> String {
    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_file.entry(&f.file).or_default().push(f);
    }
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<checkstyle version=\"4.3\">\n");
    for (file, fs) in by_file {
        let _ = writeln!(out, "  <file name=\"{}\">", xml_escape(file));
        for f in fs {
            let severity = match f.level {
                Level::Error => "error",
                Level::Warning => "warning",
                _ => "info",
            };
            let _ = writeln!(
                out,
                "    <error line=\"{}\" column=\"{}\" severity=\"{}\" message=\"{}\" source=\"{}\"/>",
                f.line,
                f.column,
                severity,
                xml_escape(&f.message),
                xml_escape(&f.code)
            );
        }
        out.push_str("  </file>\n");
    }
    out.push_str("</checkstyle>\n");
    out
}

fn fingerprint(f: &Finding) -> String {
    // FNV-1a over the identifying fields: stable across runs, no extra dependency.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in format!("{}:{}:{}:{}", f.file, f.line, f.code, f.message).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn codeclimate_severity(level: Level) -> &'static str {
    match level {
        Level::Error => "blocker",
        Level::Warning => "major",
        Level::Info => "info",
        Level::Style | Level::Ignore => "minor",
    }
}

/// Code Climate engine output: one JSON issue per finding, each ended by a NUL byte.
fn codeclimate(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let issue = json!({
            "type": "issue",
            "check_name": f.code,
            "description": f.message,
            "categories": ["Bug Risk"],
            "location": { "path": f.file, "lines": { "begin": f.line, "end": f.line } },
            "severity": codeclimate_severity(f.level),
            "fingerprint": fingerprint(f),
        });
        out.push_str(&issue.to_string());
        out.push('\0');
    }
    out
}

/// GitLab's Code Quality report: a JSON array of Code Climate issues.
fn gitlab(findings: &[Finding]) -> Value {
    Value::Array(
        findings
            .iter()
            .map(|f| {
                json!({
                    "type": "issue",
                    "check_name": f.code,
                    "description": f.message,
                    "categories": ["Bug Risk"],
                    "location": { "path": f.file, "lines": { "begin": f.line } },
                    "severity": codeclimate_severity(f.level),
                    "fingerprint": fingerprint(f),
                })
            })
            .collect(),
    )
}

fn junit(findings: &[Finding]) -> String {
    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_file.entry(&f.file).or_default().push(f);
    }
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"strata lint\" tests=\"{0}\" failures=\"{0}\">\n",
        findings.len()
    );
    for (file, fs) in by_file {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">",
            xml_escape(file),
            fs.len(),
            fs.len()
        );
        for f in fs {
            let _ = writeln!(
                out,
                "    <testcase name=\"{}:{} {}\" classname=\"{}\">\n      <failure type=\"{}\" message=\"{}\">{}:{}:{} {} {}</failure>\n    </testcase>",
                xml_escape(file),
                f.line,
                xml_escape(&f.code),
                xml_escape(&f.code),
                f.level.as_str(),
                xml_escape(&f.message),
                xml_escape(file),
                f.line,
                f.column,
                xml_escape(&f.code),
                xml_escape(&f.message)
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
