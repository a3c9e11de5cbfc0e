//! RUN: execute a command in runc over the stage's snapshots, with `--mount`s, and keep the
//! overlay upper dir as the step's layer.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use strata_dockerfile::ast::{
    CommandLine, NetworkMode as DfNetwork, RunSpec as Run, SecurityMode as DfSecurity,
};
use strata_dockerfile::instructions::mount::CacheSharing;
use strata_dockerfile::MountSpec;
use strata_exec::{
    Executor, Mount, MountKind, NetworkMode, ProcessArgs, RootfsSpec, RunIo, RunSpec, SecurityMode,
};

use crate::error::{BuildError, BuildErrorKind, Result};
use crate::progress::{Event, Progress};
use crate::{BuildOptions, SecretSource};

/// A directory a `RUN --mount` reads from: the context or another stage's merged view.
pub type MountSources<'a> = &'a dyn Fn(Option<&str>) -> Result<PathBuf>;

/// Everything a RUN needs besides the command.
pub struct RunContext<'a> {
    pub opts: &'a BuildOptions,
    pub store_root: &'a Path,
    pub executor: &'a dyn Executor,
    pub progress: &'a dyn Progress,
    pub id: usize,
    pub lowers_top_first: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub env: Vec<(String, String)>,
    pub shell: Vec<String>,
    pub workdir: String,
    pub user: String,
    pub mount_source: MountSources<'a>,
}

/// Keeps secret files written for one run, deleted on drop.
struct TempSecrets(Vec<PathBuf>);

impl Drop for TempSecrets {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
        }
    }
}

fn cache_dir(store_root: &Path, id: &str) -> PathBuf {
    let hex = strata_oci::Digest::sha256_of(id.as_bytes());
    store_root
        .join("build-v1/cache-mounts")
        .join(&hex.hex()[..32])
}

/// Sharing a cache mount: `locked` holds an exclusive flock for the run; `private` uses the
/// shared directory when nobody else holds it and a fresh one otherwise.
fn lock_cache(dir: &Path, sharing: CacheSharing) -> Result<(PathBuf, Option<fs::File>)> {
    fs::create_dir_all(dir)?;
    let lock_path = dir.with_extension("lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    match sharing {
        CacheSharing::Shared => {
            f.lock_shared()?;
            Ok((dir.to_path_buf(), Some(f)))
        }
        CacheSharing::Locked => {
            f.lock()?;
            Ok((dir.to_path_buf(), Some(f)))
        }
        CacheSharing::Private => {
            if f.try_lock().is_ok() {
                Ok((dir.to_path_buf(), Some(f)))
            } else {
                let fresh = dir.with_extension(format!("private-{}", std::process::id()));
                fs::create_dir_all(&fresh)?;
                Ok((fresh, None))
            }
        }
    }
}

