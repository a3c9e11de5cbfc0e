//! ARG/ENV scoping and word expansion: turns a [`Dockerfile`] plus build args and platforms
//! into per-stage resolved steps, following BuildKit's rules:
//!
//! - ARGs before the first FROM are global ("meta") args, visible only in FROM lines
//!   unless a stage re-declares them with a bare `ARG NAME`;
//! - a `--build-arg` overrides an ARG default; ENV overrides an ARG of the same name;
//! - the platform args (`TARGETPLATFORM`, `BUILDARCH`, …) are automatic in FROM lines and
//!   inside a stage once declared; proxy args (`HTTP_PROXY`, …) reach RUN without a
//!   declaration; `BUILDKIT_*` args are handed to the builder;
//! - ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR expand
//!   their words; RUN, CMD, ENTRYPOINT, HEALTHCHECK, SHELL and ONBUILD do not (the shell
//!   does it at run time, with the args and ENV in its environment).
//!
//! Every step reports the args it used, so the build cache can key on exactly those.

mod expand;
mod platform;
mod validate;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use platform::{platform_args, Platform};

use crate::ast::{Dockerfile, Instruction, InstructionKind};
use crate::error::ParseError;
use crate::shell::Lexer;

/// Build args that reach RUN steps without an ARG declaration (and stay out of history).
pub const PROXY_ARGS: [&str; 10] = [
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

/// Inputs of a resolution.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// `--build-arg NAME=value` pairs.
    pub build_args: BTreeMap<String, String>,
    pub target_platform: Platform,
    pub build_platform: Platform,
    /// ENV of external base images (keyed by the expanded FROM reference), when the caller
    /// knows it: later words in the stage may refer to it.
    pub image_env: BTreeMap<String, Vec<(String, String)>>,
    /// `SHELL` of external base images (keyed like `image_env`): a stage's shell-form RUN
    /// uses its base's shell until the stage sets its own.
    pub image_shell: BTreeMap<String, Vec<String>>,
}

impl ResolveOptions {
    /// Options for building on this host for `target` (the host platform when `None`).
    pub fn new(build_args: BTreeMap<String, String>, target: Option<Platform>) -> Self {
        let host = Platform::host();
        ResolveOptions {
            build_args,
            target_platform: target.unwrap_or_else(|| host.clone()),
            build_platform: host,
            image_env: BTreeMap::new(),
            image_shell: BTreeMap::new(),
        }
    }
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image reference, expanded.
    Image(String),
}

/// One instruction with its words expanded.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub instruction: Instruction,
    /// Build args this step depends on (looked up during expansion, or in RUN's environment).
    pub used_args: BTreeSet<String>,
    /// Args with values in scope that the step depends on. RUN gets all of them (and proxy
    /// args) as environment variables, under `env` (an ENV of the same name wins).
    pub args: Vec<(String, String)>,
    /// ENV in effect for this step (after it, for ENV steps).
    pub env: Vec<(String, String)>,
    /// The shell for shell-form RUN/CMD/ENTRYPOINT (`SHELL`, default `/bin/sh -c`).
    pub shell: Vec<String>,
    /// What BuildKit's history shows of the stage's args for this step. ARG: each
    /// declaration with its default (expanded), `None` without one. RUN: every arg the stage
    /// declared so far, in declaration order, with the value the step sees (an ENV of the
    /// same name wins, an arg without a value is empty).
    pub history_args: Vec<(String, Option<String>)>,
}

/// A stage with its base resolved and its steps expanded.
#[derive(Debug, Clone, Serialize)]
pub struct ResolvedStage {
    pub index: usize,
    pub name: Option<String>,
    pub base: Base,
    /// Expanded `FROM --platform`.
    pub platform: Option<Platform>,
    /// Args the FROM line used.
    pub from_used_args: BTreeSet<String>,
    pub steps: Vec<Step>,
    /// ENV at the end of the stage (inherited by stages built on this one).
    pub env: Vec<(String, String)>,
    /// SHELL at the end of the stage (inherited by stages built on this one).
    pub shell: Vec<String>,
}

/// The whole resolved file.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    /// Global args with values.
    pub meta_args: Vec<(String, String)>,
    pub stages: Vec<ResolvedStage>,
    /// `BUILDKIT_*` build args and `SOURCE_DATE_EPOCH`, for the builder to interpret.
    pub buildkit_args: BTreeMap<String, String>,
    /// Build args no ARG declared (BuildKit warns about these).
    pub unused_build_args: BTreeSet<String>,
}

