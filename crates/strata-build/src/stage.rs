//! One stage, step by step: cache lookups, execution of misses, and the image state.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use strata_dockerfile::ast::{CopySpec as Copy, InstructionKind, Source};
use strata_dockerfile::scope::{Base, ResolvedStage, Step, PROXY_ARGS};

use crate::cache::{CachedLayer, KeyInputs, CACHE_TABLE, EXPLAIN_KEY_TABLE, EXPLAIN_TABLE};
use crate::copy_step::{self, CopyJob, SourceRoot};
use crate::error::{BuildError, BuildErrorKind, Result};
use crate::fsview::{self, MountedView};
use crate::layer_out::{self, StagedKind};
use crate::progress::Event;
use crate::run_step::{self, RunContext};
use crate::solver::{Shared, StageResult};
use crate::state::{ImageState, LayerRef};

/// Steps BuildKit shows as their own vertex (`[stage i/n] …`).
fn is_vertex(kind: &InstructionKind) -> bool {
    matches!(
        kind,
        InstructionKind::Run(_)
            | InstructionKind::Copy(_)
            | InstructionKind::Add(_)
            | InstructionKind::Workdir(_)
    )
}

struct StageRun<'a, 'b> {
    sh: &'a Shared<'b>,
    rs: &'a ResolvedStage,
    label: String,
    total: usize,
    counter: usize,
    state: ImageState,
    key: String,
    no_cache: bool,
    /// ADD's remote files, fetched while the step's key is computed.
    downloads: std::cell::RefCell<Vec<crate::remote_source::Fetched>>,
    download_dir: Option<tempfile::TempDir>,
}

/// Build stage `index` of the plan.
pub(crate) fn run_stage(sh: &Shared<'_>, index: usize) -> Result<StageResult> {
    let plan = sh.plan;
    let rs = &plan.resolved.stages[index];
    let multi = plan.resolved.stages.len() > 1;
    let label = match (&rs.name, multi) {
        (Some(n), _) => format!("{n} "),
        (None, true) => format!("stage-{index} "),
        (None, false) => String::new(),
    };
    let total = 1 + rs
        .steps
        .iter()
        .filter(|s| is_vertex(&s.instruction.kind))
        .count();
    let no_cache = sh.opts.no_cache
        || sh.opts.no_cache_filter.iter().any(|f| {
            rs.name.as_deref() == Some(f.to_ascii_lowercase().as_str()) || *f == index.to_string()
        });
    let platform = rs.platform.clone().unwrap_or_else(|| plan.platform.clone());
    let from_text = &plan.dockerfile.stages[index].from.image;
    let id = sh.next_id();
    let start = Instant::now();
    let (state, key) = match &rs.base {
        Base::Scratch => {
            let st = ImageState::scratch(
                &platform.os,
                &platform.architecture,
                platform.variant.as_deref(),
                &sh.now,
            );
            (
                st,
                format!("scratch:{}/{}", platform.os, platform.architecture),
            )
        }
        Base::Stage(j) => {
            let r = sh.wait_stage(*j)?;
            (r.state.clone(), r.key.clone())
        }
        Base::Image(reference) => {
            sh.progress.event(Event::Started {
                id,
                name: format!("[{label}1/{total}] FROM {reference}"),
            });
            let base = &plan.bases[reference];
            let layers = base
                .record
                .layers
                .iter()
                .zip(&base.record.diff_ids)
                .map(|(l, d)| LayerRef {
                    digest: l.digest.clone(),
                    diff_id: d.clone(),
                    size: l.size,
                    media_type: l.media_type.to_string(),
                })
                .collect();
            let mut config = base.config.clone();
            // ONBUILD triggers were injected into this stage; the new image does not inherit them.
            if let Some(c) = config.config.as_mut() {
                c.on_build = None;
            }
            let created = base
                .config
                .created
                .clone()
                .unwrap_or_else(|| sh.now.clone());
            let st = ImageState {
                config,
                layers,
                created,
            };
            sh.progress.event(Event::Done {
                id,
                elapsed: start.elapsed(),
            });
            (st, base.record.manifest_digest.to_string())
        }
    };
    let _ = from_text;
    let mut run = StageRun {
        sh,
        rs,
        label,
        total,
        counter: 1,
        state,
        key,
        no_cache,
        downloads: Default::default(),
        download_dir: has_remote_add(rs).then(tempfile::tempdir).transpose()?,
    };
    for (n, step) in rs.steps.iter().enumerate() {
        run.step(n, step).map_err(|e| {
            let loc = plan.location(step.instruction.span, &e.message);
            e.at(loc)
        })?;
    }
    Ok(StageResult {
        state: run.state,
        key: run.key,
    })
}

