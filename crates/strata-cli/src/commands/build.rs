//! `strata build`: build an image from a Dockerfile and a context, with docker's flags.
//!
//! This module turns the command line into [`strata_build::BuildOptions`], runs the
//! builder with a progress renderer ([`progress`]), then delivers the result: tags in the
//! store, `--iidfile`, or an `-o` export ([`export`]). Inputs (directory, stdin tar,
//! stdin Dockerfile, `.dockerignore`) are resolved by [`source`]; option values by [`args`].

mod args;
mod checks;
mod export;
mod progress;
mod pull_bases;
mod remote_cache;
mod source;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use strata_build::BuildOptions;
use strata_store::TagRef;

use super::archive_common::open_store;
use crate::Global;
use args::Output;
use progress::{Mode, Renderer};

/// Build an image from a Dockerfile
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Build context: a directory, or - to read a tar (or a lone Dockerfile) from STDIN
    #[arg(value_name = "PATH|-")]
    pub context: String,
    /// Name and optionally a tag (name:tag); repeatable
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile [default: PATH/Dockerfile]; - reads it from STDIN
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<String>,
    /// Set a build-time variable (K=V, or K to take its value from the environment)
    #[arg(long = "build-arg", value_name = "K[=V]")]
    pub build_args: Vec<String>,
    /// Build this stage and stop
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the cache
    #[arg(long)]
    pub no_cache: bool,
    /// Do not use the cache for these stages
    #[arg(long, value_name = "STAGE", value_delimiter = ',')]
    pub no_cache_filter: Vec<String>,
    /// Set metadata on the image (K=V)
    #[arg(long = "label", value_name = "K=V")]
    pub labels: Vec<String>,
    /// Target platform (one os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Networking mode for RUN steps: default, none or host
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Secret for RUN --mount=type=secret: id=ID,src=PATH | id=ID,env=VAR
    #[arg(long = "secret", value_name = "SPEC")]
    pub secrets: Vec<String>,
    /// SSH agent socket for RUN --mount=type=ssh: default | ID=PATH
    #[arg(long = "ssh", value_name = "SPEC")]
    pub ssh: Vec<String>,
    /// Extra privileges: security.insecure (for RUN --security=insecure)
    #[arg(long = "allow", value_name = "ENTITLEMENT")]
    pub allow: Vec<String>,
    /// Output: type=image (default) | type=local,dest=DIR | type=tar,dest=FILE |
    /// type=oci,dest=FILE | type=docker,dest=FILE | DIR
    #[arg(short = 'o', long = "output", value_name = "SPEC")]
    pub outputs: Vec<String>,
    /// Write the image ID to this file
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Progress output: auto, plain, tty or quiet
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Print only the image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Size of /dev/shm in RUN steps (e.g. 64m)
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Ulimit for RUN steps (name=soft[:hard])
    #[arg(long = "ulimit", value_name = "ULIMIT")]
    pub ulimits: Vec<String>,
    /// Explain why steps missed the cache
    #[arg(long)]
    pub explain_cache: bool,
    /// Import build cache: type=registry,ref=REF | type=local,src=DIR | REF
    #[arg(long = "cache-from", value_name = "SPEC")]
    pub cache_from: Vec<String>,
    /// Export build cache: type=registry,ref=REF | type=local,dest=DIR [,mode=min|max]
    #[arg(long = "cache-to", value_name = "SPEC")]
    pub cache_to: Vec<String>,
    /// Run BuildKit's build checks only, without building (exit 1 on warnings)
    #[arg(long)]
    pub check: bool,
    /// Always look for a newer version of the base images in their registries
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub pull: Option<bool>,
    /// Add a custom host-to-IP mapping to RUN steps' /etc/hosts (host:ip)
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_hosts: Vec<String>,
    /// Accepted for docker compatibility: strata leaves no intermediate containers
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub rm: Option<bool>,
    /// Accepted for docker compatibility: strata leaves no intermediate containers
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub force_rm: Option<bool>,
    /// Accepted for docker compatibility: a local build sends no context to compress
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub compress: Option<bool>,
    /// Memory limit for RUN steps (e.g. 512m)
    #[arg(short = 'm', long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Memory plus swap limit for RUN steps; -1 for unlimited swap
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight) for RUN steps
    #[arg(long, value_name = "N")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS period for RUN steps (microseconds)
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota for RUN steps (microseconds)
    #[arg(long, value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs RUN steps may use (0-3, 0,1)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes RUN steps may use (0-3, 0,1)
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    #[command(flatten)]
    pub unsupported: Unsupported,
}

