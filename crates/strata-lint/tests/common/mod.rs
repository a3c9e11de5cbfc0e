//! Shared test helpers: locating peer data and running the real `shellcheck`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use strata_lint::shellcheck::{ShellChecker, ShellIssue, ShellScript};
use strata_lint::Level;

/// The shared peer-cases directory: beside the repository (CI) or at /work/shared.
pub fn peer_cases() -> Option<PathBuf> {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer-cases");
    [beside, PathBuf::from("/work/shared/peer-cases")]
        .into_iter()
        .find(|p| p.join("hadolint-cases.json").exists())
}

pub fn in_ci() -> bool {
    std::env::var("STRATA_CI").is_ok_and(|v| v == "1")
}

/// Runs the `shellcheck` binary on a script (JSON output) in the given dialect.
pub struct BinaryShellCheck;

impl BinaryShellCheck {
    pub fn available() -> bool {
        Command::new("shellcheck")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl ShellChecker for BinaryShellCheck {
    fn check_all(&self, scripts: &[ShellScript]) -> Vec<Vec<ShellIssue>> {
        let mut out = vec![Vec::new(); scripts.len()];
        if scripts.is_empty() {
            return out;
        }
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..scripts.len()).map(|i| format!("{i}.sh")).collect();
        for (n, s) in names.iter().zip(scripts) {
            std::fs::write(dir.path().join(n), &s.text).unwrap();
        }
        let output = Command::new("shellcheck")
            .arg("--format=json1")
            .args(&names)
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .output()
            .expect("run shellcheck");
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        for c in v["comments"].as_array().cloned().unwrap_or_default() {
            let Some(i) = c["file"]
                .as_str()
                .and_then(|f| f.strip_suffix(".sh"))
                .and_then(|f| f.parse::<usize>().ok())
            else {
                continue;
            };
            out[i].push(ShellIssue {
                code: c["code"].as_u64().unwrap_or(0) as u32,
                level: Level::parse(c["level"].as_str().unwrap_or("warning"))
                    .unwrap_or(Level::Warning),
                message: c["message"].as_str().unwrap_or("").to_string(),
                line: c["line"].as_u64().unwrap_or(1) as usize,
                column: c["column"].as_u64().unwrap_or(1) as usize,
            });
        }
        out
    }
}
