//! ShellCheck (SC codes) on RUN scripts. This crate prepares each script and maps the
//! findings back to Dockerfile lines; a [`ShellChecker`] (the CLI's runs the
//! `shellcheck` binary) does the checking.
//!
//! Each script is prefixed with one `export NAME=1 …` line for the variables a RUN can see —
//! the proxy variables every build passes through, the stage's ARGs and ENVs — so that
//! ShellCheck neither calls them unassigned nor misses misspellings of them (SC2153).
//! The shell dialect follows the Dockerfile's SHELL (or `# hadolint shell=`).

use strata_dockerfile::InstructionKind;

use crate::model::Model;
use crate::rules::is_posix_shell;
use crate::{Finding, Level};

/// One ShellCheck finding in a script (1-based line in the script given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellIssue {
    pub code: u32,
    pub level: Level,
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// One script to check: its text, first line a shebang naming the dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellScript {
    pub text: String,
    /// `sh`, `bash`, `dash` or `ksh`.
    pub dialect: &'static str,
}

/// Checks scripts; one call per Dockerfile so an implementation can run ShellCheck once
/// over all of them. Returns one list of issues per script, in order.
pub trait ShellChecker {
    fn check_all(&self, scripts: &[ShellScript]) -> Vec<Vec<ShellIssue>>;
}

/// Proxy variables BuildKit passes to every RUN without a declaration.
pub const PREDEFINED: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The ShellCheck dialect for a SHELL, or `None` for shells it cannot check.
pub fn dialect(shell: &[String]) -> Option<&'static str> {
    if !is_posix_shell(shell) {
        return None;
    }
    let first = shell.first().map(String::as_str).unwrap_or("/bin/sh");
    let base = first.rsplit('/').next().unwrap_or(first);
    Some(match base {
        "bash" => "bash",
        "dash" => "dash",
        "ksh" | "mksh" => "ksh",
        // ShellCheck 0.9 checks ash and busybox sh as dash.
        "ash" | "busybox" => "dash",
        "sh" => "sh",
        "zsh" => return None,
        _ => "sh",
    })
}

/// Runs `checker` on every shell-form RUN of `model` and maps findings to lines.
pub(crate) fn run(model: &Model, checker: &dyn ShellChecker) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut scripts = Vec::new();
    let mut owners = Vec::new();
    for (idx, it) in model.items.iter().enumerate() {
        let Some(script) = it.run_script() else {
            continue;
        };
        // An ONBUILD trigger runs in a later build: its own default shell, no ARG/ENV
        // from this file.
        let default_shell = ["/bin/sh".to_string(), "-c".to_string()];
        let shell = if it.onbuild {
            &default_shell[..]
        } else {
            &it.shell[..]
        };
        let Some(dialect) = dialect(shell) else {
            continue;
        };
        let first_line = script.lines().next().unwrap_or("");
        if first_line.starts_with("#!")
            && !["sh", "bash", "dash", "ksh", "ash"]
                .iter()
                .any(|s| first_line.contains(s))
        {
            continue;
        }
        let mut names: Vec<String> = PREDEFINED.iter().map(|s| s.to_string()).collect();
        if !it.onbuild {
            names.extend(visible_vars(model, idx));
        }
        names.sort();
        names.dedup();
        // One line, one command: ShellCheck's time grows with the commands it analyses.
        let preamble: String = format!(
            "export {}\n",
            names
                .iter()
                .map(|n| format!("{n}=1"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        // A script's own shebang would no longer be first: keep the line, drop the text.
        let body = match script.strip_prefix("#!") {
            Some(rest) => rest
                .split_once('\n')
                .map_or(String::new(), |(_, b)| format!("\n{b}")),
            None => script.clone(),
        };
        scripts.push(ShellScript {
            text: format!("#!/bin/{dialect}\n{preamble}{body}\n"),
            dialect,
        });
        // Shebang and preamble lines come before the script's first line.
        owners.push((idx, 2));
    }
    let results = checker.check_all(&scripts);
    for ((idx, offset), issues) in owners.into_iter().zip(results) {
        let it = &model.items[idx];
        let heredoc = it.run_script().is_some_and(|s| {
            it.node
                .heredocs
                .first()
                .is_some_and(|h| h.effective_content() == s)
        });
        for issue in issues {
            // Sourced files are not there to follow (SC1090/SC1091).
            if issue.line <= offset || matches!(issue.code, 1090 | 1091) {
                continue;
            }
            let line = if heredoc {
                it.line + (issue.line - offset)
            } else {
                it.line
            };
            out.push(Finding {
                code: format!("SC{}", issue.code),
                level: issue.level,
                message: issue.message,
                file: String::new(),
                line: line.min(it.end_line),
                column: issue.column,
            });
        }
    }
    out
}

/// ARG and ENV names visible to item `idx`: the stage's (and its bases') declarations
/// before it; global ARGs only when re-declared in the stage, as in a build.
fn visible_vars(model: &Model, idx: usize) -> Vec<String> {
    let it = &model.items[idx];
    let range: Vec<usize> = match it.stage {
        None => (0..idx).collect(),
        Some(s) => {
            let mut chain = model.lineage(s);
            chain.reverse();
            chain
                .into_iter()
                .flat_map(|st| {
                    let start = model.stages[st].from_item + 1;
                    let end = if st == s { idx } else { model.stages[st].end };
                    start..end.max(start)
                })
                .collect()
        }
    };
    let mut out = Vec::new();
    for i in range {
        match &model.items[i].kind {
            Some(InstructionKind::Arg(decls)) => out.extend(decls.iter().map(|d| d.name.clone())),
            Some(InstructionKind::Env(pairs)) => out.extend(pairs.iter().map(|p| p.key.clone())),
            _ => {}
        }
    }
    out
}
