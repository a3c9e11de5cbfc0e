//! One stage, step by step: cache lookups, execution of misses, and the image state.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use strata_dockerfile::ast::{CopySpec as Copy, InstructionKind, Source};
use strata_dockerfile::scope::{Base, ResolvedStage, Step, PROXY_ARGS};

mod keys;
mod lineage;
mod sources;

use crate::cache::{CachedLayer, KeyInputs, CACHE_TABLE, EXPLAIN_KEY_TABLE, EXPLAIN_TABLE};
use crate::copy_step::{self, CopyJob, SourceRoot};
use crate::error::{BuildError, Result};
use crate::fsview::{self, MountedView};
use crate::layer_out::{self, SnapshotForm};
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
    /// ADD's Git sources, checked out while the step's key is computed.
    git_checkouts: std::cell::RefCell<Vec<crate::git_source::GitCheckout>>,
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
            // The parent's ONBUILD triggers were injected into this stage (plan.rs): they
            // run here once and are not passed on to stages built on this one.
            let st = ImageState::from_base(
                r.state.config.clone(),
                r.state.layers.clone(),
                r.state.created.clone(),
            );
            (st, r.key.clone())
        }
        Base::Image(reference) => {
            // Numbered only here: scratch and stage bases show no vertex, and `#N` stays
            // contiguous as BuildKit's is.
            let id = sh.next_id();
            sh.progress.event(Event::Started {
                id,
                name: format!(
                    "[{label}1/{total}] FROM {}",
                    crate::solver::full_reference(reference)
                ),
            });
            let base = &plan.bases[reference];
            let created = base
                .config
                .created
                .clone()
                .unwrap_or_else(|| sh.now.clone());
            // ONBUILD triggers were injected into this stage; the new image does not inherit them.
            let st = ImageState::from_base(base.config.clone(), base.layers(), created);
            // The base is in the store already: BuildKit reports a local base as CACHED.
            sh.progress.event(Event::Cached { id });
            (st, base.record.manifest_digest.to_string())
        }
    };
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
        git_checkouts: Default::default(),
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
                // BuildKit's history row: each name, with its default as written (expanded).
                let shown = step
                    .history_args
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                self.state.created = self.last_created();
                self.state.add_history(format!("ARG {shown}"), true);
                Ok(())
            }
            other => {
                self.state.created = self.last_created();
                let Some(text) = self.state.apply_metadata(other, None) else {
                    return Err(BuildError::unsupported(format!(
                        "instruction {}",
                        other.keyword()
                    )));
                };
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
        let (op, history) = self.describe(step, &mut inputs)?;
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

    /// Run a step that missed the cache; returns its cache record.
    fn execute(&mut self, step: &Step, id: usize) -> Result<CachedLayer> {
        require_root(step)?;
        let store = self.sh.store;
        let lowers = fsview::snapshots(store, &self.state.layers)?;
        let staging = store.snapshot_staging_dir()?;
        let cleanup = StagingGuard(staging.clone());
        let fs_dir = staging.join("fs");
        fs::create_dir(&fs_dir)?;
        // A COPY from the context: its lineage and the content index it produced.
        let mut copied: Option<(lineage::Lineage, Option<PathBuf>)> = None;
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
                SnapshotForm::OverlayUpper
            }
            InstructionKind::Copy(c) => {
                let lineage = self.copy_lineage(step, c);
                let reuse = lineage.as_ref().and_then(|l| l.reuse.as_ref());
                let from = c.from.as_deref();
                let index = self.stage_copy(c, from, false, &lowers, &fs_dir, &staging, reuse)?;
                copied = lineage.map(|l| (l, index));
                SnapshotForm::Tree
            }
            InstructionKind::Add(a) => {
                let local: Vec<Source> = a
                    .sources
                    .iter()
                    .filter(|s| !matches!(s, Source::Path(p) if crate::remote_source::is_url(p) || crate::remote_source::is_git(p)))
                    .cloned()
                    .collect();
                let downloads = self.downloads.borrow().clone();
                let checkouts = self.git_checkouts.borrow().clone();
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
                        None,
                    )?;
                }
                self.place_downloads(&downloads, &a.dest, many, &a.flags, &lowers, &fs_dir)?;
                self.place_checkouts(&checkouts, &a.dest, &a.flags, &lowers, &fs_dir)?;
                SnapshotForm::Tree
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
                        reuse: None,
                        keep_owners: false,
                    };
                    let empty = tempfile::tempdir()?;
                    copy_step::stage_copy(&job, &SourceRoot::Dir(empty.path()), &lowers, &fs_dir)?;
                    SnapshotForm::Tree
                } else {
                    // Nothing to create: an empty upper dir makes no layer.
                    SnapshotForm::OverlayUpper
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
        if let (Some((lineage, Some(index))), Some((_, chain_id))) = (&copied, &made) {
            self.record_lineage(&lineage.key, chain_id, index);
        }
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
}

/// Running a step needs root: it mounts overlays, starts runc and writes files owned by
/// other users. Without it the kernel's bare "Operation not permitted" would surface from
/// deep inside; say what is needed at the first step that needs it instead. (Cached steps
/// and a fully cached build need no privileges.)
fn require_root(step: &Step) -> Result<()> {
    if rustix::process::geteuid().is_root() {
        return Ok(());
    }
    Err(BuildError::new(
        crate::BuildErrorKind::Unsupported,
        format!(
            "building needs root: run as root, or build where every step is cached\n{} runs as root: it mounts overlay snapshots, starts runc and sets file owners\nhint: sudo strata build …",
            step.instruction.kind.keyword()
        ),
    ))
}

/// Whether a stage has an ADD of a URL or Git repository (it then needs a download directory).
fn has_remote_add(rs: &ResolvedStage) -> bool {
    rs.steps.iter().any(|s| match &s.instruction.kind {
        InstructionKind::Add(a) => a
            .sources
            .iter()
            .any(|src| matches!(src, Source::Path(p) if crate::remote_source::is_url(p) || crate::remote_source::is_git(p))),
        _ => false,
    })
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
