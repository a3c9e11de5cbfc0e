//! Shared by the `build_*` end-to-end suites: a temporary store holding the busybox base
//! image, context directories, and helpers that run `strata build` and read back the
//! result (config, history, exported root filesystem, progress lines).
//!
//! The base image is imported once per test binary into a template store and saved to an
//! archive; every test store loads that archive, so all stores share one base image ID.
#![allow(dead_code)]

pub mod docker;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use serde_json::Value;
use strata_testkit::{busybox, require_root, require_tool, Strata, TempRoot};

pub const BIN: &str = env!("CARGO_BIN_EXE_strata");

/// The busybox base image as an archive, cached under `target/fixtures/`. One process makes
/// it while the others wait on a lock: every store of every test then holds the same base
/// image ID (an import stamps the time, so two imports would differ).
pub fn base_archive() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = strata_testkit::fixtures_dir().unwrap();
        let out = dir.join("build-base-busybox.tar");
        let lock = std::fs::File::create(dir.join("build-base-busybox.lock")).unwrap();
        lock.lock().unwrap();
        if out.is_file() {
            return out;
        }
        let tmp = TempRoot::new().unwrap();
        let fx = busybox().unwrap();
        let s = Strata::new(BIN, tmp.store());
        s.run(&["import", fx.rootfs.to_str().unwrap(), "busybox:latest"])
            .unwrap();
        let staged = tmp.path().join("busybox.tar");
        s.run(&["save", "-o", staged.to_str().unwrap(), "busybox:latest"])
            .unwrap();
        let partial = out.with_extension(format!("tar.{}", std::process::id()));
        std::fs::copy(&staged, &partial).unwrap();
        std::fs::rename(&partial, &out).unwrap();
        out
    })
}

/// True when builds can run here (root and runc); panics under `STRATA_CI=1` otherwise.
pub fn can_build() -> bool {
    require_root().unwrap() && require_tool("runc").unwrap().is_some()
}

/// Skip (outside CI) when builds cannot run here.
#[macro_export]
macro_rules! env_or_skip {
    () => {
        match $crate::build_common::Env::new() {
            Some(e) => e,
            None => return,
        }
    };
}

/// A test's store and scratch space.
pub struct Env {
    pub tmp: TempRoot,
    pub s: Strata,
    n: AtomicUsize,
}

/// The result of one `strata build`.
pub struct Built {
    pub ok: bool,
    pub code: Option<i32>,
    /// The image ID from `--iidfile` (empty on failure).
    pub id: String,
    pub stdout: String,
    pub stderr: String,
}

impl Built {
    /// Progress status of the step whose `#N` line contains `needle`.
    pub fn step(&self, needle: &str) -> Step {
        step_status(&self.stderr, needle)
    }

    /// Number of steps other than FROM reported `#N CACHED` (a base found in the store is
    /// CACHED too, as in BuildKit's output).
    pub fn cached_count(&self) -> usize {
        let from_ids: Vec<&str> = self
            .stderr
            .lines()
            .filter_map(|l| {
                let (num, rest) = l.strip_prefix('#')?.split_once(' ')?;
                (rest.starts_with('[') && rest.contains("] FROM ")).then_some(num)
            })
            .collect();
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix('#')?.strip_suffix(" CACHED"))
            .filter(|num| !from_ids.contains(num))
            .count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Cached,
    Ran,
    Failed,
    Missing,
}

/// Find the vertex line containing `needle` and report what happened to it.
pub fn step_status(stderr: &str, needle: &str) -> Step {
    let Some(id) = stderr.lines().find_map(|l| {
        let (num, rest) = l.strip_prefix('#')?.split_once(' ')?;
        (rest.starts_with('[') && rest.contains(needle)).then(|| num.to_owned())
    }) else {
        return Step::Missing;
    };
    let prefix = format!("#{id} ");
    for l in stderr.lines().filter(|l| l.starts_with(&prefix)) {
        let rest = &l[prefix.len()..];
        if rest == "CACHED" {
            return Step::Cached;
        }
        if rest.starts_with("DONE") {
            return Step::Ran;
        }
        if rest.starts_with("ERROR") {
            return Step::Failed;
        }
    }
    Step::Missing
}

impl Env {
    /// A fresh store with `busybox:latest` loaded; `None` when builds cannot run here.
    pub fn new() -> Option<Env> {
        if !can_build() {
            return None;
        }
        let tmp = TempRoot::new().unwrap();
        let s = Strata::new(BIN, tmp.store());
        s.run(&["load", "-i", base_archive().to_str().unwrap()])
            .unwrap();
        Some(Env {
            tmp,
            s,
            n: AtomicUsize::new(0),
        })
    }

    /// A second, empty-but-for-the-base store in the same scratch directory.
    pub fn other_store(&self) -> Strata {
        let s = Strata::new(BIN, self.tmp.store2());
        s.run(&["load", "-i", base_archive().to_str().unwrap()])
            .unwrap();
        s
    }

    /// A fresh scratch path (not created).
    pub fn path(&self, prefix: &str) -> PathBuf {
        let n = self.n.fetch_add(1, Ordering::SeqCst);
        self.tmp.path().join(format!("{prefix}{n}"))
    }