/// Flags docker has that strata does not implement: accepted by the parser so the error
/// names them instead of clap's "unexpected argument".
#[derive(clap::Args, Debug, Default)]
pub struct Unsupported {
    #[arg(
        long,
        hide = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    push: Option<String>,
    #[arg(
        long,
        hide = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    load: Option<String>,
    #[arg(
        long,
        hide = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    squash: Option<String>,
    #[arg(long, hide = true)]
    build_context: Vec<String>,
    #[arg(long, hide = true)]
    cgroup_parent: Option<String>,
    #[arg(long, hide = true)]
    isolation: Option<String>,
    #[arg(long, hide = true)]
    security_opt: Vec<String>,
    #[arg(long, hide = true)]
    builder: Option<String>,
    #[arg(long, hide = true)]
    attest: Vec<String>,
    #[arg(long, hide = true)]
    sbom: Option<String>,
    #[arg(long, hide = true)]
    provenance: Option<String>,
    #[arg(long, hide = true)]
    metadata_file: Option<String>,
    #[arg(long, hide = true)]
    annotation: Vec<String>,
}

impl Unsupported {
    /// The first unsupported flag that was given, by its docker name.
    fn first(&self) -> Option<&'static str> {
        let set: [(&'static str, bool); 13] = [
            ("--push", self.push.is_some()),
            ("--load", self.load.is_some()),
            ("--squash", self.squash.is_some()),
            ("--build-context", !self.build_context.is_empty()),
            ("--cgroup-parent", self.cgroup_parent.is_some()),
            ("--isolation", self.isolation.is_some()),
            ("--security-opt", !self.security_opt.is_empty()),
            ("--builder", self.builder.is_some()),
            ("--attest", !self.attest.is_empty()),
            ("--sbom", self.sbom.is_some()),
            ("--provenance", self.provenance.is_some()),
            ("--metadata-file", self.metadata_file.is_some()),
            ("--annotation", !self.annotation.is_empty()),
        ];
        set.iter().find(|(_, given)| *given).map(|(name, _)| *name)
    }
}

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// Everything decided from the command line before the store is touched.
struct Plan {
    mode: Mode,
    quiet: bool,
    output: Output,
    tags: Vec<TagRef>,
}

fn plan(a: &BuildArgs) -> Result<Plan> {
    if let Some(flag) = a.unsupported.first() {
        bail!("{flag} is not supported by strata build");
    }
    let quiet = a.quiet || a.progress == "quiet";
    let mode = match a.progress.as_str() {
        _ if quiet => Mode::Quiet,
        "plain" => Mode::Plain,
        "tty" => Mode::Tty,
        "auto" => {
            if std::io::stderr().is_terminal() {
                Mode::Tty
            } else {
                Mode::Plain
            }
        }
        other => bail!("--progress {other} is not supported; use auto, plain, tty or quiet"),
    };
    if a.outputs.len() > 1 {
        bail!("only one --output is supported");
    }
    let output = match a.outputs.first() {
        Some(o) => args::output(o)?,
        None => Output::Image { names: Vec::new() },
    };
    let mut names: Vec<String> = a.tags.clone();
    if let Output::Image { names: n } | Output::Archive { names: n, .. } = &output {
        names.extend(n.iter().cloned());
    }
    let tags = names
        .iter()
        .map(|t| TagRef::parse(t).with_context(|| format!("invalid tag {t:?}")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Plan {
        mode,
        quiet,
        output,
        tags,
    })
}

/// `--memory`, `--memory-swap`, `--cpu-*` as cgroup limits runc applies.
fn limits(a: &BuildArgs) -> Result<strata_exec::ResourceLimits> {
    let bytes = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        match v.as_deref() {
            None => Ok(None),
            Some("-1") => Ok(Some(-1)),
            Some(v) => {
                let n = args::size(v).with_context(|| format!("invalid {flag} {v:?}"))?;
                i64::try_from(n)
                    .map(Some)
                    .with_context(|| format!("{flag} {v} is too large"))
            }
        }
    };
    let memory = bytes("--memory", &a.memory)?;
    if memory.is_some_and(|m| m != -1 && m < 6 << 20) {
        bail!("--memory: minimum memory limit allowed is 6MB");
    }
    let memory_swap = bytes("--memory-swap", &a.memory_swap)?;
    if memory_swap.is_some() && memory.is_none() {
        bail!("--memory-swap needs --memory as well");
    }
    Ok(strata_exec::ResourceLimits {
        memory,
        memory_swap,
        cpu_shares: a.cpu_shares,
        cpu_quota: a.cpu_quota,
        cpu_period: a.cpu_period,
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
    })
}

