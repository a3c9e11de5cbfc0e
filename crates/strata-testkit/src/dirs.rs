//! Where fixtures and temporary stores live.
//!
//! Temporary roots are created under the workspace `target/` directory rather than `/tmp`,
//! which may be a small tmpfs; archive and crash tests write hundreds of megabytes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The Cargo target directory of this workspace (`$CARGO_TARGET_DIR` or `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // crates/strata-testkit -> workspace root
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(|root| root.join("target"))
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// `target/fixtures/`, created on demand: the cache for fixtures that are costly to build.
pub fn fixtures_dir() -> Result<PathBuf> {
    let dir = target_dir().join("fixtures");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// A temporary directory under `target/tmp/`, removed on drop, with a `store` sub-path to
/// pass as `--root` to strata.
pub struct TempRoot {
    dir: tempfile::TempDir,
}

impl TempRoot {
    pub fn new() -> Result<Self> {
        let parent = target_dir().join("tmp");
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("strata-test-")
            .tempdir_in(&parent)
            .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
        Ok(Self { dir })
    }

    /// The temporary directory itself, for scratch files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The store root inside it (not created: strata creates its own root).
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A second store root, for save in one store / load in another.
    pub fn store2(&self) -> PathBuf {
        self.dir.path().join("store2")
    }
}