    /// A new context directory with `files` (`name`, contents); names ending in `/` are
    /// directories.
    pub fn ctx(&self, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.path("ctx");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, data) in files {
            write(&dir, name, data);
        }
        dir
    }

    /// A context holding only `Dockerfile`.
    pub fn df(&self, dockerfile: &str) -> PathBuf {
        self.ctx(&[("Dockerfile", dockerfile)])
    }

    /// `strata build --progress plain --iidfile … ARGS CTX` in this env's store.
    pub fn build(&self, ctx: &Path, args: &[&str]) -> Built {
        build_in(&self.s, &self.path("iid"), ctx, args, &[])
    }

    /// Like [`Env::build`] with extra environment variables.
    pub fn build_env(&self, ctx: &Path, args: &[&str], env: &[(&str, &str)]) -> Built {
        build_in(&self.s, &self.path("iid"), ctx, args, env)
    }

    /// Build and require success.
    pub fn build_ok(&self, ctx: &Path, args: &[&str]) -> Built {
        let b = self.build(ctx, args);
        assert!(
            b.ok,
            "build failed ({:?}):\n{}\n{}",
            b.code, b.stdout, b.stderr
        );
        b
    }

    /// Build and require failure with exit code 1; returns stderr.
    pub fn build_err(&self, ctx: &Path, args: &[&str]) -> String {
        let b = self.build(ctx, args);
        assert!(!b.ok, "build unexpectedly succeeded:\n{}", b.stderr);
        assert_eq!(b.code, Some(1), "{}", b.stderr);
        b.stderr
    }

    /// `strata inspect IMAGE`, the first element.
    pub fn inspect(&self, image: &str) -> Value {
        let out = self.s.run(&["inspect", image]).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        v[0].clone()
    }

    /// The container config (`Config`) of `image`.
    pub fn config(&self, image: &str) -> Value {
        self.inspect(image)["Config"].clone()
    }

    /// History `created_by` entries, newest first (as `docker history --no-trunc`).
    pub fn history(&self, image: &str) -> Vec<String> {
        let out = self
            .s
            .run(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", image])
            .unwrap();
        out.lines().map(str::to_owned).collect()
    }

    /// Build with `-o type=local` into a fresh directory and return it.
    pub fn rootfs(&self, ctx: &Path, args: &[&str]) -> PathBuf {
        let dest = self.path("rootfs");
        let spec = format!("type=local,dest={}", dest.display());
        let mut all = vec!["-o", spec.as_str()];
        all.extend_from_slice(args);
        self.build_ok(ctx, &all);
        dest
    }

    /// Build a Dockerfile-only context and return the root filesystem.
    pub fn rootfs_of(&self, dockerfile: &str) -> PathBuf {
        let ctx = self.df(dockerfile);
        self.rootfs(&ctx, &[])
    }

    /// Run any strata command in this store.
    pub fn strata(&self, args: &[&str]) -> Output {
        self.s.output(args).unwrap()
    }
}

pub fn build_in(s: &Strata, iid: &Path, ctx: &Path, args: &[&str], env: &[(&str, &str)]) -> Built {
    let mut cmd = s.command();
    cmd.arg("build")
        .arg("--progress")
        .arg("plain")
        .arg("--iidfile")
        .arg(iid)
        .args(args)
        .arg(ctx);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let id = std::fs::read_to_string(iid).unwrap_or_default();
    Built {
        ok: out.status.success(),
        code: out.status.code(),
        id,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Write `data` to `dir/name` (a directory when `name` ends in `/`), creating parents.
pub fn write(dir: &Path, name: &str, data: &str) {
    let p = dir.join(name);
    if name.ends_with('/') {
        std::fs::create_dir_all(&p).unwrap();
        return;
    }
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
}

pub fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel))
        .unwrap_or_else(|e| panic!("reading {rel} in {}: {e}", root.display()))
}

pub fn mode(root: &Path, rel: &str) -> u32 {
    std::fs::symlink_metadata(root.join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .permissions()
        .mode()
        & 0o7777
}

pub fn owner(root: &Path, rel: &str) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    (m.uid(), m.gid())
}

pub fn exists(root: &Path, rel: &str) -> bool {
    std::fs::symlink_metadata(root.join(rel)).is_ok()
}

pub fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Entries (path, header) of the tar at `path`.
pub fn tar_entries(bytes: &[u8]) -> Vec<(String, tar::Header)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.header().clone(),
            )
        })
        .collect()
}

/// The layer tars of `image`, bottom first, read from a `strata save` archive.
pub fn layers(env: &Env, image: &str) -> Vec<Vec<u8>> {
    let out = env.path("save").with_extension("tar");
    env.s
        .run(&["save", "-o", out.to_str().unwrap(), image])
        .unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let mut files = std::collections::HashMap::new();
    let mut a = tar::Archive::new(&bytes[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let data = files[l.as_str().unwrap()].clone();
            let mut plain = Vec::new();
            let mut r = strata_layer::decompress(&data[..], None).unwrap();
            std::io::Read::read_to_end(&mut r, &mut plain).unwrap();
            plain
        })
        .collect()
}

/// The raw bytes of `strata save IMAGE` (every blob of the image).
pub fn saved_bytes(env: &Env, image: &str) -> Vec<u8> {
    let out = env.path("save").with_extension("tar");
    env.s
        .run(&["save", "-o", out.to_str().unwrap(), image])
        .unwrap();
    std::fs::read(&out).unwrap()
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
