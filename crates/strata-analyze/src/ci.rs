//! dive's CI gate: the three rules, the `.dive-ci` file, and the report dive prints.
//!
//! Values are strings as dive's configuration library hands them over: a number in the
//! YAML file becomes its shortest decimal spelling, `disabled` switches a rule off. A value
//! given on the command line wins over the file, which wins over the defaults
//! (`lowestEfficiency: 0.9`, `highestWastedBytes: disabled`, `highestUserWastedPercent: 0.1`).

use std::fmt::Write as _;

use crate::efficiency::Efficiency;
use crate::error::{Error, Result};
use crate::gofmt::{go_float, human_bytes, parse_bytes};

pub const LOWEST_EFFICIENCY: &str = "lowestEfficiency";
pub const HIGHEST_WASTED_BYTES: &str = "highestWastedBytes";
pub const HIGHEST_USER_WASTED_PERCENT: &str = "highestUserWastedPercent";

/// The three rule values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiRules {
    pub lowest_efficiency: String,
    pub highest_wasted_bytes: String,
    pub highest_user_wasted_percent: String,
}

impl Default for CiRules {
    fn default() -> Self {
        CiRules {
            lowest_efficiency: "0.9".into(),
            highest_wasted_bytes: "disabled".into(),
            highest_user_wasted_percent: "0.1".into(),
        }
    }
}

/// Rule values from a `.dive-ci` file's text: only those present are `Some`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CiFile {
    pub lowest_efficiency: Option<String>,
    pub highest_wasted_bytes: Option<String>,
    pub highest_user_wasted_percent: Option<String>,
}

impl CiFile {
    /// Parse a `.dive-ci` YAML document; `name` (the file) prefixes errors. Keys are matched
    /// case-insensitively, as dive's configuration library does.
    pub fn parse(text: &str, name: &str) -> Result<CiFile> {
        let doc: serde_norway::Value = serde_norway::from_str(text)
            .map_err(|e| Error::config(format!("{name}: invalid YAML: {e}")))?;
        let mut out = CiFile::default();
        let serde_norway::Value::Mapping(top) = doc else {
            if doc.is_null() {
                return Ok(out);
            }
            return Err(Error::config(format!(
                "{name}: expected a mapping with `rules:`"
            )));
        };
        for (k, v) in top {
            let Some(key) = k.as_str() else { continue };
            if !key.eq_ignore_ascii_case("rules") {
                continue;
            }
            let serde_norway::Value::Mapping(rules) = v else {
                return Err(Error::config(format!("{name}: `rules` must be a mapping")));
            };
            for (rk, rv) in rules {
                let Some(rule) = rk.as_str() else { continue };
                let value = scalar_text(&rv).ok_or_else(|| {
                    Error::config(format!("{name}: rules.{rule} must be a number or a string"))
                })?;
                let slot = if rule.eq_ignore_ascii_case(LOWEST_EFFICIENCY) {
                    &mut out.lowest_efficiency
                } else if rule.eq_ignore_ascii_case(HIGHEST_WASTED_BYTES) {
                    &mut out.highest_wasted_bytes
                } else if rule.eq_ignore_ascii_case(HIGHEST_USER_WASTED_PERCENT) {
                    &mut out.highest_user_wasted_percent
                } else {
                    return Err(Error::config(format!(
                        "{name}: unknown rule {rule:?} (known: {LOWEST_EFFICIENCY}, \
                         {HIGHEST_WASTED_BYTES}, {HIGHEST_USER_WASTED_PERCENT})"
                    )));
                };
                *slot = Some(value);
            }
        }
        Ok(out)
    }
}

