//! Cache keys of layer steps: the operation text, the history text, and the content
//! digests of their inputs (context files, stages, images, URLs).

use std::collections::BTreeMap;

use strata_dockerfile::ast::{CopySpec as Copy, InstructionKind, Source};
use strata_dockerfile::scope::Step;

use super::StageRun;
use crate::cache::KeyInputs;
use crate::copy_step;
use crate::error::{BuildError, BuildErrorKind, Result};

impl StageRun<'_, '_> {
    /// The operation text (for the key), the history text, and content inputs.
    pub(super) fn describe(&self, step: &Step, inputs: &mut KeyInputs) -> Result<(String, String)> {
        match &step.instruction.kind {
            InstructionKind::Run(run) => {
                let argv = match &run.command {
                    strata_dockerfile::ast::CommandLine::Exec(a) => a.clone(),
                    strata_dockerfile::ast::CommandLine::Shell(c) => {
                        let mut a = step.shell.clone();
                        a.push(c.clone());
                        a
                    }
                };
                // BuildKit's history prefix: `|N` and every arg the stage declared so far.
                let mut text = String::from("RUN ");
                if !step.history_args.is_empty() {
                    text.push_str(&format!("|{} ", step.history_args.len()));
                    for (k, v) in &step.history_args {
                        text.push_str(&format!("{k}={} ", v.as_deref().unwrap_or("")));
                    }
                }
                text.push_str(&argv.join(" "));
                let history = format!("{text} # buildkit");
                let env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                // Everything that changes what the command can see is in the key: the
                // network it gets (the step's own or the build's), its security mode, its
                // mounts (with secret and ssh ids) and the extra hosts.
                use strata_dockerfile::ast::NetworkMode as Df;
                let network = match (run.network.unwrap_or(Df::Default), self.sh.opts.network) {
                    (Df::None, _) | (Df::Default, crate::BuildNetwork::None) => "none",
                    (Df::Host, _) | (Df::Default, _) => "host",
                };
                let op = format!(
                    "{text}\nenv={:?}\nuser={}\nworkdir={}\nmounts={:?}\nnetwork={network}\nsecurity={:?}\nheredocs={:?}\nhosts={:?}",
                    env,
                    self.state.user(),
                    self.state.workdir(),
                    run.mounts,
                    run.security,
                    run.heredocs.iter().map(|h| (&h.name, &h.content)).collect::<Vec<_>>(),
                    self.sh.opts.extra_hosts
                );
                for m in &run.mounts {
                    if let strata_dockerfile::MountSpec::Bind { from, source, .. } = m {
                        let src = copy_step::clean_rel(source.as_deref().unwrap_or(""));
                        let d = self.source_digest(
                            from.as_deref(),
                            &[Source::Path(src.clone())],
                            inputs,
                        )?;
                        inputs.inputs.insert(
                            format!("mount:{}:{src}", from.as_deref().unwrap_or("context")),
                            d,
                        );
                    }
                }
                Ok((op, history))
            }
            InstructionKind::Copy(c) => {
                self.describe_copy("COPY", c.from.as_deref(), &c.sources, &c.dest, c, inputs)
            }
            InstructionKind::Add(a) => {
                let (git, rest): (Vec<&Source>, Vec<&Source>) = a
                    .sources
                    .iter()
                    .partition(|s| matches!(s, Source::Path(p) if crate::remote_source::is_git(p)));
                let (remote, local): (Vec<&Source>, Vec<&Source>) = rest
                    .into_iter()
                    .partition(|s| matches!(s, Source::Path(p) if crate::remote_source::is_url(p)));
                if a.checksum.is_some() && a.sources.len() > 1 {
                    return Err(BuildError::new(
                        BuildErrorKind::Dockerfile,
                        "ADD --checksum can't be specified for multiple sources",
                    ));
                }
                self.git_checkouts.borrow_mut().clear();
                let keep_git_dir = a.keep_git_dir.unwrap_or(false);
                for (i, s) in git.iter().enumerate() {
                    let Source::Path(src) = s else { continue };
                    let dir = self.download_path()?;
                    let c = crate::git_source::checkout(src, dir, i, keep_git_dir)?;
                    // For a Git source the checksum is the commit, or a prefix of it.
                    if let Some(sum) = &a.checksum {
                        if sum.is_empty() || !c.commit.starts_with(&sum.to_ascii_lowercase()) {
                            return Err(BuildError::new(
                                BuildErrorKind::Dockerfile,
                                format!(
                                    "ADD {src}: commit {} does not match --checksum={sum}",
                                    c.commit
                                ),
                            ));
                        }
                    }
                    inputs.inputs.insert(
                        format!("git:{src}"),
                        format!("{} keep-git-dir={keep_git_dir}", c.commit),
                    );
                    self.git_checkouts.borrow_mut().push(c);
                }
                if a.checksum.is_some() && !local.is_empty() {
                    return Err(BuildError::new(
                        BuildErrorKind::Dockerfile,
                        "ADD --checksum applies to URL and Git sources only",
                    ));
                }
                let local: Vec<Source> = local.into_iter().cloned().collect();
                self.downloads.borrow_mut().clear();
                for (i, s) in remote.iter().enumerate() {
                    let Source::Path(url) = s else { continue };
                    let dir = self.download_path()?;
                    let f = crate::remote_source::fetch(url, dir, i, a.checksum.as_deref())?;
                    inputs
                        .inputs
                        .insert(format!("url:{url}"), f.digest.to_string());
                    self.downloads.borrow_mut().push(f);
                }
                let c = Copy {
                    sources: local.clone(),
                    dest: a.dest.clone(),
                    from: None,
                    parents: false,
                    flags: a.flags.clone(),
                };
                let extra = format!(
                    "unpack={:?} remote={} git={}",
                    a.unpack,
                    remote.len(),
                    git.len()
                );
                let (op, history) =
                    self.describe_copy("ADD", None, &a.sources, &a.dest, &c, inputs)?;
                if local.is_empty() {
                    // describe_copy digested no context sources; keep the key on the URLs.
                    inputs.inputs.remove("sources:context");
                }
                Ok((format!("{op}\n{extra}"), history))
            }
            InstructionKind::Workdir(_) => {
                let text = format!("WORKDIR {}", self.workdir_target(step));
                Ok((text.clone(), text))
            }
            other => Err(BuildError::internal(format!(
                "{} is not a layer step",
                other.keyword()
            ))),
        }
    }