fn options(a: &BuildArgs, src: &source::Source) -> Result<BuildOptions> {
    let platform = match &a.platform {
        Some(p) if p.contains(',') => {
            bail!("--platform {p}: building for more than one platform is not supported")
        }
        Some(p) => Some(
            strata_dockerfile::scope::Platform::parse(p)
                .map_err(|e| anyhow::anyhow!("invalid --platform {p:?}: {e}"))?,
        ),
        None => None,
    };
    let source_date_epoch = match env_var("SOURCE_DATE_EPOCH").filter(|v| !v.is_empty()) {
        Some(v) => Some(
            v.parse::<i64>()
                .with_context(|| format!("invalid SOURCE_DATE_EPOCH {v:?}: not a number"))?,
        ),
        None => None,
    };
    let build_args = args::build_args(&a.build_args, env_var)?;
    if let Some(v) = build_args.get("SOURCE_DATE_EPOCH") {
        v.parse::<i64>()
            .with_context(|| format!("invalid --build-arg SOURCE_DATE_EPOCH={v}: not a number"))?;
    }
    let ulimits = a
        .ulimits
        .iter()
        .map(|u| {
            strata_exec::Ulimit::parse(u).map_err(|e| anyhow::anyhow!("invalid --ulimit {u}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(BuildOptions {
        dockerfile: src.dockerfile.clone(),
        dockerfile_name: src.dockerfile_name.clone(),
        dockerfile_id: src.dockerfile_id.clone(),
        context_dir: src.context_dir.clone(),
        ignore_patterns: src.ignore_patterns.clone(),
        build_args,
        target: a.target.clone(),
        platform,
        no_cache: a.no_cache,
        no_cache_filter: a.no_cache_filter.clone(),
        labels: args::labels(&a.labels)?,
        network: args::network(&a.network)?,
        secrets: args::secrets(&a.secrets)?,
        ssh: args::ssh(&a.ssh, env_var)?,
        allow_insecure: args::allow_insecure(&a.allow)?,
        shm_size: a.shm_size.as_deref().map(args::size).transpose()?,
        extra_hosts: args::add_hosts(&a.add_hosts)?,
        limits: limits(a)?,
        ulimits,
        source_date_epoch,
        explain: a.explain_cache,
        parallelism: 0,
        output_only: false,
    })
}

pub fn run(a: BuildArgs, global: &Global) -> Result<ExitCode> {
    let plan = plan(&a)?;
    let store = open_store(global)?;
    let scratch = store.root().join("build-v1/tmp");
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let src = source::resolve(&a.context, a.file.as_deref(), &scratch)?;
    let mut opts = options(&a, &src)?;
    opts.output_only = !matches!(plan.output, Output::Image { .. });
    let report = checks::run(&opts)?;
    if a.check {
        eprint!("{}", checks::check_only(&report, &opts));
        return Ok(if report.warnings.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if let Some(violation) = strata_lint::buildcheck::violation_error(&report) {
        eprint!("{}", checks::summary(&report, &opts));
        bail!("failed to solve: {violation}");
    }
    if a.pull == Some(true) {
        let bases = strata_build::plan::base_references(
            &opts.dockerfile,
            &opts.dockerfile_name,
            &opts.build_args,
            opts.target.as_deref(),
            opts.platform.clone(),
        )
        .map_err(|e| anyhow::anyhow!("failed to solve: {e}"))?;
        pull_bases::pull_bases(&store, &bases, a.platform.as_deref(), plan.quiet)?;
    }
    let mut caches = remote_cache::Caches::open(&a.cache_from, &a.cache_to)?;
    let renderer = Renderer::new(plan.mode, a.explain_cache);
    let outcome = match strata_build::build_with_cache(&store, &opts, &renderer, caches.source()) {
        Ok(o) => o,
        Err(e) => {
            renderer.finish(&[]);
            caches.print_warnings();
            eprint!("{}", checks::summary(&report, &opts));
            bail!("failed to solve: {e}");
        }
    };
    let id = outcome.image.id.to_string();
    let mut lines = Vec::new();
    match &plan.output {
        Output::Image { .. } => {
            for t in &plan.tags {
                store
                    .tag(&t.key(), &outcome.image.manifest_digest)
                    .with_context(|| format!("tagging {}", t.key()))?;
                lines.push(format!("naming to {}", t.key()));
            }
        }
        Output::Local { dest } => {
            export::rootfs_to_dir(&store, &outcome, dest, &scratch)?;
            lines.push(format!("copying files to {}", dest.display()));
        }
        Output::Tar { dest } => {
            export::rootfs_to_tar(&store, &outcome, dest, &scratch)?;
            lines.push(format!("sending tarball to {dest}"));
        }
        Output::Archive { dest, oci, .. } => {
            export::archive(&store, &outcome, &plan.tags, dest)?;
            let kind = if *oci { "oci" } else { "docker" };
            lines.push(format!("exporting {kind} archive to {dest}"));
        }
    }
    lines.extend(caches.export(&store, &outcome)?);
    renderer.finish(&lines);
    caches.print_warnings();
    if !plan.quiet {
        eprint!("{}", checks::summary(&report, &opts));
    }
    if let Some(path) = &a.iidfile {
        std::fs::write(path, &id).with_context(|| format!("writing {}", path.display()))?;
    }
    // Only an image has an ID to print: with another output nothing is stored, and stdout
    // may be carrying the output itself (`-o -`).
    if plan.quiet && !opts.output_only {
        println!("{id}");
    }
    Ok(ExitCode::SUCCESS)
}