impl StageRun<'_, '_> {
    fn step(&mut self, n: usize, step: &Step) -> Result<()> {
        let kind = &step.instruction.kind;
        let used: BTreeMap<String, String> = step
            .used_args
            .iter()
            .filter(|a| !PROXY_ARGS.contains(&a.as_str()))
            .filter_map(|a| {
                step.args
                    .iter()
                    .rev()
                    .find(|(k, _)| k == a)
                    .map(|(k, v)| (k.clone(), v.clone()))
            })
            .collect();
        // The stage's ENV as the resolver computed it (base ENV included).
        match kind {
            InstructionKind::Run(_) | InstructionKind::Copy(_) | InstructionKind::Add(_) => {
                self.layer_step(n, step, used)
            }
            InstructionKind::Workdir(_) => {
                self.layer_step(n, step, used)?;
                let dir = self.workdir_target(step);
                self.state.container().working_dir = Some(dir);
                Ok(())
            }
            InstructionKind::Arg(decls) => {
                let text = decls
                    .iter()
                    .map(
                        |d| match step.args.iter().rev().find(|(k, _)| *k == d.name) {
                            Some((k, v)) if d.default.is_some() || used.contains_key(k) => {
                                format!("{k}={v}")
                            }
                            _ => d.name.clone(),
                        },
                    )
                    .collect::<Vec<_>>()
                    .join(" ");
                self.chain(&format!("ARG {text}"), used);
                Ok(())
            }
            other => {
                let before = self.state.config.history.len();
                self.state.created = self.last_created();
                if !self.state.apply_metadata(other, None) {
                    return Err(BuildError::unsupported(format!(
                        "instruction {}",
                        other.keyword()
                    )));
                }
                let text = self.state.config.history[before]
                    .created_by
                    .clone()
                    .unwrap_or_default();
                self.chain(&text, used);
                Ok(())
            }
        }
    }

    fn last_created(&self) -> String {
        self.state
            .config
            .history
            .last()
            .and_then(|h| h.created.clone())
            .unwrap_or_else(|| self.state.created.clone())
    }

    /// Advance the key for a metadata-only step.
    fn chain(&mut self, op: &str, args: BTreeMap<String, String>) {
        let inputs = KeyInputs {
            parent: Some(self.key.clone()),
            op: op.to_owned(),
            args,
            ..Default::default()
        };
        self.key = inputs.key().to_string();
    }

    fn vertex_name(&mut self, step: &Step) -> String {
        self.counter += 1;
        format!(
            "[{}{}/{}] {}",
            self.label,
            self.counter,
            self.total,
            step.instruction.original.trim()
        )
    }

    fn explain_position(&self, n: usize) -> String {
        let id = format!("{}\0{}\0{}", self.sh.opts.dockerfile_id, self.rs.index, n);
        strata_oci::Digest::sha256_of(id.as_bytes())
            .hex()
            .to_owned()
    }

