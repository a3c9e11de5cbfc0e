//! Dockerfile lint: hadolint's DL rules and BuildKit's build checks over strata's own
//! Dockerfile front end (BuildKit's grammar, real ARG/ENV expansion, the stage graph).
//!
//! - [`lint`] runs the DL rules on one file and applies pragmas and configuration;
//! - [`buildcheck::check`] runs BuildKit's build checks (used by `strata build`);
//! - [`format`] renders findings as tty, json, sarif, checkstyle, codeclimate,
//!   gitlab_codeclimate, gnu or junit;
//! - [`shellcheck`] maps ShellCheck findings on RUN scripts back to Dockerfile lines
//!   (the caller runs the binary: this crate does no I/O).
//!
//! ```
//! use strata_lint::{lint, Config, Level};
//!
//! let findings = lint("FROM debian\nRUN cd /tmp && apt-get install curl\n", "Dockerfile", &Config::default());
//! let codes: Vec<_> = findings.iter().map(|f| (f.code.as_str(), f.line)).collect();
//! assert!(codes.contains(&("DL3006", 1)));
//! assert!(codes.contains(&("DL3003", 2)));
//! assert!(findings.iter().all(|f| f.level != Level::Ignore));
//! ```

pub mod buildcheck;
pub mod config;
pub mod format;
mod model;
mod pragma;
mod rules;
pub mod shell;
pub mod shellcheck;

use serde::Serialize;

pub use config::{Config, LabelType};
pub use model::Model;
pub use rules::{rule_info, RuleInfo, RULES};

/// hadolint's severities, most severe first. `Ignore` findings are not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Info,
    Style,
    Ignore,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "error" => Level::Error,
            "warning" => Level::Warning,
            "info" => Level::Info,
            "style" => Level::Style,
            "ignore" | "none" => Level::Ignore,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Style => "style",
            Level::Ignore => "ignore",
        }
    }
}

/// One rule violation at a Dockerfile line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: String,
    pub level: Level,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// Lints `text` with every DL rule, then applies pragmas and `config` (ignored rules,
/// level overrides; findings at level `ignore` are dropped). A file that does not parse
/// gives one `DL1000` error naming the line and the parser's message.
pub fn lint(text: &str, file: &str, config: &Config) -> Vec<Finding> {
    lint_with(text, file, config, None)
}

/// As [`lint`], with ShellCheck findings on RUN scripts from `shellcheck` (SC codes).
pub fn lint_with(
    text: &str,
    file: &str,
    config: &Config,
    shellcheck: Option<&dyn shellcheck::ShellChecker>,
) -> Vec<Finding> {
    let mut findings = lint_all(text, file, config, shellcheck);
    findings.retain(|f| f.level != Level::Ignore);
    findings
}

/// As [`lint`], but keeps findings whose level is `ignore` (rules that are off by
/// default, such as DL3057); the rule test-suite looks at those too.
pub fn lint_all(
    text: &str,
    file: &str,
    config: &Config,
    shellcheck: Option<&dyn shellcheck::ShellChecker>,
) -> Vec<Finding> {
    let model = match Model::parse(text) {
        Ok(m) => m,
        Err(e) => {
            return vec![Finding {
                code: "DL1000".into(),
                level: Level::Error,
                message: e.message.clone(),
                file: file.to_string(),
                line: e.span.map_or(1, |s| s.start.line),
                column: e.span.map_or(1, |s| s.start.column),
            }]
        }
    };
    let mut raw = rules::run(&model, config);
    // What BuildKit would refuse (an unknown flag, a bad argument count) is an error too.
    raw.extend(model.invalid.iter().map(|(line, column, message)| Finding {
        code: "DL1000".into(),
        level: Level::Error,
        message: message.clone(),
        file: String::new(),
        line: *line,
        column: *column,
    }));
    if let Some(sc) = shellcheck {
        raw.extend(shellcheck::run(&model, sc));
    }
    let pragmas = pragma::Pragmas::read(&model);
    let mut out: Vec<Finding> = raw
        .into_iter()
        .filter(|f| !config.ignored.iter().any(|c| c == &f.code))
        .filter(|f| config.disable_ignore_pragma || !pragmas.ignores(&model, f.line, &f.code))
        .map(|f| {
            let default = rule_info(&f.code).map_or(f.level, |i| i.level);
            let level = config.level_override(&f.code).unwrap_or(default);
            Finding {
                level,
                file: file.to_string(),
                ..f
            }
        })
        .collect();
    out.sort_by(|a, b| (a.line, &a.code).cmp(&(b.line, &b.code)));
    out.dedup();
    out
}

/// True when any finding is at least as severe as `threshold` (`Ignore` = "none":
/// nothing fails).
pub fn fails(findings: &[Finding], threshold: Level) -> bool {
    threshold != Level::Ignore && findings.iter().any(|f| f.level <= threshold)
}
