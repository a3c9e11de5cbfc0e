//! The solver: runs the stages a target needs, each on its own thread as soon as the stages
//! it depends on are done, and exports the target. It sees steps and cache keys; the
//! Dockerfile was consumed by [`crate::plan`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use strata_exec::RuncExecutor;
use strata_store::Store;

use crate::context::{Context, StatCache};
use crate::error::{BuildError, Result};
use crate::export::{self, Exported};
use crate::plan::{self, Plan};
use crate::progress::{Event, Progress};
use crate::state::ImageState;
use crate::BuildOptions;

/// What a stage produced: its image and the cache key of its last step.
#[derive(Debug, Clone)]
pub struct StageResult {
    pub state: ImageState,
    pub key: String,
}

/// The result of a build.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub image: Exported,
    pub state: ImageState,
    /// Layer-producing steps answered from the cache, and steps that ran.
    pub cached_steps: usize,
    pub executed_steps: usize,
    /// Layer steps resolved, with their keys and results (what `--cache-to` exports).
    pub steps: Vec<crate::remote_cache::UsedStep>,
}

/// Counting semaphore bounding concurrent RUN steps.
pub(crate) struct Slots {
    free: Mutex<usize>,
    cv: Condvar,
}

pub(crate) struct SlotGuard<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Self {
        Slots {
            free: Mutex::new(n.max(1)),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.cv.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        SlotGuard(self)
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.cv.notify_one();
    }
}

/// State shared by the stage threads of one build.
pub(crate) struct Shared<'a> {
    pub store: &'a Store,
    pub opts: &'a BuildOptions,
    pub plan: &'a Plan,
    pub progress: &'a dyn Progress,
    pub next_id: AtomicUsize,
    pub results: Mutex<HashMap<usize, std::result::Result<Arc<StageResult>, ()>>>,
    pub done: Condvar,
    pub context: Mutex<Option<Context>>,
    pub stat_cache: Mutex<StatCache>,
    pub executor: Mutex<Option<Arc<RuncExecutor>>>,
    pub slots: Slots,
    pub cached: AtomicUsize,
    pub executed: AtomicUsize,
    /// The build's timestamp (RFC 3339) for steps that run now.
    pub now: String,
    /// Answers keys the local cache misses (`--cache-from`).
    pub cache_source: Option<&'a dyn crate::remote_cache::CacheSource>,
    /// Layer steps resolved so far.
    pub used: Mutex<Vec<crate::remote_cache::UsedStep>>,
}

impl Shared<'_> {
    pub fn next_id(&self) -> usize {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Wait for stage `i`; `Err` when it failed (its error is reported by its own thread).
    pub fn wait_stage(&self, i: usize) -> Result<Arc<StageResult>> {
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = results.get(&i) {
                return r
                    .clone()
                    .map_err(|_| BuildError::internal(format!("stage {i} failed")));
            }
            results = self.done.wait(results).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn finish_stage(&self, i: usize, r: std::result::Result<Arc<StageResult>, ()>) {
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(i, r);
        self.done.notify_all();
    }

    /// The runc executor, created on first use (builds without RUN never need runc).
    pub fn executor(&self) -> Result<Arc<RuncExecutor>> {
        let mut slot = self.executor.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = slot.as_ref() {
            return Ok(e.clone());
        }
        let exec = RuncExecutor::new(self.store.root().join("build-v1/exec"))?;
        let _ = exec.recover_stale();
        let exec = Arc::new(exec);
        *slot = Some(exec.clone());
        Ok(exec)
    }

    /// Run `f` with the scanned context (scanned on first use, `.dockerignore` applied).
    pub fn with_context<T>(
        &self,
        f: impl FnOnce(&mut Context, &mut StatCache) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self.context.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let dir = self.opts.context_dir.as_ref().ok_or_else(|| {
                BuildError::not_found("this build has no context (Dockerfile from stdin): COPY and ADD cannot read files")
            })?;
            let matcher = strata_dockerfile::dockerignore::Matcher::new(&self.opts.ignore_patterns)
                .map_err(|e| {
                    BuildError::new(
                        crate::BuildErrorKind::Dockerfile,
                        format!(".dockerignore: {e}"),
                    )
                })?;
            let include = |path: &str, is_dir: bool| {
                if !matcher.matches_or_parent_matches(path) {
                    return true;
                }
                // An excluded directory is still walked when an exception may re-include
                // something below it.
                is_dir && matcher.could_include_under(path)
            };
            let id = self.next_id();
            let start = Instant::now();
            self.progress.event(Event::Started {
                id,
                name: "[internal] load build context".into(),
            });
            let ctx = Context::scan(dir, &include)?;
            self.progress.event(Event::Done {
                id,
                elapsed: start.elapsed(),
            });
            *guard = Some(ctx);
        }
        let ctx = guard
            .as_mut()
            .ok_or_else(|| BuildError::internal("context lost"))?;
        let mut cache = self.stat_cache.lock().unwrap_or_else(|e| e.into_inner());
        f(ctx, &mut cache)
    }
}