fn scalar_text(v: &serde_norway::Value) -> Option<String> {
    match v {
        serde_norway::Value::String(s) => Some(s.clone()),
        serde_norway::Value::Number(n) => Some(if let Some(i) = n.as_i64() {
            i.to_string()
        } else if let Some(u) = n.as_u64() {
            u.to_string()
        } else {
            // Rust's shortest decimal spelling, as Go's FormatFloat(f, 'f', -1, 64).
            format!("{}", n.as_f64().unwrap_or(f64::NAN))
        }),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl CiRules {
    /// Defaults, overridden by the file, overridden by flags.
    pub fn resolve(file: &CiFile, flags: &CiFile) -> CiRules {
        let d = CiRules::default();
        let pick = |flag: &Option<String>, file: &Option<String>, default: String| {
            flag.clone().or_else(|| file.clone()).unwrap_or(default)
        };
        CiRules {
            lowest_efficiency: pick(
                &flags.lowest_efficiency,
                &file.lowest_efficiency,
                d.lowest_efficiency,
            ),
            highest_wasted_bytes: pick(
                &flags.highest_wasted_bytes,
                &file.highest_wasted_bytes,
                d.highest_wasted_bytes,
            ),
            highest_user_wasted_percent: pick(
                &flags.highest_user_wasted_percent,
                &file.highest_user_wasted_percent,
                d.highest_user_wasted_percent,
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleStatus {
    Pass,
    Fail,
    Skip,
    Misconfigured,
    /// Valid, but not evaluated because another rule is misconfigured.
    Configured,
}

impl RuleStatus {
    fn label(self) -> &'static str {
        match self {
            RuleStatus::Pass => "PASS",
            RuleStatus::Fail => "FAIL",
            RuleStatus::Skip => "SKIP",
            RuleStatus::Misconfigured => "MISCONFIGURED",
            RuleStatus::Configured => "CONFIGURED   ",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleResult {
    pub rule: &'static str,
    pub status: RuleStatus,
    pub message: String,
}

/// The outcome of the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiOutcome {
    /// Sorted by rule name, as dive prints them.
    pub results: Vec<RuleResult>,
    pub misconfigured: bool,
}

impl CiOutcome {
    pub fn passed(&self) -> bool {
        !self.misconfigured && self.results.iter().all(|r| r.status != RuleStatus::Fail)
    }

    fn count(&self, s: RuleStatus) -> usize {
        self.results.iter().filter(|r| r.status == s).count()
    }

    /// The `Result:…` line.
    pub fn summary(&self) -> String {
        let status = if self.count(RuleStatus::Fail) > 0 {
            "FAIL"
        } else {
            "PASS"
        };
        format!(
            "Result:{status} [Total:{}] [Passed:{}] [Failed:{}] [Warn:0] [Skipped:{}]",
            self.results.len(),
            self.count(RuleStatus::Pass),
            self.count(RuleStatus::Fail),
            self.count(RuleStatus::Skip),
        )
    }
}

fn parse_ratio(rule: &str, value: &str) -> Result<f64, String> {
    let v: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("invalid config value ('{value}'): not a number"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!(
            "{rule} config value is outside allowed range (0-1), given '{value}'"
        ));
    }
    Ok(v)
}

/// Evaluate the rules against the figures, as dive does: a misconfigured rule stops the
/// evaluation (and fails the gate).
pub fn evaluate(rules: &CiRules, e: &Efficiency) -> CiOutcome {
    let specs: [(&'static str, &str); 3] = [
        (LOWEST_EFFICIENCY, &rules.lowest_efficiency),
        (HIGHEST_WASTED_BYTES, &rules.highest_wasted_bytes),
        (
            HIGHEST_USER_WASTED_PERCENT,
            &rules.highest_user_wasted_percent,
        ),
    ];
    let validate = |rule: &str, value: &str| -> Result<(), String> {
        match rule {
            HIGHEST_WASTED_BYTES => parse_bytes(value)
                .map(|_| ())
                .map_err(|err| format!("invalid config value ('{value}'): {err}")),
            _ => parse_ratio(rule, value).map(|_| ()),
        }
    };
    let mut results: Vec<RuleResult> = Vec::new();
    let mut misconfigured = false;
    for (rule, value) in specs {
        if value == "disabled" {
            results.push(RuleResult {
                rule,
                status: RuleStatus::Skip,
                message: "rule disabled".into(),
            });
            continue;
        }
        let (status, message) = match validate(rule, value) {
            Err(m) => {
                misconfigured = true;
                (RuleStatus::Misconfigured, m)
            }
            Ok(()) => match rule {
                LOWEST_EFFICIENCY => {
                    let t = parse_ratio(rule, value).expect("validated");
                    if t > e.score {
                        let m = format!(
                            "image efficiency is too low (efficiency={} < threshold={})",
                            go_float(e.score),
                            go_float(t)
                        );
                        (RuleStatus::Fail, m)
                    } else {
                        (RuleStatus::Pass, String::new())
                    }
                }
                HIGHEST_WASTED_BYTES => {
                    let t = parse_bytes(value).expect("validated");
                    if e.wasted_bytes > t {
                        let m = format!(
                            "too many bytes wasted (wasted-bytes={} > threshold={t})",
                            e.wasted_bytes
                        );
                        (RuleStatus::Fail, m)
                    } else {
                        (RuleStatus::Pass, String::new())
                    }
                }
                _ => {
                    let t = parse_ratio(rule, value).expect("validated");
                    // dive compares `threshold < percent`, so NaN passes and +Inf fails.
                    if t < e.user_wasted_percent {
                        let m = format!(
                            "too many bytes wasted, relative to the user bytes added \
                             (%-user-wasted-bytes={} > threshold={})",
                            go_float(e.user_wasted_percent),
                            go_float(t)
                        );
                        (RuleStatus::Fail, m)
                    } else {
                        (RuleStatus::Pass, String::new())
                    }
                }
            },
        };
        results.push(RuleResult {
            rule,
            status,
            message,
        });
    }
    if misconfigured {
        for r in &mut results {
            if matches!(r.status, RuleStatus::Pass | RuleStatus::Fail) {
                r.status = RuleStatus::Configured;
                r.message = "test".into();
            } else if r.status == RuleStatus::Skip {
                r.status = RuleStatus::Configured;
            }
        }
    }
    results.sort_by_key(|r| r.rule);
    CiOutcome {
        results,
        misconfigured,
    }
}

/// dive's CI text after the analysis: the three figures, the inefficient files and the rule
/// results, line for line.
pub fn report(e: &Efficiency, outcome: &CiOutcome) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "  efficiency: {} %", crate::gofmt::go_percent(e.score));
    let _ = writeln!(
        s,
        "  wastedBytes: {} bytes ({})",
        e.wasted_bytes,
        human_bytes(e.wasted_bytes)
    );
    let _ = writeln!(
        s,
        "  userWastedPercent: {} %",
        crate::gofmt::go_percent(e.user_wasted_percent)
    );
    let _ = writeln!(s, "Inefficient Files:");
    let _ = writeln!(s, "Count  Wasted Space  File Path");
    // dive lists the files only once the rules validated.
    if e.inefficient.is_empty() || outcome.misconfigured {
        let _ = writeln!(s, "None");
    } else {
        for w in &e.inefficient {
            let _ = writeln!(
                s,
                "{:>5}  {:>12}  {}",
                w.count,
                human_bytes(w.wasted_bytes),
                w.path
            );
        }
    }
    let _ = writeln!(s, "Results:");
    for r in &outcome.results {
        if r.message.is_empty() {
            let _ = writeln!(s, "  {}: {}", r.status.label(), r.rule);
        } else {
            let _ = writeln!(s, "  {}: {}: {}", r.status.label(), r.rule, r.message);
        }
    }
    if outcome.misconfigured {
        let _ = writeln!(s, "CI Misconfigured");
    } else {
        let _ = writeln!(s, "{}", outcome.summary());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(score: f64, wasted: u64, user: f64) -> Efficiency {
        Efficiency {
            score,
            wasted_bytes: wasted,
            wasted_bytes_n_minus_1: wasted,
            size_bytes: 0,
            user_size_bytes: 0,
            user_wasted_percent: user,
            user_wasted_percent_n_minus_1: user,
            inefficient: vec![],
        }
    }

    #[test]
    fn dive_ci_file_values_become_strings_and_flags_win() {
        let f = CiFile::parse(
            "rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20MB\n  \
             highestUserWastedPercent: disabled\n",
            ".dive-ci",
        )
        .unwrap();
        assert_eq!(f.lowest_efficiency.as_deref(), Some("0.95"));
        assert_eq!(f.highest_wasted_bytes.as_deref(), Some("20MB"));
        let flags = CiFile {
            lowest_efficiency: Some("0.5".into()),
            ..CiFile::default()
        };
        let r = CiRules::resolve(&f, &flags);
        assert_eq!(r.lowest_efficiency, "0.5");
        assert_eq!(r.highest_user_wasted_percent, "disabled");
        assert!(CiFile::parse("rules:\n  lowestEfficency: 1\n", "x")
            .unwrap_err()
            .to_string()
            .contains("unknown rule"));
    }

    #[test]
    fn rules_pass_fail_skip_and_summary_line() {
        let rules = CiRules {
            lowest_efficiency: "0.95".into(),
            highest_wasted_bytes: "1kB".into(),
            highest_user_wasted_percent: "disabled".into(),
        };
        let o = evaluate(&rules, &figures(0.9, 2000, 0.5));
        assert!(!o.passed());
        assert_eq!(
            o.summary(),
            "Result:FAIL [Total:3] [Passed:0] [Failed:2] [Warn:0] [Skipped:1]"
        );
        let text = report(&figures(0.9, 2000, 0.5), &o);
        assert!(text.contains(
            "  FAIL: lowestEfficiency: image efficiency is too low (efficiency=0.9 < threshold=0.95)"
        ));
        assert!(text.contains(
            "  FAIL: highestWastedBytes: too many bytes wasted (wasted-bytes=2000 > threshold=1000)"
        ));
        assert!(text.contains("  SKIP: highestUserWastedPercent: rule disabled"));
        let ok = evaluate(&CiRules::default(), &figures(0.99, 10, 0.01));
        assert!(ok.passed());
        assert_eq!(
            ok.summary(),
            "Result:PASS [Total:3] [Passed:2] [Failed:0] [Warn:0] [Skipped:1]"
        );
    }

    #[test]
    fn misconfigured_rules_fail_the_gate() {
        let rules = CiRules {
            lowest_efficiency: "1.5".into(),
            ..CiRules::default()
        };
        let o = evaluate(&rules, &figures(1.0, 0, 0.0));
        assert!(o.misconfigured && !o.passed());
        let text = report(&figures(1.0, 0, 0.0), &o);
        assert!(text.contains(
            "  MISCONFIGURED: lowestEfficiency: lowestEfficiency config value is outside allowed range (0-1), given '1.5'"
        ));
        assert!(text.ends_with("CI Misconfigured\n"));
    }
}
