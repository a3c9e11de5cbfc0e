//! `strata build`: turn a Dockerfile and a context into an image in the local store.
//!
//! The pipeline follows BuildKit's split:
//! - [`plan`]: the frontend (`strata-dockerfile`) parses and resolves the Dockerfile; base
//!   images come from the store; the stage graph says which stages the target needs;
//! - [`solver`]: stages run on their own threads as soon as the stages they need are done;
//!   each step gets a content cache key ([`cache`]) from its parent's key, its operation, the
//!   build args it used and the digests of its inputs ([`context`] hashes the context
//!   incrementally); a hit reuses the layer, a miss runs the step ([`run_step`],
//!   [`copy_step`]) and explains why;
//! - [`export`]: the final stage's config and layers become an OCI manifest in the store.

mod add_archive;
pub mod cache;
pub mod context;
pub mod copy_step;
pub mod error;
pub mod export;
pub mod file_index;
pub mod fsview;
pub mod git_source;
pub mod layer_out;
pub mod plan;
pub mod progress;
pub mod remote_cache;
pub mod remote_source;
pub mod run_step;
pub mod solver;
mod stage;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

pub use error::{BuildError, BuildErrorKind, Result};
pub use progress::{Event, Progress};
pub use solver::{build, build_with_cache, BuildOutcome};

/// `--network` for the whole build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildNetwork {
    /// RUN steps share the host's network (there is no bridge without a daemon).
    #[default]
    Default,
    None,
    Host,
}

/// Where a `--secret` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// Everything `strata build` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Dockerfile's text and the name errors show.
    pub dockerfile: String,
    pub dockerfile_name: String,
    /// Identifies "the same Dockerfile" across builds, for explaining cache misses.
    pub dockerfile_id: String,
    /// The context directory; `None` for a Dockerfile-only build.
    pub context_dir: Option<PathBuf>,
    /// `.dockerignore` patterns in effect.
    pub ignore_patterns: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    /// `--platform`, parsed.
    pub platform: Option<strata_dockerfile::scope::Platform>,
    pub no_cache: bool,
    /// Stages (`--no-cache-filter`) that must not use the cache.
    pub no_cache_filter: Vec<String>,
    /// `--label`s added to the final image.
    pub labels: BTreeMap<String, String>,
    pub network: BuildNetwork,
    pub secrets: HashMap<String, SecretSource>,
    pub ssh: HashMap<String, PathBuf>,
    pub allow_insecure: bool,
    pub shm_size: Option<u64>,
    pub ulimits: Vec<strata_exec::Ulimit>,
    /// `SOURCE_DATE_EPOCH`: clamps timestamps in config, history and new layers.
    pub source_date_epoch: Option<i64>,
    /// Report why each step missed the cache.
    pub explain: bool,
    /// Stages may run in parallel up to this many RUN steps at once (0: twice the cores).
    pub parallelism: usize,
}
