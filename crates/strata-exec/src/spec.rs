//! What to run ([`RunSpec`]), where its output goes ([`RunIo`]) and how it ended
//! ([`ExitStatusInfo`]). Plain data with public fields; [`RunSpec::validate`] checks the parts
//! that do not need the root filesystem.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::error::ExecError;

/// Docker's default `PATH`, used when the step's environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default `/dev/shm` size (64 MiB).
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// Hostname used when the spec gives none.
pub const DEFAULT_HOSTNAME: &str = "strata";

/// One process to run in a fresh container.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The root filesystem: an overlay the executor mounts and unmounts.
    pub rootfs: RootfsSpec,
    /// The command line.
    pub args: ProcessArgs,
    /// `KEY=VALUE` pairs. `PATH` defaults to [`DEFAULT_PATH`], `HOME` to the user's home.
    pub env: Vec<String>,
    /// Absolute working directory; created (root-owned, 0755, as a real change) when missing.
    pub cwd: String,
    /// `uid[:gid]` or `name[:group]` resolved against the rootfs; `None` is root.
    pub user: Option<String>,
    /// The container's hostname (it always gets its own UTS namespace).
    pub hostname: String,
    pub network: NetworkMode,
    /// Extra mounts, applied in order after the standard ones.
    pub mounts: Vec<Mount>,
    /// Size of `/dev/shm` in bytes ([`DEFAULT_SHM_SIZE`] by default).
    pub shm_size: u64,
    /// Resource limits (`--ulimit`); unset limits are inherited from the runtime.
    pub ulimits: Vec<Ulimit>,
    pub security: SecurityMode,
    /// Extra `/etc/hosts` lines as (hostname, address), like `--add-host`.
    pub extra_hosts: Vec<(String, String)>,
    /// cgroup limits (`--memory`, `--cpu-*`), applied by runc.
    pub limits: ResourceLimits,
}

/// cgroup limits for a run, as docker's `--memory`, `--memory-swap`, `--cpu-shares`,
/// `--cpu-quota`, `--cpu-period`, `--cpuset-cpus`, `--cpuset-mems`. All unset: no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
}

impl RunSpec {
    /// A spec with docker's defaults: cwd `/`, root user, no network, 64 MiB shm.
    pub fn new(rootfs: RootfsSpec, args: ProcessArgs) -> Self {
        Self {
            rootfs,
            args,
            env: Vec::new(),
            cwd: "/".to_string(),
            user: None,
            hostname: DEFAULT_HOSTNAME.to_string(),
            network: NetworkMode::None,
            mounts: Vec::new(),
            shm_size: DEFAULT_SHM_SIZE,
            ulimits: Vec::new(),
            security: SecurityMode::Sandbox,
            extra_hosts: Vec::new(),
            limits: ResourceLimits::default(),
        }
    }

    /// Check everything that does not need the root filesystem.
    pub fn validate(&self) -> Result<(), ExecError> {
        if self.args.argv().is_empty() || self.args.argv()[0].is_empty() {
            return Err(ExecError::invalid("empty command: nothing to run"));
        }
        if let ProcessArgs::Shell { shell, .. } = &self.args {
            if shell.is_empty() {
                return Err(ExecError::invalid(
                    "empty SHELL: a shell-form command needs one",
                ));
            }
        }
        check_abs("working directory", &self.cwd)?;
        for e in &self.env {
            match e.split_once('=') {
                Some((k, _)) if !k.is_empty() => {}
                _ => {
                    return Err(ExecError::invalid(format!(
                        "invalid environment entry {e:?}: expected KEY=VALUE"
                    )))
                }
            }
        }
        if self.hostname.is_empty() || self.hostname.len() > 64 {
            return Err(ExecError::invalid(format!(
                "invalid hostname {:?}: must be 1 to 64 characters",
                self.hostname
            )));
        }
        if self.shm_size == 0 {
            return Err(ExecError::invalid("invalid shm size 0: must be positive"));
        }
        for m in &self.mounts {
            check_abs("mount target", &m.target)?;
            if m.target == "/" {
                return Err(ExecError::invalid(
                    "mount target / would hide the root filesystem",
                ));
            }
        }
        for u in &self.ulimits {
            u.rlimit_type()?;
            if u.soft > u.hard {
                return Err(ExecError::invalid(format!(
                    "invalid ulimit {}: soft limit {} exceeds hard limit {}",
                    u.name, u.soft, u.hard
                )));
            }
        }
        for (host, addr) in &self.extra_hosts {
            if host.is_empty() || addr.parse::<std::net::IpAddr>().is_err() {
                return Err(ExecError::invalid(format!(
                    "invalid extra host {host}:{addr}: expected HOST:IP"
                )));
            }
        }
        Ok(())
    }
}

