//! The runc backend: one `runc run` per step, from a bundle generated under a state dir.
//!
//! State layout (`state_dir`): `runc/` is runc's `--root` (container state, private to this
//! executor so it never mixes with other runc users), `bundles/<id>/` one bundle per run.
//! Container ids are unique per process and time, so concurrent runs from several threads or
//! processes sharing a state dir do not collide.
//!
//! cgroups: `linux.cgroupsPath` is left unset and runc uses its cgroupfs driver (no
//! `--systemd-cgroup`), creating `/<id>` below its own cgroup in each hierarchy; this works on
//! hosts with the hybrid v1/v2 layout where crun fails. Resource limits (`linux.resources`
//! memory and cpu) are written only when a run asks for them (`build --memory`, `--cpu-*`),
//! so by default no controller needs to be writable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::bundle::{mkdir, prepare_mounts};
use crate::error::{ExecError, ExecErrorKind};
use crate::mounts::MountStack;
use crate::ociconfig::{bounding_set, build_config, process_env};
use crate::output::{pump, Tail};
use crate::rootpath::mkdir_all_in_root;
use crate::spec::{ExitStatusInfo, RunIo, RunSpec};
use crate::stubs::Stubs;
use crate::user::resolve_user;
use crate::Executor;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// How often a cancellation flag is checked while a container runs.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// Runs steps with the `runc` binary.
#[derive(Debug, Clone)]
pub struct RuncExecutor {
    pub(crate) runtime: PathBuf,
    pub(crate) state_dir: PathBuf,
}

impl RuncExecutor {
    /// An executor keeping bundles and runtime state under `state_dir` (created if missing),
    /// using the `runc` found on `PATH`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Result<Self, ExecError> {
        let runtime = find_runc().ok_or_else(|| {
            ExecError::new(
                ExecErrorKind::RuntimeMissing,
                "runc not found on PATH\nhint: install it (Debian: apt-get install runc)",
            )
        })?;
        Self::with_runtime(state_dir, runtime)
    }

    /// Like [`RuncExecutor::new`] with an explicit runtime binary.
    pub fn with_runtime(
        state_dir: impl Into<PathBuf>,
        runtime: impl Into<PathBuf>,
    ) -> Result<Self, ExecError> {
        let state_dir = state_dir.into();
        let runtime = runtime.into();
        if !runtime.is_file() {
            return Err(ExecError::new(
                ExecErrorKind::RuntimeMissing,
                format!("runtime {} not found", runtime.display()),
            ));
        }
        mkdir(&state_dir.join("bundles"))?;
        Ok(Self { runtime, state_dir })
    }

    /// Whether a `runc` binary is on `PATH` (for callers and tests deciding what to run).
    pub fn available() -> bool {
        find_runc().is_some()
    }

    /// The runtime binary in use.
    pub fn runtime(&self) -> &Path {
        &self.runtime
    }

    pub(crate) fn runc_root(&self) -> PathBuf {
        self.state_dir.join("runc")
    }

    fn unique_id() -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!(
            "strata-{}-{}-{:08x}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed),
            nanos
        )
    }
}

fn find_runc() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("runc"))
        .find(|p| p.is_file())
}

impl Executor for RuncExecutor {
    fn run(&self, spec: &RunSpec, io: &mut RunIo<'_>) -> Result<ExitStatusInfo, ExecError> {
        spec.validate()?;
        for dir in spec
            .rootfs
            .lowers
            .iter()
            .chain([&spec.rootfs.upper, &spec.rootfs.work])
        {
            if !dir.is_dir() {
                return Err(ExecError::invalid(format!(
                    "rootfs directory {} does not exist",
                    dir.display()
                )));
            }
        }
        let id = Self::unique_id();
        let bundle = self.state_dir.join("bundles").join(&id);
        mkdir(&bundle.join("rootfs"))?;
        let mut container = Container {
            runtime: self.runtime.clone(),
            runc_root: self.runc_root(),
            id,
            bundle,
            upper: spec.rootfs.upper.clone(),
            mounts: MountStack::default(),
            stubs: None,
            started: false,
            finished: false,
        };
        let result = container.run(spec, io);
        let cleanup = container.finish();
        let status = result?;
        cleanup?;
        Ok(status)
    }
}

