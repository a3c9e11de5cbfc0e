//! `strata lint`: hadolint's DL rules (and ShellCheck's SC codes inside RUN) on
//! Dockerfiles, with hadolint's configuration file, flags, pragmas and output formats.
//!
//! Configuration is read as hadolint reads it: `--config FILE`, else `.hadolint.yaml`
//! (or `.hadolint.yml`) in the working directory, else `$XDG_CONFIG_HOME/hadolint.yaml`;
//! command-line flags are layered on top.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{bail, Context, Result};
use strata_lint::format::{render, Format};
use strata_lint::shellcheck::{ShellChecker, ShellIssue, ShellScript};
use strata_lint::{Config, LabelType, Level};

use crate::Global;

/// Lint Dockerfiles with hadolint's rules
#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// Dockerfiles to lint; - reads STDIN [default: Dockerfile]
    #[arg(value_name = "DOCKERFILE|-")]
    pub files: Vec<String>,
    /// A Dockerfile to lint (repeatable), as `docker build -f`
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Vec<String>,
    /// Configuration file (hadolint's YAML) [default: ./.hadolint.yaml, then
    /// $XDG_CONFIG_HOME/hadolint.yaml]
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format
    #[arg(long, value_parser = Format::NAMES)]
    pub format: Option<String>,
    /// Ignore a rule (repeatable)
    #[arg(long, value_name = "CODE")]
    pub ignore: Vec<String>,
    /// Exit 1 only for findings at this level or above: error, warning, info, style, none
    #[arg(short = 't', long, value_name = "LEVEL")]
    pub failure_threshold: Option<String>,
    /// Allowed registry for FROM images (DL3026; repeatable, `*.domain` allowed)
    #[arg(long, value_name = "REGISTRY")]
    pub trusted_registry: Vec<String>,
    /// Require a label with a value of a type: text, url, semver, hash, rfc3339, spdx, email
    #[arg(long, value_name = "LABEL:TYPE")]
    pub require_label: Vec<String>,
    /// Labels not in the label schema are findings (DL3050)
    #[arg(long)]
    pub strict_labels: bool,
    /// Always exit 0
    #[arg(long)]
    pub no_fail: bool,
    /// Do not honour `# hadolint ignore=` pragmas
    #[arg(long)]
    pub disable_ignore_pragma: bool,
    /// Report these rules as errors (repeatable); likewise --warning, --info, --style
    #[arg(long, value_name = "CODE")]
    pub error: Vec<String>,
    #[arg(long, value_name = "CODE", hide_short_help = true)]
    pub warning: Vec<String>,
    #[arg(long, value_name = "CODE", hide_short_help = true)]
    pub info: Vec<String>,
    #[arg(long, value_name = "CODE", hide_short_help = true)]
    pub style: Vec<String>,
    /// No colours in tty output
    #[arg(long)]
    pub no_color: bool,
}

fn read_config_file(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading lint configuration {}", path.display()))?;
    Config::from_yaml(&text)
        .map_err(|e| anyhow::anyhow!("invalid lint configuration {}: {e}", path.display()))
}