/// BuildKit's `[internal]` steps before the stages: the Dockerfile, the `.dockerignore`, and
/// each base image's metadata (here: found in the store by the plan).
fn announce_inputs(sh: &Shared<'_>) {
    let file = std::path::Path::new(&sh.opts.dockerfile_name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".to_owned());
    let mut names = vec![
        format!("[internal] load build definition from {file}"),
        "[internal] load .dockerignore".to_owned(),
    ];
    let mut bases: Vec<&String> = sh.plan.bases.keys().collect();
    bases.sort();
    names.extend(
        bases
            .into_iter()
            .map(|r| format!("[internal] load metadata for {}", full_reference(r))),
    );
    for name in names {
        let id = sh.next_id();
        sh.progress.event(Event::Started { id, name });
        sh.progress.event(Event::Done {
            id,
            elapsed: std::time::Duration::ZERO,
        });
    }
}

/// A reference as BuildKit prints it (`docker.io/library/busybox:latest`).
pub(crate) fn full_reference(r: &str) -> String {
    strata_oci::Reference::parse(r)
        .map(|p| p.to_string())
        .unwrap_or_else(|_| r.to_owned())
}

/// RFC 3339 with nanoseconds, UTC, as Go writes image timestamps.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    chrono::DateTime::from_timestamp(secs, nanos)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn stat_cache_path(store: &Store, opts: &BuildOptions) -> Option<std::path::PathBuf> {
    let dir = opts.context_dir.as_ref()?;
    let abs = std::fs::canonicalize(dir).ok()?;
    let key = strata_oci::Digest::sha256_of(abs.to_string_lossy().as_bytes());
    Some(
        store
            .root()
            .join("build-v1/statcache")
            .join(format!("{}.json", &key.hex()[..32])),
    )
}

/// Build `opts` into an image in `store`.
pub fn build(store: &Store, opts: &BuildOptions, progress: &dyn Progress) -> Result<BuildOutcome> {
    build_with_cache(store, opts, progress, None)
}