/// One run's resources; dropping it (on error or panic) releases them.
struct Container {
    runtime: PathBuf,
    runc_root: PathBuf,
    id: String,
    bundle: PathBuf,
    upper: PathBuf,
    mounts: MountStack,
    stubs: Option<Stubs>,
    started: bool,
    finished: bool,
}

impl Container {
    fn rootfs(&self) -> PathBuf {
        self.bundle.join("rootfs")
    }

    fn run(&mut self, spec: &RunSpec, io: &mut RunIo<'_>) -> Result<ExitStatusInfo, ExecError> {
        let rootfs = self.rootfs();
        let lowers = if spec.rootfs.lowers.is_empty() {
            let empty = self.bundle.join("empty");
            mkdir(&empty)?;
            vec![empty]
        } else {
            spec.rootfs.lowers.clone()
        };
        self.mounts
            .overlay(&lowers, &spec.rootfs.upper, &spec.rootfs.work, &rootfs)?;

        let user = resolve_user(&rootfs, spec.user.as_deref().unwrap_or(""))?;
        // The working directory is a real change of the step (docker creates it too).
        mkdir_all_in_root(&rootfs, &spec.cwd, 0o755)
            .map_err(|e| ExecError::io("create working directory", Path::new(&spec.cwd), e))?;

        let mounts = prepare_mounts(spec, &self.bundle, &mut self.mounts)?;
        let destinations: Vec<&str> = mounts.iter().map(|m| m.destination.as_str()).collect();
        self.stubs = Some(
            Stubs::record(&rootfs, &destinations)
                .map_err(|e| ExecError::io("inspect mount points in", &rootfs, e))?,
        );
        let env = process_env(spec, &user);
        let config = build_config(spec, &user, env, mounts, bounding_set());
        let config_path = self.bundle.join("config.json");
        let json = serde_json::to_vec_pretty(&config)
            .map_err(|e| ExecError::invalid(format!("serialize runtime config: {e}")))?;
        std::fs::write(&config_path, json).map_err(|e| ExecError::io("write", &config_path, e))?;

        self.spawn_and_wait(io)
    }