/// Run one RUN instruction. Returns when the command exited 0.
pub fn execute(run: &Run, rc: &RunContext<'_>) -> Result<()> {
    let opts = rc.opts;
    let args = match &run.command {
        CommandLine::Exec(a) => ProcessArgs::Exec(a.clone()),
        CommandLine::Shell(cmd) => {
            // Heredoc bodies become the command's stdin-free script: BuildKit runs
            // `RUN <<EOF` bodies through the shell.
            let command = if run.heredocs.is_empty() {
                cmd.clone()
            } else {
                heredoc_command(cmd, &run.heredocs)
            };
            ProcessArgs::Shell {
                shell: rc.shell.clone(),
                command,
            }
        }
    };
    let mut spec = RunSpec::new(
        RootfsSpec {
            lowers: rc.lowers_top_first.clone(),
            upper: rc.upper.clone(),
            work: rc.work.clone(),
        },
        args,
    );
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (k, v) in &rc.env {
        if env.insert(k.clone(), v.clone()).is_none() {
            order.push(k.clone());
        }
    }
    if !env.contains_key("PATH") {
        env.insert("PATH".into(), strata_exec::DEFAULT_PATH.into());
        order.insert(0, "PATH".into());
    }
    spec.cwd = rc.workdir.clone();
    spec.user = (!rc.user.is_empty()).then(|| rc.user.clone());
    let network = run.network.unwrap_or(DfNetwork::Default);
    spec.network = match (network, opts.network) {
        (DfNetwork::None, _) => NetworkMode::None,
        (DfNetwork::Host, _) => NetworkMode::Host,
        (DfNetwork::Default, crate::BuildNetwork::None) => NetworkMode::None,
        (DfNetwork::Default, _) => NetworkMode::Host,
    };
    if run.security == Some(DfSecurity::Insecure) {
        if !opts.allow_insecure {
            return Err(BuildError::new(
                BuildErrorKind::Unsupported,
                "RUN --security=insecure needs `--allow security.insecure`",
            ));
        }
        spec.security = SecurityMode::Insecure;
    }
    if let Some(shm) = opts.shm_size {
        spec.shm_size = shm;
    }
    spec.ulimits = opts.ulimits.clone();
    spec.extra_hosts = opts.extra_hosts.clone();
    spec.limits = opts.limits.clone();

    let mut secrets = TempSecrets(Vec::new());
    let mut locks = Vec::new();
    let mut ssh_n = 0;
    for m in run.mounts.iter().cloned() {
        match m {
            MountSpec::Bind {
                target,
                source,
                from,
                read_write,
            } => {
                let base = (rc.mount_source)(from.as_deref())?;
                let src = base.join(crate::copy_step::clean_rel(source.as_deref().unwrap_or("")));
                if fs::symlink_metadata(&src).is_err() {
                    return Err(BuildError::not_found(format!(
                        "RUN --mount=type=bind: source {} not found",
                        source.as_deref().unwrap_or("/")
                    )));
                }
                spec.mounts.push(Mount {
                    target: abs_target(&target, &rc.workdir),
                    kind: MountKind::Bind {
                        source: src,
                        readonly: !read_write,
                    },
                });
            }
            MountSpec::Cache {
                target,
                id,
                read_only,
                sharing,
                from,
                source,
                owner,
            } => {
                if from.is_some() || source.is_some() {
                    return Err(BuildError::unsupported(
                        "RUN --mount=type=cache with from= or source=",
                    ));
                }
                let target = abs_target(&target, &rc.workdir);
                let id = id.clone().unwrap_or_else(|| target.clone());
                let dir = cache_dir(rc.store_root, &id);
                let fresh = !dir.exists();
                let (dir, lock) = lock_cache(&dir, sharing)?;
                if fresh {
                    use std::os::unix::fs::PermissionsExt;
                    fs::set_permissions(
                        &dir,
                        fs::Permissions::from_mode(owner.mode.unwrap_or(0o755)),
                    )?;
                    std::os::unix::fs::chown(
                        &dir,
                        Some(owner.uid.unwrap_or(0)),
                        Some(owner.gid.unwrap_or(0)),
                    )?;
                }
                locks.extend(lock);
                spec.mounts.push(Mount {
                    target,
                    kind: MountKind::Cache {
                        source: dir,
                        readonly: read_only,
                    },
                });
            }
            MountSpec::Tmpfs { target, size } => spec.mounts.push(Mount {
                target: abs_target(&target, &rc.workdir),
                kind: MountKind::Tmpfs { size },
            }),
            MountSpec::Secret {
                id,
                target,
                env: env_name,
                required,
                owner,
            } => {
                let id = id
                    .clone()
                    .or_else(|| {
                        target
                            .as_ref()
                            .map(|t| t.rsplit('/').next().unwrap_or(t).to_owned())
                    })
                    .ok_or_else(|| {
                        BuildError::new(
                            BuildErrorKind::Dockerfile,
                            "secret mount needs id= or target=",
                        )
                    })?;
                let Some(src) = opts.secrets.get(&id) else {
                    if required {
                        return Err(BuildError::not_found(format!(
                            "secret {id} not found\nhint: pass it with `--secret id={id},src=FILE`"
                        )));
                    }
                    continue;
                };
                let value = match src {
                    SecretSource::File(p) => fs::read(p).map_err(|e| {
                        BuildError::not_found(format!(
                            "secret {id}: cannot read {}: {e}",
                            p.display()
                        ))
                    })?,
                    SecretSource::Env(name) => {
                        std::env::var(name).map(String::into_bytes).map_err(|_| {
                            BuildError::not_found(format!(
                                "secret {id}: environment variable {name} is not set"
                            ))
                        })?
                    }
                };
                if let Some(name) = env_name {
                    env.insert(name.clone(), String::from_utf8_lossy(&value).into_owned());
                    order.push(name.clone());
                    if target.is_none() {
                        continue;
                    }
                }
                // Staged on tmpfs so the secret never touches the store's disk.
                let staged = Path::new("/dev/shm").join(format!(
                    "strata-secret-{}-{}",
                    std::process::id(),
                    secrets.0.len()
                ));
                let mut f = fs::File::create(&staged)?;
                f.write_all(&value)?;
                secrets.0.push(staged.clone());
                let target = target
                    .clone()
                    .map(|t| abs_target(&t, &rc.workdir))
                    .unwrap_or_else(|| format!("/run/secrets/{id}"));
                spec.mounts.push(Mount {
                    target,
                    kind: MountKind::Secret {
                        source: staged,
                        mode: owner.mode.unwrap_or(0o400),
                        uid: owner.uid.unwrap_or(0),
                        gid: owner.gid.unwrap_or(0),
                    },
                });
            }
            MountSpec::Ssh {
                id,
                target,
                required,
                owner: _,
            } => {
                let id = id.clone().unwrap_or_else(|| "default".to_owned());
                let Some(sock) = opts.ssh.get(&id) else {
                    if required {
                        return Err(BuildError::not_found(format!(
                            "ssh agent {id} not provided\nhint: pass it with `--ssh {id}=SOCKET` or `--ssh default`"
                        )));
                    }
                    continue;
                };
                let mut mount = Mount::ssh(ssh_n, sock.clone());
                if let Some(t) = target {
                    mount.target = abs_target(&t, &rc.workdir);
                }
                ssh_n += 1;
                spec.mounts.push(mount);
            }
            MountSpec::Unexpanded { raw: s } => {
                return Err(BuildError::internal(format!(
                    "--mount={s} was not expanded"
                )));
            }
        }
    }
    spec.env = order
        .iter()
        .filter_map(|k| env.get(k).map(|v| format!("{k}={v}")))
        .collect();
    spec.env.dedup();

    let start = Instant::now();
    let progress = rc.progress;
    let id = rc.id;
    let line_buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = LineSink {
        buf: line_buf.clone(),
        progress,
        id,
        start,
    };
    let sink2 = LineSink {
        buf: Arc::new(Mutex::new(Vec::new())),
        progress,
        id,
        start,
    };
    let mut io = RunIo::new(sink, sink2);
    io.tail_lines = 20;
    let status = rc.executor.run(&spec, &mut io)?;
    drop(io);
    drop(secrets);
    drop(locks);
    if !status.success() {
        let argv = spec.args.argv();
        let mut err = BuildError::new(
            BuildErrorKind::StepFailed,
            format!(
                "process \"{}\" did not complete successfully: exit code: {}",
                argv.join(" "),
                status.code
            ),
        );
        err.output_tail = status.tail.clone();
        return Err(err);
    }
    Ok(())
}