/// [`build`], asking `cache_source` for keys the local cache does not have.
pub fn build_with_cache(
    store: &Store,
    opts: &BuildOptions,
    progress: &dyn Progress,
    cache_source: Option<&dyn crate::remote_cache::CacheSource>,
) -> Result<BuildOutcome> {
    let mut build_args = opts.build_args.clone();
    if let Some(epoch) = opts.source_date_epoch {
        build_args
            .entry("SOURCE_DATE_EPOCH".into())
            .or_insert_with(|| epoch.to_string());
    }
    let source_date_epoch = opts.source_date_epoch.or_else(|| {
        build_args
            .get("SOURCE_DATE_EPOCH")
            .and_then(|v| v.parse().ok())
    });
    let plan = plan::plan(
        store,
        &opts.dockerfile,
        &opts.dockerfile_name,
        &build_args,
        opts.target.as_deref(),
        opts.platform.clone(),
    )?;
    let mut opts = opts.clone();
    opts.source_date_epoch = source_date_epoch;
    // Resolve the context once: RUN steps run in their bundle directory, where a relative
    // path (`strata build .`) would name something else entirely.
    if let Some(dir) = &opts.context_dir {
        let abs = std::fs::canonicalize(dir)
            .map_err(|e| BuildError::not_found(format!("build context {}: {e}", dir.display())))?;
        opts.context_dir = Some(abs);
    }
    let now = match source_date_epoch {
        Some(e) => rfc3339(e, 0),
        None => {
            let t = chrono::Utc::now();
            rfc3339(t.timestamp(), t.timestamp_subsec_nanos())
        }
    };
    let stat_path = stat_cache_path(store, &opts);
    let stat_cache = stat_path
        .as_deref()
        .map(StatCache::load)
        .unwrap_or_default();
    // Two RUN steps per core: with exactly one per core, three ready stages on two cores
    // leave a core idle for the whole of the third, and steps often wait on I/O.
    let parallelism = if opts.parallelism == 0 {
        2 * std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        opts.parallelism
    };
    // Keep GC away from staging dirs and fresh blobs while the build runs.
    let _hold = store.hold_shared()?;
    let shared = Shared {
        store,
        opts: &opts,
        plan: &plan,
        progress,
        next_id: AtomicUsize::new(1),
        results: Mutex::new(HashMap::new()),
        done: Condvar::new(),
        context: Mutex::new(None),
        stat_cache: Mutex::new(stat_cache),
        executor: Mutex::new(None),
        slots: Slots::new(parallelism),
        cached: AtomicUsize::new(0),
        executed: AtomicUsize::new(0),
        now,
        cache_source,
        used: Mutex::new(Vec::new()),
    };
    announce_inputs(&shared);
    let stages = plan.required_stages();
    let errors: Mutex<Vec<BuildError>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for &i in &stages {
            let shared = &shared;
            let errors = &errors;
            s.spawn(move || {
                let r = crate::stage::run_stage(shared, i);
                match r {
                    Ok(res) => shared.finish_stage(i, Ok(Arc::new(res))),
                    Err(e) => {
                        errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                        shared.finish_stage(i, Err(()));
                    }
                }
            });
        }
    });
    if let Some(path) = &stat_path {
        let cache = shared.stat_cache.lock().unwrap_or_else(|e| e.into_inner());
        let _ = cache.save(path);
    }
    let mut errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    // Report the root cause, not a dependent stage's "stage N failed".
    errors.sort_by_key(|e| {
        e.kind == crate::BuildErrorKind::Internal && e.message.starts_with("stage ")
    });
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let target = shared.wait_stage(plan.target)?;
    let mut state = target.state.clone();
    if !opts.labels.is_empty() {
        let labels = state
            .container()
            .labels
            .get_or_insert_with(Default::default);
        labels.extend(opts.labels.clone());
    }
    finalize_created(&mut state);
    // SOURCE_DATE_EPOCH pins the image's creation time, whatever the base's history says.
    if let Some(epoch) = opts.source_date_epoch {
        state.config.created = Some(rfc3339(epoch, 0));
    }
    let id = shared.next_id();
    let start = Instant::now();
    let name = if opts.output_only {
        "exporting to client"
    } else {
        "exporting to image"
    };
    progress.event(Event::Started {
        id,
        name: name.into(),
    });
    let image = export::export(store, &state, !opts.output_only)?;
    if !opts.output_only {
        progress.event(Event::Note {
            id,
            text: format!("writing image {}", image.id),
        });
    }
    progress.event(Event::Done {
        id,
        elapsed: start.elapsed(),
    });
    let image_stages = crate::remote_cache::image_stages(&plan);
    let mut steps = shared.used.into_inner().unwrap_or_else(|e| e.into_inner());
    for s in &mut steps {
        s.in_image = image_stages.contains(&s.stage);
    }
    Ok(BuildOutcome {
        image,
        state,
        cached_steps: shared.cached.load(Ordering::SeqCst),
        executed_steps: shared.executed.load(Ordering::SeqCst),
        steps,
    })
}

/// The image's `created` is its newest history entry, so a rebuild answered entirely from
/// the cache yields the same config, and the same image ID.
fn finalize_created(state: &mut ImageState) {
    let newest = state
        .config
        .history
        .iter()
        .filter_map(|h| h.created.clone())
        .max();
    state.config.created = newest.or_else(|| Some(state.created.clone()));
}