    /// Where this stage's ADD puts URL downloads and Git checkouts.
    fn download_path(&self) -> Result<&std::path::Path> {
        self.download_dir
            .as_ref()
            .map(|d| d.path())
            .ok_or_else(|| BuildError::internal("no download dir"))
    }

    pub(super) fn describe_copy(
        &self,
        word: &str,
        from: Option<&str>,
        sources: &[Source],
        dest: &str,
        c: &Copy,
        inputs: &mut KeyInputs,
    ) -> Result<(String, String)> {
        let mut flags = String::new();
        if let Some(ch) = &c.flags.chown {
            flags.push_str(&format!("--chown={ch} "));
        }
        if let Some(m) = &c.flags.chmod {
            flags.push_str(&format!("--chmod={m:?} "));
        }
        let names: Vec<String> = sources
            .iter()
            .map(|s| match s {
                Source::Path(p) => p.clone(),
                Source::Heredoc { name, .. } => format!("<<{name}"),
            })
            .collect();
        // BuildKit's history names sources and destination only, never the flags.
        let history = format!("{word} {} {dest} # buildkit", names.join(" "));
        let op = format!(
            "{word} from={from:?} {flags}{names:?} {dest} workdir={} link={} parents={} exclude={:?}",
            self.state.workdir(),
            c.flags.link,
            c.parents,
            c.flags.exclude
        );
        for s in sources {
            if let Source::Heredoc { name, content, .. } = s {
                inputs.inputs.insert(
                    format!("heredoc:{name}"),
                    strata_oci::Digest::sha256_of(content.as_bytes()).to_string(),
                );
            }
        }
        let d = self.source_digest(from, sources, inputs)?;
        inputs
            .inputs
            .insert(format!("sources:{}", from.unwrap_or("context")), d);
        Ok((op, history))
    }

    /// Content digest of what `sources` select from the context or a stage/image.
    pub(super) fn source_digest(
        &self,
        from: Option<&str>,
        sources: &[Source],
        inputs: &mut KeyInputs,
    ) -> Result<String> {
        let paths: Vec<&str> = sources
            .iter()
            .filter_map(|s| match s {
                Source::Path(p)
                    if !crate::remote_source::is_url(p) && !crate::remote_source::is_git(p) =>
                {
                    Some(p.as_str())
                }
                _ => None,
            })
            .collect();
        if paths.is_empty() {
            return Ok(String::new());
        }
        if let Some(f) = from {
            if f != "context" {
                if let Some(i) = self.sh.plan.resolved.stage_index(f) {
                    return Ok(format!("stage:{}", self.sh.wait_stage(i)?.key));
                }
                return Ok(format!(
                    "image:{}",
                    self.sh
                        .plan
                        .bases
                        .get(f)
                        .map(|b| b.record.manifest_digest.to_string())
                        .unwrap_or_default()
                ));
            }
        }
        self.sh.with_context(|ctx, cache| {
            let mut selected = Vec::new();
            for p in &paths {
                for top in copy_step::context_sources(ctx, p)? {
                    selected.extend(ctx.subtree(&top).map(|e| e.path.clone()));
                }
            }
            selected.sort();
            selected.dedup();
            ctx.hash_files(&selected, cache)?;
            record_files(ctx, &selected, &mut inputs.files);
            let entries: Vec<_> = selected.iter().filter_map(|p| ctx.get(p)).collect();
            Ok(ctx.selection_digest("", entries).to_string())
        })
    }
}

/// Per-file digests for explaining misses. Beyond [`EXPLAIN_FILE_LIMIT`] files the digests
/// are folded per directory, so memory and the stored record stay small for huge contexts
/// (a miss then names the directory that changed).
pub(super) fn record_files(
    ctx: &crate::context::Context,
    selected: &[String],
    out: &mut BTreeMap<String, String>,
) {
    if selected.len() <= EXPLAIN_FILE_LIMIT {
        for p in selected {
            if let Some(d) = ctx.file_digest(p) {
                out.insert(p.clone(), d.to_string());
            }
        }
        return;
    }
    let mut current: Option<(String, strata_oci::Digester)> = None;
    let flush = |cur: Option<(String, strata_oci::Digester)>,
                 out: &mut BTreeMap<String, String>| {
        if let Some((dir, h)) = cur {
            out.insert(format!("{dir}/"), h.finish().to_string());
        }
    };
    for p in selected {
        let Some(d) = ctx.file_digest(p) else {
            continue;
        };
        let dir = p.rsplit_once('/').map(|(d, _)| d).unwrap_or("").to_owned();
        if current.as_ref().map(|(c, _)| c != &dir).unwrap_or(true) {
            flush(current.take(), out);
            current = Some((dir, strata_oci::Digester::sha256()));
        }
        if let Some((_, h)) = current.as_mut() {
            h.update(p.as_bytes());
            h.update(d.hex().as_bytes());
        }
    }
    flush(current, out);
}

const EXPLAIN_FILE_LIMIT: usize = 5_000;