/// BuildKit runs a heredoc RUN by feeding the body to the shell command line.
fn heredoc_command(cmd: &str, heredocs: &[strata_dockerfile::syntax::Heredoc]) -> String {
    // `RUN <<EOF` alone: the body is the script itself (BuildKit runs it with the shell).
    if let [h] = heredocs {
        let marker = cmd
            .trim()
            .trim_start_matches("<<")
            .trim_start_matches('-')
            .trim_matches(|c| c == '"' || c == '\'');
        if cmd.trim().starts_with("<<") && marker == h.name {
            return h.content.clone();
        }
    }
    let mut out = cmd.to_owned();
    for h in heredocs {
        out.push('\n');
        out.push_str(&h.content);
        if !h.content.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&h.name);
    }
    out
}

fn abs_target(target: &str, workdir: &str) -> String {
    if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("{}/{}", workdir.trim_end_matches('/'), target)
    }
}

/// Splits a RUN's output into lines for the progress view.
struct LineSink<'a> {
    buf: Arc<Mutex<Vec<u8>>>,
    progress: &'a dyn Progress,
    id: usize,
    start: Instant,
}

impl Write for LineSink<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        buf.extend_from_slice(data);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            self.progress.event(Event::Output {
                id: self.id,
                elapsed: self.start.elapsed(),
                line: text,
            });
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        if !buf.is_empty() {
            let text = String::from_utf8_lossy(&buf).into_owned();
            buf.clear();
            self.progress.event(Event::Output {
                id: self.id,
                elapsed: self.start.elapsed(),
                line: text,
            });
        }
        Ok(())
    }
}

impl Drop for LineSink<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