    fn spawn_and_wait(&mut self, io: &mut RunIo<'_>) -> Result<ExitStatusInfo, ExecError> {
        let log = self.bundle.join("runc.log");
        let mut cmd = Command::new(&self.runtime);
        cmd.arg("--root")
            .arg(&self.runc_root)
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "run", "--bundle"])
            .arg(&self.bundle)
            .arg(&self.id)
            .stdin(if io.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            ExecError::with_kind_io(
                ExecErrorKind::RuntimeMissing,
                format!("start runtime {}: {e}", self.runtime.display()),
                e,
            )
        })?;
        self.started = true;

        let tail = Mutex::new(Tail::new(io.tail_lines));
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let stdin = child.stdin.take();
        let (out_sink, err_sink, in_src) = (&mut io.stdout, &mut io.stderr, &mut io.stdin);
        let cancel = io.cancel.clone();
        let exited = AtomicBool::new(false);
        let killed = AtomicBool::new(false);
        let (wait, out_res, err_res) = std::thread::scope(|s| {
            if let Some(cancel) = cancel {
                let (exited, killed, this) = (&exited, &killed, &*self);
                s.spawn(move || {
                    while !exited.load(Ordering::Acquire) {
                        // `runc kill` fails while the container is still being created;
                        // keep trying until it lands or the run ends by itself.
                        if cancel.load(Ordering::Acquire) && this.kill() {
                            killed.store(true, Ordering::Release);
                            return;
                        }
                        std::thread::sleep(CANCEL_POLL);
                    }
                });
            }
            let tail = &tail;
            let out = s.spawn(move || stdout.map_or(Ok(()), |r| pump(r, out_sink.as_mut(), tail)));
            let err = s.spawn(move || stderr.map_or(Ok(()), |r| pump(r, err_sink.as_mut(), tail)));
            if let (Some(mut pipe), Some(src)) = (stdin, in_src.as_mut()) {
                s.spawn(move || {
                    // A process that exits without reading all input is not an error.
                    let _ = std::io::copy(src, &mut pipe);
                    let _ = pipe.flush();
                });
            }
            let wait = child.wait();
            exited.store(true, Ordering::Release);
            let out_res = out.join();
            let err_res = err.join();
            (wait, out_res, err_res)
        });
        let status = wait.map_err(|e| ExecError::io("wait for runtime", &self.runtime, e))?;
        if killed.load(Ordering::Acquire) {
            return Err(ExecError::new(
                ExecErrorKind::Cancelled,
                format!("run of container {} cancelled", self.id),
            ));
        }
        for res in [out_res, err_res] {
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(ExecError::io(
                        "copy output of container",
                        Path::new(&self.id),
                        e,
                    ))
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let code = status.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        });
        let tail = tail
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_lines();
        if code != 0 {
            if let Some(msg) = runtime_errors(&log) {
                let mut message = format!("runtime failed to run container {}: {msg}", self.id);
                // runc also writes its own error to the process's stderr: keep only the
                // lines that add something.
                let extra: Vec<&String> = tail
                    .iter()
                    .filter(|l| !l.trim().is_empty() && !message.contains(l.trim()))
                    .collect();
                if !extra.is_empty() {
                    message.push_str("\noutput:");
                    for l in extra {
                        message.push('\n');
                        message.push_str(l);
                    }
                }
                return Err(ExecError::new(ExecErrorKind::Runtime, message));
            }
        }
        Ok(ExitStatusInfo { code, tail })
    }

    /// Send SIGKILL to the container; false when runc refused (e.g. not created yet).
    fn kill(&self) -> bool {
        Command::new(&self.runtime)
            .arg("--root")
            .arg(&self.runc_root)
            .args(["kill", &self.id, "KILL"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Delete the runtime container, unmount, drop stubs from the upper dir, remove the
    /// bundle. Idempotent; the first failure is returned after trying everything.
    fn finish(&mut self) -> Result<(), ExecError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if self.started {
            // `runc run` deletes the container when it exits; this covers a runtime that died
            // or a panic mid-run. Its "does not exist" failure is expected and ignored.
            let _ = Command::new(&self.runtime)
                .arg("--root")
                .arg(&self.runc_root)
                .args(["delete", "--force", &self.id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let mut first: Option<ExecError> = None;
        match self.mounts.unmount_all() {
            Err(e) => first = Some(e),
            Ok(()) => {
                if let Some(stubs) = &self.stubs {
                    if let Err(e) = stubs.clean(&self.upper) {
                        first = Some(ExecError::io("remove mount stubs from", &self.upper, e));
                    }
                }
                // Only with nothing mounted inside: removal must never reach through a mount.
                if let Err(e) = std::fs::remove_dir_all(&self.bundle) {
                    first.get_or_insert(ExecError::io("remove bundle", &self.bundle, e));
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Error-level messages from runc's JSON log, joined; `None` when it logged no error (the
/// non-zero exit then belongs to the process).
fn runtime_errors(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let msgs: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| matches!(v["level"].as_str(), Some("error" | "fatal")))
        .filter_map(|v| v["msg"].as_str().map(str::to_string))
        .collect();
    (!msgs.is_empty()).then(|| msgs.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_errors_only_from_error_lines() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("runc.log");
        assert_eq!(runtime_errors(&log), None);
        std::fs::write(
            &log,
            "{\"level\":\"warning\",\"msg\":\"w\"}\nnot json\n{\"level\":\"error\",\"msg\":\"exec: \\\"/x\\\": not found\"}\n",
        )
        .unwrap();
        assert_eq!(
            runtime_errors(&log).as_deref(),
            Some("exec: \"/x\": not found")
        );
    }

    #[test]
    fn ids_are_unique() {
        let a = RuncExecutor::unique_id();
        let b = RuncExecutor::unique_id();
        assert_ne!(a, b);
        assert!(a.starts_with("strata-"));
    }

    #[test]
    fn missing_runtime_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let err = RuncExecutor::with_runtime(d.path(), "/nonexistent/runc").unwrap_err();
        assert_eq!(err.kind(), ExecErrorKind::RuntimeMissing);
        assert!(err.to_string().contains("/nonexistent/runc"));
    }
}