    /// The absolute directory a WORKDIR step names.
    fn workdir_target(&self, step: &Step) -> String {
        let InstructionKind::Workdir(w) = &step.instruction.kind else {
            return self.state.workdir();
        };
        if w.starts_with('/') {
            format!("/{}", copy_step::clean_rel(w))
        } else {
            format!(
                "/{}",
                copy_step::clean_rel(&format!("{}/{w}", self.state.workdir()))
            )
        }
    }

    fn layer_step(&mut self, n: usize, step: &Step, used: BTreeMap<String, String>) -> Result<()> {
        let id = self.sh.next_id();
        let name = self.vertex_name(step);
        let start = Instant::now();
        self.sh.progress.event(Event::Started { id, name });
        let mut inputs = KeyInputs {
            parent: Some(self.key.clone()),
            args: used.clone(),
            ..Default::default()
        };
        let (op, history) = self.describe(step, &used, &mut inputs)?;
        inputs.op = op;
        let key = inputs.key().to_string();
        let position = self.explain_position(n);
        let store = self.sh.store;
        if !self.no_cache {
            if let Some(hit) = self.lookup(&key)? {
                self.record_used(&key, &hit);
                self.apply_result(&hit, history);
                self.remember(&position, &key, &inputs)?;
                self.key = key;
                self.sh.cached.fetch_add(1, Ordering::SeqCst);
                self.sh.progress.event(Event::Cached { id });
                return Ok(());
            }
        }
        if self.sh.opts.explain {
            let reasons = if self.no_cache {
                vec!["--no-cache".to_owned()]
            } else {
                match store.get_record(EXPLAIN_TABLE, &position)? {
                    Some(prev) => match serde_json::from_slice::<KeyInputs>(&prev) {
                        Ok(prev) => {
                            let mut r = inputs.explain_against(&prev);
                            if r.is_empty() {
                                r.push("cached result was removed (pruned)".to_owned());
                            }
                            r
                        }
                        Err(_) => vec!["no earlier build of this step".to_owned()],
                    },
                    None => vec!["no earlier build of this step".to_owned()],
                }
            };
            self.sh.progress.event(Event::Explain { id, reasons });
        }
        let result = self.execute(step, id).inspect_err(|e| {
            self.sh.progress.event(Event::Failed {
                id,
                elapsed: start.elapsed(),
                message: e.message.clone(),
            });
        })?;
        self.sh.executed.fetch_add(1, Ordering::SeqCst);
        let record = serde_json::to_vec(&result).map_err(BuildError::internal)?;
        store.put_record(CACHE_TABLE, &key, &record)?;
        if !result.empty {
            let roots = serde_json::to_vec(&[&result.digest]).map_err(BuildError::internal)?;
            store.put_record(strata_store::GC_ROOTS_TABLE, &key, &roots)?;
        }
        self.remember(&position, &key, &inputs)?;
        self.record_used(&key, &result);
        self.apply_result(&result, history);
        self.key = key;
        self.sh.progress.event(Event::Done {
            id,
            elapsed: start.elapsed(),
        });
        Ok(())
    }

    /// Keep this build's key inputs at this Dockerfile position, so a later miss can be
    /// explained against it. Skipped when the position already holds this key.
    fn remember(&self, position: &str, key: &str, inputs: &KeyInputs) -> Result<()> {
        let store = self.sh.store;
        if store.get_record(EXPLAIN_KEY_TABLE, position)?.as_deref() == Some(key.as_bytes()) {
            return Ok(());
        }
        if inputs.files.len() <= 50_000 {
            let bytes = serde_json::to_vec(inputs).map_err(BuildError::internal)?;
            store.put_records(EXPLAIN_TABLE, &[(position, &bytes)])?;
        }
        store.put_record(EXPLAIN_KEY_TABLE, position, key.as_bytes())?;
        Ok(())
    }

    /// Note a resolved layer step for the build's outcome (`--cache-to`).
    fn record_used(&self, key: &str, result: &CachedLayer) {
        let step = crate::remote_cache::UsedStep {
            stage: self.rs.index,
            key: key.to_owned(),
            result: result.clone(),
            in_image: false,
        };
        self.sh
            .used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(step);
    }