fn check_abs(what: &str, path: &str) -> Result<(), ExecError> {
    if !path.starts_with('/') {
        return Err(ExecError::invalid(format!(
            "{what} {path:?} must be absolute"
        )));
    }
    if path.contains('\0') {
        return Err(ExecError::invalid(format!(
            "{what} {path:?} contains a NUL byte"
        )));
    }
    Ok(())
}

/// The overlay root filesystem of one run.
#[derive(Debug, Clone)]
pub struct RootfsSpec {
    /// Unpacked layer snapshot directories, **top layer first** (overlayfs `lowerdir` order).
    /// May be empty (a `FROM scratch` step).
    pub lowers: Vec<PathBuf>,
    /// A fresh, empty directory that receives the step's changes (overlayfs `upperdir`).
    /// After the run it holds the diff, with runtime mount stubs removed.
    pub upper: PathBuf,
    /// An empty directory on the same filesystem as `upper` (overlayfs `workdir`).
    pub work: PathBuf,
}

/// The command line, in exec or shell form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessArgs {
    /// `RUN ["prog", "arg"]`: run as given.
    Exec(Vec<String>),
    /// `RUN prog arg`: run as `shell... command` (the `SHELL` instruction's value).
    Shell { shell: Vec<String>, command: String },
}

impl ProcessArgs {
    /// Shell form with the default shell `/bin/sh -c`.
    pub fn shell(command: impl Into<String>) -> Self {
        Self::Shell {
            shell: vec!["/bin/sh".to_string(), "-c".to_string()],
            command: command.into(),
        }
    }

    /// The argument vector the process is started with.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Self::Exec(a) => a.clone(),
            Self::Shell { shell, command } => {
                let mut a = shell.clone();
                a.push(command.clone());
                a
            }
        }
    }
}

/// How the container reaches the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// A new network namespace holding only the loopback interface.
    #[default]
    None,
    /// The host's network namespace; the host's `/etc/resolv.conf` is provided.
    Host,
}

/// Sandbox strength (`RUN --security`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityMode {
    /// Docker's default capability set, a seccomp deny list
    /// ([`crate::SANDBOX_DENIED_SYSCALLS`]), masked and read-only `/proc` paths, device
    /// allow-list, read-only `/sys`.
    #[default]
    Sandbox,
    /// `security=insecure`: every capability the runtime holds, no seccomp, all devices
    /// allowed in the cgroup, nothing masked, `/sys` read-write.
    Insecure,
}

/// An extra mount at `target` inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Absolute path in the container.
    pub target: String,
    pub kind: MountKind,
}

/// The kinds of `RUN --mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A host file or directory. Read-only, or read-write with writes discarded after the
    /// run (directories through a private overlay, files through a private copy).
    Bind { source: PathBuf, readonly: bool },
    /// A persistent directory owned by the caller (a build cache); writes persist.
    /// Sharing and locking between concurrent steps are the caller's business.
    Cache { source: PathBuf, readonly: bool },
    /// A fresh tmpfs; `size` in bytes (kernel default: half of RAM).
    Tmpfs { size: Option<u64> },
    /// A secret file, exposed read-only with the given mode and ownership. It is copied to a
    /// tmpfs staging directory and bind-mounted from there, so it never touches the disk
    /// beyond `source` and never lands in the upper dir.
    Secret {
        source: PathBuf,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// An SSH agent socket, bind-mounted. `SSH_AUTH_SOCK` is set to the first ssh mount's
    /// target unless the environment already has it.
    Ssh { socket: PathBuf },
}