impl Resolved {
    /// Finds a stage by (case-insensitive) name or by index.
    pub fn stage_index(&self, name_or_index: &str) -> Option<usize> {
        let lower = name_or_index.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                name_or_index
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i < self.stages.len())
            })
    }
}

/// Variables visible to expansion: ENV first, then args with values.
pub(crate) struct ScopeEnv<'a> {
    pub env: &'a [(String, String)],
    pub args: &'a [(String, String)],
}

impl crate::shell::Env for ScopeEnv<'_> {
    fn get(&self, name: &str) -> Option<String> {
        crate::shell::Env::get(self.env, name).or_else(|| crate::shell::Env::get(self.args, name))
    }
}

fn set(list: &mut Vec<(String, String)>, key: &str, value: String) {
    list.retain(|(k, _)| k != key);
    list.push((key.to_string(), value));
}

/// Resolves every stage of `df`.
pub fn resolve(df: &Dockerfile, opts: &ResolveOptions) -> Result<Resolved, ParseError> {
    resolve_inner(df, opts).map_err(|e| e.with_source(&df.file, &df.source))
}

fn resolve_inner(df: &Dockerfile, opts: &ResolveOptions) -> Result<Resolved, ParseError> {
    let lexer = Lexer::new(df.escape);
    let auto_args = platform_args(&opts.target_platform, &opts.build_platform);
    let platform_names: BTreeSet<String> = auto_args.iter().map(|(k, _)| k.clone()).collect();
    let mut declared: BTreeSet<String> = BTreeSet::new();

    // Global args: platform args are automatic; declared ones take build args or defaults.
    let mut meta: Vec<(String, String)> = auto_args.clone();
    let mut meta_declared: Vec<(String, Option<String>)> = Vec::new();
    for inst in &df.global_args {
        let InstructionKind::Arg(decls) = &inst.kind else {
            continue;
        };
        for d in decls {
            declared.insert(d.name.clone());
            let value = match (opts.build_args.get(&d.name), &d.default) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(def)) => {
                    let env = ScopeEnv {
                        env: &[],
                        args: &meta,
                    };
                    Some(expand::word(&lexer, def, &env, inst.span)?.value)
                }
                (None, None) => None,
            };
            if let Some(v) = &value {
                set(&mut meta, &d.name, v.clone());
            }
            meta_declared.push((d.name.clone(), value));
        }
    }

    let mut stages: Vec<ResolvedStage> = Vec::new();
    for stage in &df.stages {
        let meta_env = ScopeEnv {
            env: &[],
            args: &meta,
        };
        let image = expand::word(&lexer, &stage.from.image, &meta_env, stage.span)?;
        let mut from_used = image.used.clone();
        let platform = match &stage.from.platform {
            Some(p) => {
                let e = expand::word(&lexer, p, &meta_env, stage.span)?;
                from_used.extend(e.used);
                Some(Platform::parse(&e.value).map_err(|err| err.at(stage.span))?)
            }
            None => None,
        };
        let from_used: BTreeSet<String> = from_used
            .into_iter()
            .filter(|n| meta.iter().any(|(k, _)| k == n) || declared.contains(n))
            .collect();
        let lower = image.value.to_ascii_lowercase();
        let base = if lower == "scratch" {
            Base::Scratch
        } else if let Some(i) = stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            Base::Stage(i)
        } else {
            Base::Image(image.value.clone())
        };
        let mut env: Vec<(String, String)> = match &base {
            Base::Stage(i) => stages[*i].env.clone(),
            Base::Image(r) => opts.image_env.get(r).cloned().unwrap_or_default(),
            Base::Scratch => Vec::new(),
        };
        let mut args: Vec<(String, String)> = Vec::new();
        // The shell, like every config field, comes from the base.
        let mut shell = match &base {
            Base::Stage(i) => Some(stages[*i].shell.clone()),
            Base::Image(r) => opts.image_shell.get(r).cloned(),
            Base::Scratch => None,
        }
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".to_string(), "-c".to_string()]);
        // Args declared in this stage, in order, with their values (for RUN's history).
        let mut declared_here: Vec<(String, Option<String>)> = Vec::new();
        let mut steps = Vec::new();
        for inst in &stage.instructions {
            let mut ctx = expand::StepCtx {
                lexer: &lexer,
                env: &mut env,
                args: &mut args,
                used: BTreeSet::new(),
            };
            let mut history_args = Vec::new();
            let kind = match &inst.kind {
                InstructionKind::Arg(decls) => {
                    for d in decls {
                        // History shows the default as written, expanded, even when a build
                        // arg overrides it; that lookup is not a dependency of the step.
                        let shown = match &d.default {
                            Some(def) => {
                                let before = ctx.used.clone();
                                let v = ctx.expand(def, inst.span)?;
                                ctx.used = before;
                                Some(v)
                            }
                            None => None,
                        };
                        history_args.push((d.name.clone(), shown));
                        declared.insert(d.name.clone());
                        let value = if let Some(v) = opts
                            .build_args
                            .get(&d.name)
                            .filter(|_| !platform_names.contains(&d.name))
                        {
                            ctx.used.insert(d.name.clone());
                            Some(v.clone())
                        } else if let Some(def) = &d.default {
                            Some(ctx.expand(def, inst.span)?)
                        } else if let Some((_, v)) = auto_args.iter().find(|(k, _)| *k == d.name) {
                            Some(v.clone())
                        } else {
                            let global = meta_declared.iter().rev().find(|(k, _)| *k == d.name);
                            global.and_then(|(_, v)| v.clone()).inspect(|_| {
                                ctx.used.insert(d.name.clone());
                            })
                        };
                        ctx.args.retain(|(k, _)| *k != d.name);
                        declared_here.push((d.name.clone(), value.clone()));
                        if let Some(v) = value {
                            ctx.args.push((d.name.clone(), v));
                        }
                    }
                    inst.kind.clone()
                }
                InstructionKind::Shell(argv) => {
                    shell = argv.clone();
                    inst.kind.clone()
                }
                other => ctx.expand_kind(other, inst.span)?,
            };
            let mut used = std::mem::take(&mut ctx.used);
            let mut step_args = args.clone();
            if let InstructionKind::Run(_) = kind {
                // RUN sees every arg with a value, and proxy build args, in its environment.
                for p in PROXY_ARGS {
                    if let Some(v) = opts.build_args.get(p) {
                        if !step_args.iter().any(|(k, _)| k == p) {
                            step_args.push((p.to_string(), v.clone()));
                        }
                    }
                }
                used = step_args.iter().map(|(k, _)| k.clone()).collect();
                history_args = declared_here
                    .iter()
                    .map(|(k, v)| {
                        let shown = env
                            .iter()
                            .rev()
                            .find(|(e, _)| e == k)
                            .map(|(_, v)| v.clone())
                            .or_else(|| v.clone())
                            .unwrap_or_default();
                        (k.clone(), Some(shown))
                    })
                    .collect();
            } else {
                // Only args count; a name ENV provides is not an arg dependency.
                used.retain(|n| {
                    args.iter().any(|(k, _)| k == n) && !env.iter().any(|(k, _)| k == n)
                });
                step_args.retain(|(k, _)| used.contains(k));
            }
            steps.push(Step {
                instruction: Instruction {
                    kind,
                    span: inst.span,
                    original: inst.original.clone(),
                },
                used_args: used,
                args: step_args,
                env: env.clone(),
                shell: shell.clone(),
                history_args,
            });
        }
        stages.push(ResolvedStage {
            index: stage.index,
            name: stage.name.clone(),
            base,
            platform,
            from_used_args: from_used,
            steps,
            env,
            shell,
        });
    }

    let buildkit_args = opts
        .build_args
        .iter()
        .filter(|(k, _)| k.starts_with("BUILDKIT_") || *k == "SOURCE_DATE_EPOCH")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let unused_build_args = opts
        .build_args
        .keys()
        .filter(|k| {
            !declared.contains(*k)
                && !k.starts_with("BUILDKIT_")
                && *k != "SOURCE_DATE_EPOCH"
                && !PROXY_ARGS.contains(&k.as_str())
                && !platform_names.contains(*k)
        })
        .cloned()
        .collect();
    let meta_args = meta_declared
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    Ok(Resolved {
        meta_args,
        stages,
        buildkit_args,
        unused_build_args,
    })
}