    /// The local cache, then the `--cache-from` source.
    fn lookup(&self, key: &str) -> Result<Option<CachedLayer>> {
        if let Some(hit) = self.local_lookup(key)? {
            return Ok(Some(hit));
        }
        Ok(self
            .sh
            .cache_source
            .and_then(|c| c.lookup(self.sh.store, key)))
    }

    fn local_lookup(&self, key: &str) -> Result<Option<CachedLayer>> {
        let Some(bytes) = self.sh.store.get_record(CACHE_TABLE, key)? else {
            return Ok(None);
        };
        let Ok(hit) = serde_json::from_slice::<CachedLayer>(&bytes) else {
            return Ok(None);
        };
        if !hit.empty && !self.sh.store.has_blob(&hit.digest) {
            return Ok(None);
        }
        Ok(Some(hit))
    }

    fn apply_result(&mut self, r: &CachedLayer, history: String) {
        self.state.created = r.created.clone();
        if r.empty {
            self.state.add_history(history, true);
        } else {
            let layer = LayerRef {
                digest: r.digest.clone(),
                diff_id: r.diff_id.clone(),
                size: r.size,
                media_type: r.media_type.clone(),
            };
            self.state.push_layer(layer, history);
        }
    }

    /// The operation text (for the key), the history text, and content inputs.
    fn describe(
        &self,
        step: &Step,
        used: &BTreeMap<String, String>,
        inputs: &mut KeyInputs,
    ) -> Result<(String, String)> {
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
                let mut text = String::from("RUN ");
                if !used.is_empty() {
                    text.push_str(&format!("|{} ", used.len()));
                    for (k, v) in used {
                        text.push_str(&format!("{k}={v} "));
                    }
                }
                text.push_str(&argv.join(" "));
                let history = format!("{text} # buildkit");
                let env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let op = format!(
                    "{text}\nenv={:?}\nuser={}\nworkdir={}\nmounts={:?}\nnetwork={:?}\nsecurity={:?}\nheredocs={:?}",
                    env,
                    self.state.user(),
                    self.state.workdir(),
                    run.mounts,
                    run.network,
                    run.security,
                    run.heredocs.iter().map(|h| (&h.name, &h.content)).collect::<Vec<_>>()
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
                let (remote, local): (Vec<&Source>, Vec<&Source>) = a
                    .sources
                    .iter()
                    .partition(|s| matches!(s, Source::Path(p) if crate::remote_source::is_url(p)));
                if local
                    .iter()
                    .any(|s| matches!(s, Source::Path(p) if is_remote(p)))
                {
                    return Err(BuildError::unsupported("ADD from a git repository"));
                }
                if a.checksum.is_some() && !local.is_empty() {
                    return Err(BuildError::new(
                        BuildErrorKind::Dockerfile,
                        "ADD --checksum applies to URL sources only",
                    ));
                }
                let local: Vec<Source> = local.into_iter().cloned().collect();
                self.downloads.borrow_mut().clear();
                for (i, s) in remote.iter().enumerate() {
                    let Source::Path(url) = s else { continue };
                    let dir = self
                        .download_dir
                        .as_ref()
                        .ok_or_else(|| BuildError::internal("no download dir"))?;
                    let f = crate::remote_source::fetch(url, dir.path(), i, a.checksum.as_deref())?;
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
                let extra = format!("unpack={:?} remote={}", a.unpack, remote.len());
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

    fn describe_copy(
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
        let history = format!("{word} {flags}{} {dest} # buildkit", names.join(" "));
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
    fn source_digest(
        &self,
        from: Option<&str>,
        sources: &[Source],
        inputs: &mut KeyInputs,
    ) -> Result<String> {
        let paths: Vec<&str> = sources
            .iter()
            .filter_map(|s| match s {
                Source::Path(p) if !crate::remote_source::is_url(p) => Some(p.as_str()),
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
                let rel = copy_step::clean_rel(p);
                if copy_step::has_glob(&rel) {
                    let pattern: Vec<&str> = rel.split('/').collect();
                    let tops: Vec<String> = ctx
                        .entries()
                        .filter(|e| {
                            let comps: Vec<&str> = e.path.split('/').collect();
                            comps.len() == pattern.len()
                                && comps
                                    .iter()
                                    .zip(&pattern)
                                    .all(|(c, p)| copy_step::glob_component(p, c))
                        })
                        .map(|e| e.path.clone())
                        .collect();
                    for t in tops {
                        selected.extend(ctx.subtree(&t).map(|e| e.path.clone()));
                    }
                } else if rel.is_empty() || ctx.get(&rel).is_some() {
                    selected.extend(ctx.subtree(&rel).map(|e| e.path.clone()));
                } else {
                    return Err(BuildError::not_found(format!(
                        "failed to compute cache key: \"/{rel}\": not found"
                    )));
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

    /// Run a step that missed the cache; returns its cache record.
    fn execute(&mut self, step: &Step, id: usize) -> Result<CachedLayer> {
        let store = self.sh.store;
        let lowers = fsview::snapshots(store, &self.state.layers)?;
        let staging = store.snapshot_staging_dir()?;
        let cleanup = StagingGuard(staging.clone());
        let fs_dir = staging.join("fs");
        fs::create_dir(&fs_dir)?;
        let kind = match &step.instruction.kind {
            InstructionKind::Run(run) => {
                let work = staging.join("work");
                fs::create_dir(&work)?;
                let exec = self.sh.executor()?;
                let mut views: BTreeMap<String, MountedView> = BTreeMap::new();
                for m in &run.mounts {
                    if let Some(f) = m.from() {
                        if !views.contains_key(f) {
                            let dirs = self.lowers_of(f)?;
                            views.insert(f.to_owned(), MountedView::mount(&dirs, &staging)?);
                        }
                    }
                }
                let ctx_root = self.sh.opts.context_dir.clone();
                let mount_source = |from: Option<&str>| -> Result<PathBuf> {
                    match from {
                        None | Some("context") => ctx_root.clone().ok_or_else(|| {
                            BuildError::not_found("no build context for a bind mount")
                        }),
                        Some(f) => views.get(f).map(|v| v.path().to_path_buf()).ok_or_else(|| {
                            BuildError::not_found(format!("mount source {f} not found"))
                        }),
                    }
                };
                let rc = RunContext {
                    opts: self.sh.opts,
                    store_root: store.root(),
                    executor: exec.as_ref(),
                    progress: self.sh.progress,
                    id,
                    lowers_top_first: lowers.iter().rev().cloned().collect(),
                    upper: fs_dir.clone(),
                    work,
                    env: step.args.iter().chain(step.env.iter()).cloned().collect(),
                    shell: step.shell.clone(),
                    workdir: self.state.workdir(),
                    user: self.state.user(),
                    mount_source: &mount_source,
                };
                let _slot = self.sh.slots.acquire();
                run_step::execute(run, &rc)?;
                drop(views);
                let _ = fs::remove_dir_all(staging.join("work"));
                StagedKind::OverlayUpper
            }
            InstructionKind::Copy(c) => {
                self.stage_copy(c, c.from.as_deref(), false, &lowers, &fs_dir, &staging)?;
                StagedKind::Tree
            }
            InstructionKind::Add(a) => {
                let local: Vec<Source> = a
                    .sources
                    .iter()
                    .filter(|s| !matches!(s, Source::Path(p) if crate::remote_source::is_url(p)))
                    .cloned()
                    .collect();
                let downloads = self.downloads.borrow().clone();
                let many = a.sources.len() > 1;
                if !local.is_empty() {
                    let c = Copy {
                        sources: local,
                        dest: if many && !a.dest.ends_with('/') {
                            format!("{}/", a.dest)
                        } else {
                            a.dest.clone()
                        },
                        from: None,
                        parents: false,
                        flags: a.flags.clone(),
                    };
                    self.stage_copy(
                        &c,
                        None,
                        a.unpack.unwrap_or(true),
                        &lowers,
                        &fs_dir,
                        &staging,
                    )?;
                }
                self.place_downloads(&downloads, &a.dest, many, &a.flags, &lowers, &fs_dir)?;
                StagedKind::Tree
            }
            InstructionKind::Workdir(_) => {
                let dir = self.workdir_target(step);
                if dir != "/" && fsview::lookup(&lowers, &dir).is_none() {
                    // BuildKit creates the directories owned by the current USER.
                    let user = self.state.user();
                    let owner = if user.is_empty() || user == "root" || user == "0" {
                        None
                    } else {
                        Some(self.resolve_owner(&user, &lowers)?)
                    };
                    let job = CopyJob {
                        sources: &[],
                        dest: &format!("{dir}/"),
                        workdir: "/",
                        owner,
                        chmod: None,
                        parents: false,
                        exclude: &[],
                        unpack_archives: false,
                    };
                    let empty = tempfile::tempdir()?;
                    copy_step::stage_copy(&job, &SourceRoot::Dir(empty.path()), &lowers, &fs_dir)?;
                    StagedKind::Tree
                } else {
                    // Nothing to create: an empty upper dir makes no layer.
                    StagedKind::OverlayUpper
                }
            }
            _ => return Err(BuildError::internal("not a layer step")),
        };
        let parent = layer_out::top_chain_id(&self.state.layers);
        let made = layer_out::commit_layer(
            store,
            &fs_dir,
            kind,
            parent.as_ref(),
            self.sh.opts.source_date_epoch,
        )?;
        drop(cleanup);
        let created = self.sh.now.clone();
        Ok(match made {
            Some((l, _)) => CachedLayer {
                digest: l.digest,
                diff_id: l.diff_id,
                size: l.size,
                media_type: l.media_type,
                empty: false,
                created,
            },
            None => CachedLayer {
                digest: strata_oci::Digest::sha256_of(b""),
                diff_id: strata_oci::Digest::sha256_of(b""),
                size: 0,
                media_type: String::new(),
                empty: true,
                created,
            },
        })
    }

    /// Put ADD's downloaded files in place: mode 0600 (as BuildKit), owner from `--chown`,
    /// mtime from `Last-Modified`.
    fn place_downloads(
        &self,
        downloads: &[crate::remote_source::Fetched],
        dest: &str,
        many: bool,
        flags: &strata_dockerfile::ast::CopyFlags,
        lowers: &[PathBuf],
        fs_dir: &std::path::Path,
    ) -> Result<()> {
        if downloads.is_empty() {
            return Ok(());
        }
        let workdir = self.state.workdir();
        let (abs, trailing) = copy_step::dest_path(dest, &workdir);
        let into_dir = trailing || many || fsview::lookup(lowers, &abs).is_some_and(|m| m.is_dir());
        let owner = match &flags.chown {
            None => (0, 0),
            Some(spec) => self.resolve_owner(spec, lowers)?,
        };
        for f in downloads {
            let target = if into_dir {
                format!("{abs}/{}", f.name)
            } else {
                abs.clone()
            };
            let rel = copy_step::clean_rel(&target);
            let path = fs_dir.join(&rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::copy(&f.path, &path)?;
            let mode = copy_step::chmod_bits(flags.chmod.as_ref(), 0o600, false)?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
            std::os::unix::fs::lchown(&path, Some(owner.0), Some(owner.1))?;
            let t = filetime::FileTime::from_unix_time(f.mtime.unwrap_or(0), 0);
            filetime::set_file_times(&path, t, t)?;
        }
        Ok(())
    }

    /// Snapshot dirs (bottom first) of a stage or image named by `--from` / `from=`.
    fn lowers_of(&self, from: &str) -> Result<Vec<PathBuf>> {
        if let Some(i) = self.sh.plan.resolved.stage_index(from) {
            let r = self.sh.wait_stage(i)?;
            return fsview::snapshots(self.sh.store, &r.state.layers);
        }
        let base = self
            .sh
            .plan
            .bases
            .get(from)
            .ok_or_else(|| BuildError::not_found(format!("stage or image {from} not found")))?;
        let layers: Vec<LayerRef> = base
            .record
            .layers
            .iter()
            .zip(&base.record.diff_ids)
            .map(|(l, d)| LayerRef {
                digest: l.digest.clone(),
                diff_id: d.clone(),
                size: l.size,
                media_type: l.media_type.to_string(),
            })
            .collect();
        fsview::snapshots(self.sh.store, &layers)
    }

    fn stage_copy(
        &self,
        c: &Copy,
        from: Option<&str>,
        unpack: bool,
        lowers: &[PathBuf],
        fs_dir: &std::path::Path,
        staging: &std::path::Path,
    ) -> Result<()> {
        let owner = match &c.flags.chown {
            None => None,
            Some(spec) => Some(self.resolve_owner(spec, lowers)?),
        };
        let workdir = self.state.workdir();
        let job = CopyJob {
            sources: &c.sources,
            dest: &c.dest,
            workdir: &workdir,
            owner,
            chmod: c.flags.chmod.as_ref(),
            parents: c.parents,
            exclude: &c.flags.exclude,
            unpack_archives: unpack,
        };
        match from.filter(|f| *f != "context") {
            None => {
                self.sh.with_context(|ctx, _| {
                    copy_step::stage_copy(&job, &SourceRoot::Context(ctx), lowers, fs_dir)
                })?;
            }
            Some(f) => {
                let dirs = self.lowers_of(f)?;
                let view = MountedView::mount(&dirs, staging)?;
                copy_step::stage_copy(&job, &SourceRoot::Dir(view.path()), lowers, fs_dir)?;
            }
        }
        Ok(())
    }

    /// `--chown=user[:group]` with names looked up in the destination image.
    fn resolve_owner(&self, spec: &str, lowers: &[PathBuf]) -> Result<(u32, u32)> {
        let read = |rel: &str| -> Option<String> {
            lowers
                .iter()
                .rev()
                .find_map(|l| fs::read_to_string(l.join(rel)).ok())
        };
        let user = strata_exec::resolve_user_from(
            spec,
            read("etc/passwd").as_deref(),
            read("etc/group").as_deref(),
        )
        .map_err(|e| BuildError::new(BuildErrorKind::NotFound, format!("--chown={spec}: {e}")))?;
        Ok((user.uid, user.gid))
    }
}

/// Per-file digests for explaining misses. Beyond [`EXPLAIN_FILE_LIMIT`] files the digests
/// are folded per directory, so memory and the stored record stay small for huge contexts
/// (a miss then names the directory that changed).
fn record_files(
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

/// Whether a stage has an ADD of a URL (it then needs a download directory).
fn has_remote_add(rs: &ResolvedStage) -> bool {
    rs.steps.iter().any(|s| match &s.instruction.kind {
        InstructionKind::Add(a) => a
            .sources
            .iter()
            .any(|src| matches!(src, Source::Path(p) if crate::remote_source::is_url(p))),
        _ => false,
    })
}

fn is_remote(p: &str) -> bool {
    p.starts_with("http://")
        || p.starts_with("https://")
        || p.starts_with("git@")
        || p.ends_with(".git")
}

/// Removes a step's staging directory unless it was published.
struct StagingGuard(PathBuf);

impl Drop for StagingGuard {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}