impl Mount {
    /// A secret at docker's default place, `/run/secrets/<id>`, mode 0400, owned by root.
    pub fn secret(id: &str, source: impl Into<PathBuf>) -> Self {
        Self {
            target: format!("/run/secrets/{id}"),
            kind: MountKind::Secret {
                source: source.into(),
                mode: 0o400,
                uid: 0,
                gid: 0,
            },
        }
    }

    /// An SSH agent socket at BuildKit's default place, `/run/buildkit/ssh_agent.<n>`.
    pub fn ssh(n: usize, socket: impl Into<PathBuf>) -> Self {
        Self {
            target: format!("/run/buildkit/ssh_agent.{n}"),
            kind: MountKind::Ssh {
                socket: socket.into(),
            },
        }
    }
}

/// One resource limit, named as `docker run --ulimit` names them (`nofile`, `nproc`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

impl Ulimit {
    /// Parse docker's `name=soft[:hard]` syntax.
    pub fn parse(s: &str) -> Result<Self, ExecError> {
        let bad = || ExecError::invalid(format!("invalid ulimit {s:?}: expected name=soft[:hard]"));
        let (name, limits) = s.split_once('=').ok_or_else(bad)?;
        let (soft, hard) = match limits.split_once(':') {
            Some((a, b)) => (a, b),
            None => (limits, limits),
        };
        let num = |v: &str| -> Result<u64, ExecError> {
            if v == "-1" || v == "unlimited" {
                Ok(u64::MAX)
            } else {
                v.parse().map_err(|_| bad())
            }
        };
        let u = Self {
            name: name.to_string(),
            soft: num(soft)?,
            hard: num(hard)?,
        };
        u.rlimit_type()?;
        Ok(u)
    }

    /// The OCI `RLIMIT_*` name for this limit.
    pub fn rlimit_type(&self) -> Result<&'static str, ExecError> {
        Ok(match self.name.as_str() {
            "as" => "RLIMIT_AS",
            "core" => "RLIMIT_CORE",
            "cpu" => "RLIMIT_CPU",
            "data" => "RLIMIT_DATA",
            "fsize" => "RLIMIT_FSIZE",
            "locks" => "RLIMIT_LOCKS",
            "memlock" => "RLIMIT_MEMLOCK",
            "msgqueue" => "RLIMIT_MSGQUEUE",
            "nice" => "RLIMIT_NICE",
            "nofile" => "RLIMIT_NOFILE",
            "nproc" => "RLIMIT_NPROC",
            "rss" => "RLIMIT_RSS",
            "rtprio" => "RLIMIT_RTPRIO",
            "rttime" => "RLIMIT_RTTIME",
            "sigpending" => "RLIMIT_SIGPENDING",
            "stack" => "RLIMIT_STACK",
            other => {
                return Err(ExecError::unsupported(format!(
                    "unknown ulimit {other:?}: expected one of as, core, cpu, data, fsize, \
                     locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, \
                     sigpending, stack"
                )))
            }
        })
    }
}

