//! `strata debug …`: developer views of the Dockerfile frontend.
//!
//! `strata debug parse` prints the syntax tree (BuildKit's dump format, or the typed
//! Dockerfile as JSON); `strata debug stages` prints the stage graph for a target.
//! A Dockerfile error exits 1 with the rendered diagnostic.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use strata_dockerfile::scope::{resolve, Base, Platform, ResolveOptions};
use strata_dockerfile::stages::{display_name, EdgeKind, Reference, StageGraph};
use strata_dockerfile::syntax::{dump, parse_syntax};
use strata_dockerfile::{parse, ParseError};

use crate::Global;

#[derive(Subcommand)]
pub enum DebugCommand {
    /// Parse a Dockerfile and print its syntax tree
    Parse {
        /// Output format
        #[arg(long, value_enum, default_value_t = DumpFormat::Buildkit)]
        dump: DumpFormat,
        /// Dockerfile to read ("-" for stdin)
        #[arg(
            short = 'f',
            long = "file",
            default_value = "Dockerfile",
            value_name = "PATH"
        )]
        file: PathBuf,
    },
    /// Print the stage graph: dependencies, the stages a target needs, parallel levels
    Stages {
        /// Stage to build (default: the last stage)
        #[arg(long)]
        target: Option<String>,
        /// Dockerfile to read ("-" for stdin)
        #[arg(
            short = 'f',
            long = "file",
            default_value = "Dockerfile",
            value_name = "PATH"
        )]
        file: PathBuf,
        /// Build-time variable, NAME=value (repeatable)
        #[arg(long = "build-arg", value_name = "NAME=VALUE")]
        build_args: Vec<String>,
        /// Target platform, os/arch[/variant] (default: this host)
        #[arg(long)]
        platform: Option<String>,
        /// Output format
        #[arg(long, value_enum, default_value_t = StagesFormat::Text)]
        format: StagesFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DumpFormat {
    /// BuildKit's `(instruction "arg" …)` S-expressions
    Buildkit,
    /// The typed, validated Dockerfile with spans
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum StagesFormat {
    Text,
    Json,
}

pub fn run(cmd: DebugCommand, _global: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        DebugCommand::Parse { dump: format, file } => {
            let (name, text) = read_dockerfile(&file)?;
            let out = match format {
                DumpFormat::Buildkit => parse_syntax(&text).map(|t| {
                    warn(
                        &name,
                        t.warnings
                            .iter()
                            .map(|w| (w.span.start.line, w.message.as_str())),
                    );
                    dump(&t)
                }),
                DumpFormat::Json => parse(&text, &name).and_then(|df| {
                    warn(
                        &name,
                        df.warnings
                            .iter()
                            .map(|w| (w.span.start.line, w.message.as_str())),
                    );
                    serde_json::to_string_pretty(&df)
                        .map(|s| s + "\n")
                        .map_err(|e| {
                            ParseError::new(strata_dockerfile::ErrorKind::Syntax, e.to_string())
                        })
                }),
            };
            match out {
                Ok(s) => {
                    print!("{s}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(report(e.with_source(&name, &text))),
            }
        }
        DebugCommand::Stages {
            target,
            file,
            build_args,
            platform,
            format,
        } => {
            let (name, text) = read_dockerfile(&file)?;
            let args = parse_build_args(&build_args)?;
            let platform = match platform {
                Some(p) => Some(
                    Platform::parse(&p)
                        .map_err(|e| anyhow::anyhow!("--platform: {}", e.message))?,
                ),
                None => None,
            };
            match stages_report(&name, &text, target.as_deref(), args, platform, format) {
                Ok(s) => {
                    print!("{s}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Ok(report(e)),
            }
        }
    }
}

fn report(e: ParseError) -> ExitCode {
    eprint!("{}", e.render());
    ExitCode::from(1)
}

fn warn<'a>(file: &str, warnings: impl Iterator<Item = (usize, &'a str)>) {
    for (line, msg) in warnings {
        eprintln!("warning: {file}:{line}: {msg}");
    }
}

fn read_dockerfile(path: &PathBuf) -> anyhow::Result<(String, String)> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading Dockerfile from stdin")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

fn parse_build_args(list: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in list {
        match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.insert(k.to_string(), v.to_string()),
            // Like docker: `--build-arg NAME` takes the value from the environment.
            None if !a.is_empty() => match std::env::var(a) {
                Ok(v) => out.insert(a.clone(), v),
                Err(_) => continue,
            },
            _ => anyhow::bail!("--build-arg {a:?}: expected NAME=value"),
        };
    }
    Ok(out)
}

fn stages_report(
    name: &str,
    text: &str,
    target: Option<&str>,
    build_args: BTreeMap<String, String>,
    platform: Option<Platform>,
    format: StagesFormat,
) -> Result<String, ParseError> {
    let df = parse(text, name)?;
    let resolved = resolve(&df, &ResolveOptions::new(build_args, platform))?;
    let graph = StageGraph::new(&df, &resolved)?;
    let target = graph
        .target(target)
        .map_err(|e| e.with_source(name, text))?;
    let required = graph.required(target);
    let levels = graph.levels(target);
    let label = |i: usize| display_name(i, &graph.stages[i].name);
    if let StagesFormat::Json = format {
        let v = serde_json::json!({
            "target": target,
            "stages": graph.stages,
            "required": required,
            "levels": levels,
            "unused_build_args": resolved.unused_build_args,
        });
        return Ok(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n");
    }
    let mut out = String::new();
    for s in &graph.stages {
        let base = match &s.base {
            Base::Scratch => "scratch".to_string(),
            Base::Stage(i) => format!("stage {}", label(*i)),
            Base::Image(r) => format!("image {r}"),
        };
        let mark = if required.contains(&s.index) {
            ""
        } else {
            "  (skipped)"
        };
        out.push_str(&format!(
            "#{} {}: from {base}{mark}\n",
            s.index,
            label(s.index)
        ));
        for e in s.edges.iter().filter(|e| e.kind != EdgeKind::From) {
            let how = if e.kind == EdgeKind::CopyFrom {
                "copy --from"
            } else {
                "mount from"
            };
            let to = match &e.to {
                Reference::Stage(i) => format!("stage {}", label(*i)),
                Reference::Image(r) => format!("image {r}"),
            };
            out.push_str(&format!("    {how} {to} (line {})\n", e.span.start.line));
        }
    }
    out.push_str(&format!("target: {}\n", label(target)));
    out.push_str("build order (stages on one level can run in parallel):\n");
    for (n, level) in levels.iter().enumerate() {
        let names: Vec<String> = level.iter().map(|i| label(*i)).collect();
        out.push_str(&format!("  level {n}: {}\n", names.join(", ")));
    }
    if !resolved.unused_build_args.is_empty() {
        let names: Vec<&str> = resolved
            .unused_build_args
            .iter()
            .map(String::as_str)
            .collect();
        out.push_str(&format!("unused build args: {}\n", names.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_text() {
        let text =
            "FROM alpine AS a\nFROM alpine AS b\nFROM scratch AS c\nCOPY --from=a / /\nFROM b\n";
        let out = stages_report(
            "Dockerfile",
            text,
            Some("c"),
            BTreeMap::new(),
            None,
            StagesFormat::Text,
        )
        .unwrap();
        assert!(
            out.contains("#0 a: from image alpine\n    \n")
                || out.contains("#0 a: from image alpine\n"),
            "{out}"
        );
        assert!(out.contains("#1 b: from image alpine  (skipped)"), "{out}");
        assert!(out.contains("    copy --from stage a (line 4)"), "{out}");
        assert!(out.contains("target: c\n"), "{out}");
        assert!(out.contains("  level 0: a\n  level 1: c\n"), "{out}");
        let e = stages_report(
            "Dockerfile",
            text,
            Some("zz"),
            BTreeMap::new(),
            None,
            StagesFormat::Text,
        )
        .unwrap_err();
        assert!(e
            .render()
            .contains("target stage \"zz\" could not be found"));
    }

    #[test]
    fn build_args_parsing() {
        let a = parse_build_args(&["A=1".into(), "B=".into()]).unwrap();
        assert_eq!(a.get("A").map(String::as_str), Some("1"));
        assert_eq!(a.get("B").map(String::as_str), Some(""));
        assert!(parse_build_args(&["=x".into()]).is_err());
    }
}