/// The configuration file hadolint would read, if any.
fn find_config(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    for name in [".hadolint.yaml", ".hadolint.yml"] {
        let p = PathBuf::from(name);
        if p.is_file() {
            return Some(p);
        }
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    ["hadolint.yaml", "hadolint.yml"]
        .iter()
        .map(|n| xdg.join(n))
        .find(|p| p.is_file())
}

fn config_from(args: &LintArgs) -> Result<Config> {
    let mut config = match find_config(args.config.as_deref()) {
        Some(p) => read_config_file(&p)?,
        None => Config::default(),
    };
    let mut flags = Config {
        ignored: args.ignore.clone(),
        trusted_registries: args.trusted_registry.clone(),
        strict_labels: args.strict_labels,
        no_fail: args.no_fail,
        disable_ignore_pragma: args.disable_ignore_pragma,
        no_color: args.no_color,
        format: args.format.clone(),
        ..Config::default()
    };
    flags.overrides.error = args.error.clone();
    flags.overrides.warning = args.warning.clone();
    flags.overrides.info = args.info.clone();
    flags.overrides.style = args.style.clone();
    for spec in &args.require_label {
        let (label, ty) = spec
            .split_once(':')
            .with_context(|| format!("invalid --require-label {spec:?}: write LABEL:TYPE"))?;
        let ty: LabelType = serde_json::from_value(serde_json::Value::String(ty.to_string()))
            .map_err(|_| {
                anyhow::anyhow!(
                    "invalid label type {ty:?} in --require-label: use text, url, semver, hash, rfc3339, spdx or email"
                )
            })?;
        flags.label_schema.insert(label.to_string(), ty);
    }
    config = config.merge(flags);
    if let Some(t) = &args.failure_threshold {
        config.failure_threshold = Level::parse(t).with_context(|| {
            format!("invalid --failure-threshold {t:?}: use error, warning, info, style or none")
        })?;
    }
    Ok(config)
}

/// Runs the `shellcheck` binary once over all scripts of a Dockerfile.
struct ShellcheckBinary;

impl ShellcheckBinary {
    fn available() -> bool {
        Command::new("shellcheck")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl ShellcheckBinary {
    /// One `shellcheck` process over `scripts` (written as files 0.sh, 1.sh, … in `dir`).
    fn check_chunk(dir: &Path, first: usize, scripts: &[ShellScript]) -> Vec<Vec<ShellIssue>> {
        let mut out = vec![Vec::new(); scripts.len()];
        let names: Vec<String> = (first..first + scripts.len())
            .map(|i| format!("{i}.sh"))
            .collect();
        for (n, s) in names.iter().zip(scripts) {
            if std::fs::write(dir.join(n), &s.text).is_err() {
                return out;
            }
        }
        let Ok(output) = Command::new("shellcheck")
            .arg("--format=json1")
            .args(&names)
            .current_dir(dir)
            .stderr(Stdio::null())
            .output()
        else {
            return out;
        };
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        for c in v["comments"].as_array().into_iter().flatten() {
            let Some(i) = c["file"]
                .as_str()
                .and_then(|f| f.strip_suffix(".sh"))
                .and_then(|f| f.parse::<usize>().ok())
                .and_then(|i| i.checked_sub(first))
                .filter(|i| *i < out.len())
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

impl ShellChecker for ShellcheckBinary {
    /// Splits the scripts over one shellcheck process per core (ShellCheck is
    /// single-threaded); small files stay in one process.
    fn check_all(&self, scripts: &[ShellScript]) -> Vec<Vec<ShellIssue>> {
        if scripts.is_empty() {
            return Vec::new();
        }
        let Ok(dir) = tempfile::tempdir() else {
            return vec![Vec::new(); scripts.len()];
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = scripts.len().div_ceil(cores).max(32);
        std::thread::scope(|scope| {
            let handles: Vec<_> = scripts
                .chunks(chunk)
                .enumerate()
                .map(|(n, part)| {
                    let dir = dir.path();
                    let handle = scope.spawn(move || Self::check_chunk(dir, n * chunk, part));
                    (part.len(), handle)
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|(len, h)| h.join().unwrap_or_else(|_| vec![Vec::new(); len]))
                .collect()
        })
    }
}

/// Collects the scripts of every Dockerfile so ShellCheck starts once for all of them.
#[derive(Default)]
struct Recorder(RefCell<Vec<ShellScript>>);

impl ShellChecker for Recorder {
    fn check_all(&self, scripts: &[ShellScript]) -> Vec<Vec<ShellIssue>> {
        self.0.borrow_mut().extend_from_slice(scripts);
        vec![Vec::new(); scripts.len()]
    }
}

/// Hands out the issues found for the recorded scripts, in the same order.
struct Replay(RefCell<VecDeque<Vec<ShellIssue>>>);

impl ShellChecker for Replay {
    fn check_all(&self, scripts: &[ShellScript]) -> Vec<Vec<ShellIssue>> {
        let mut q = self.0.borrow_mut();
        (0..scripts.len())
            .map(|_| q.pop_front().unwrap_or_default())
            .collect()
    }
}

pub fn run(args: LintArgs, _global: &Global) -> Result<ExitCode> {
    let config = config_from(&args)?;
    let format_name = config.format.clone().unwrap_or_else(|| "tty".into());
    let format = Format::parse(&format_name).with_context(|| {
        format!(
            "unknown lint format {format_name:?}: use one of {}",
            Format::NAMES.join(", ")
        )
    })?;
    let mut files: Vec<String> = args.file.clone();
    files.extend(args.files.iter().cloned());
    if files.is_empty() {
        files.push("Dockerfile".into());
    }
    if files.iter().filter(|f| *f == "-").count() > 1 {
        bail!("STDIN (-) can be linted only once");
    }
    let shellcheck = ShellcheckBinary::available();
    if !shellcheck {
        eprintln!("strata lint: shellcheck not found; SC checks inside RUN were skipped");
    }
    let mut sources: Vec<(String, String)> = Vec::new();
    for file in &files {
        let text = if file == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the Dockerfile from STDIN")?;
            s
        } else {
            std::fs::read_to_string(file).with_context(|| format!("reading Dockerfile {file}"))?
        };
        sources.push((file.clone(), text));
    }
    // With ShellCheck: a first pass records every RUN script of every file, one batch of
    // shellcheck processes checks them all, a second pass maps the issues back.
    let replay = if shellcheck {
        let recorder = Recorder::default();
        for (file, text) in &sources {
            strata_lint::lint_with(text, file, &config, Some(&recorder));
        }
        let issues = ShellcheckBinary.check_all(&recorder.0.into_inner());
        Some(Replay(RefCell::new(issues.into())))
    } else {
        None
    };
    let mut findings = Vec::new();
    for (file, text) in &sources {
        let sc = replay.as_ref().map(|r| r as &dyn ShellChecker);
        findings.extend(strata_lint::lint_with(text, file, &config, sc));
    }
    let sources: BTreeMap<String, String> = sources.into_iter().collect();
    let color = format == Format::Tty
        && !config.no_color
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::stdout().is_terminal();
    print!("{}", render(format, &findings, &sources, color));
    let failed = !config.no_fail && strata_lint::fails(&findings, config.failure_threshold);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