/// Where a run's output goes. Both streams are copied to their sinks as they arrive; the
/// last `tail_lines` lines of both (interleaved in arrival order) are also kept for error
/// messages.
pub struct RunIo<'a> {
    /// Fed to the process's stdin; `None` gives it `/dev/null`. The run returns only after
    /// this reader reaches end of file or the process closes its stdin, so it must not block
    /// forever (a terminal needs its own forwarding).
    pub stdin: Option<Box<dyn Read + Send + 'a>>,
    pub stdout: Box<dyn Write + Send + 'a>,
    pub stderr: Box<dyn Write + Send + 'a>,
    /// How many trailing lines [`ExitStatusInfo::tail`] keeps.
    pub tail_lines: usize,
    /// Set to `true` (from any thread) to kill the container; the run then fails with
    /// [`crate::ExecErrorKind::Cancelled`] after cleaning up.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl<'a> RunIo<'a> {
    /// Output to the given sinks, no stdin, a 20-line tail.
    pub fn new(stdout: impl Write + Send + 'a, stderr: impl Write + Send + 'a) -> Self {
        Self {
            stdin: None,
            stdout: Box::new(stdout),
            stderr: Box::new(stderr),
            tail_lines: 20,
            cancel: None,
        }
    }

    /// Discard output (the tail is still kept).
    pub fn discard() -> RunIo<'static> {
        RunIo::new(std::io::sink(), std::io::sink())
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatusInfo {
    /// The process's exit code; `128 + signal` when a signal killed it (docker's convention).
    pub code: i32,
    /// The last lines of stdout and stderr, interleaved, without line terminators.
    pub tail: Vec<String>,
}

impl ExitStatusInfo {
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ExecErrorKind;

    fn spec() -> RunSpec {
        RunSpec::new(
            RootfsSpec {
                lowers: vec![],
                upper: "/u".into(),
                work: "/w".into(),
            },
            ProcessArgs::shell("true"),
        )
    }

    #[test]
    fn shell_form_wraps_command() {
        assert_eq!(
            ProcessArgs::shell("echo hi").argv(),
            ["/bin/sh", "-c", "echo hi"]
        );
        let p = ProcessArgs::Shell {
            shell: vec!["/bin/bash".into(), "-eu".into(), "-c".into()],
            command: "x".into(),
        };
        assert_eq!(p.argv(), ["/bin/bash", "-eu", "-c", "x"]);
    }

    #[test]
    fn validate_rejects_bad_parts() {
        assert!(spec().validate().is_ok());
        let mut s = spec();
        s.cwd = "rel".into();
        assert!(s.validate().unwrap_err().to_string().contains("\"rel\""));
        let mut s = spec();
        s.args = ProcessArgs::Exec(vec![]);
        assert_eq!(s.validate().unwrap_err().kind(), ExecErrorKind::InvalidSpec);
        let mut s = spec();
        s.env = vec!["NOEQUALS".into()];
        assert!(s.validate().unwrap_err().to_string().contains("NOEQUALS"));
        let mut s = spec();
        s.mounts = vec![Mount {
            target: "tmp".into(),
            kind: MountKind::Tmpfs { size: None },
        }];
        assert!(s.validate().is_err());
        let mut s = spec();
        s.extra_hosts = vec![("h".into(), "not-an-ip".into())];
        assert!(s.validate().is_err());
    }

    #[test]
    fn ulimit_parsing() {
        let u = Ulimit::parse("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (1024, 2048));
        assert_eq!(u.rlimit_type().unwrap(), "RLIMIT_NOFILE");
        let u = Ulimit::parse("core=-1").unwrap();
        assert_eq!((u.soft, u.hard), (u64::MAX, u64::MAX));
        assert_eq!(
            Ulimit::parse("bogus=1").unwrap_err().kind(),
            ExecErrorKind::Unsupported
        );
        assert!(Ulimit::parse("nofile").is_err());
        assert!(Ulimit::parse("nofile=x").is_err());
        let mut s = spec();
        s.ulimits = vec![Ulimit {
            name: "nofile".into(),
            soft: 10,
            hard: 5,
        }];
        assert!(s.validate().unwrap_err().to_string().contains("exceeds"));
    }

    #[test]
    fn default_mount_targets() {
        assert_eq!(Mount::secret("tok", "/x").target, "/run/secrets/tok");
        assert_eq!(Mount::ssh(0, "/s").target, "/run/buildkit/ssh_agent.0");
    }
}
