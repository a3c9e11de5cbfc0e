//! Running build steps (`RUN`) and test containers in an OCI runtime.
//!
//! The [`Executor`] trait takes a [`RunSpec`] — an overlay root filesystem made of unpacked
//! layer directories plus a fresh upper dir, a command line, environment, user, network mode
//! and `RUN --mount`-style mounts — runs it to completion, streams its output into a
//! [`RunIo`] and reports an [`ExitStatusInfo`]. After a run the spec's upper dir holds
//! exactly the step's changes (overlayfs format: whiteouts as 0/0 character devices, opaque
//! directories by the `trusted.overlay.opaque` xattr; no redirects or metacopy, so the upper
//! dir is self-contained), ready to be turned into a layer diff.
//!
//! [`RuncExecutor`] is the backend: it mounts the overlay, generates an OCI bundle and runs
//! `runc run`, then deletes the container, unmounts and removes the bundle, also on error
//! and on panic. It needs root.
//!
//! ```no_run
//! use strata_exec::{Executor, ProcessArgs, RootfsSpec, RunIo, RunSpec, RuncExecutor};
//!
//! let exec = RuncExecutor::new("/var/lib/strata/exec")?;
//! let rootfs = RootfsSpec {
//!     lowers: vec!["/var/lib/strata/snapshots/base".into()],
//!     upper: "/var/lib/strata/tmp/step1/upper".into(),
//!     work: "/var/lib/strata/tmp/step1/work".into(),
//! };
//! let spec = RunSpec::new(rootfs, ProcessArgs::shell("echo hello > /greeting"));
//! let mut out = Vec::new();
//! let mut err = Vec::new();
//! let status = exec.run(&spec, &mut RunIo::new(&mut out, &mut err))?;
//! assert!(status.success());
//! # Ok::<(), strata_exec::ExecError>(())
//! ```

mod bundle;
mod error;
mod mounts;
mod ociconfig;
mod output;
mod recover;
mod rootpath;
mod runc;
mod spec;
mod stubs;
mod user;

pub use error::{ExecError, ExecErrorKind};
pub use ociconfig::{ALL_CAPABILITIES, DEFAULT_CAPABILITIES, SANDBOX_DENIED_SYSCALLS};
pub use runc::RuncExecutor;
pub use spec::{
    ExitStatusInfo, Mount, MountKind, NetworkMode, ProcessArgs, ResourceLimits, RootfsSpec, RunIo,
    RunSpec, SecurityMode, Ulimit, DEFAULT_HOSTNAME, DEFAULT_PATH, DEFAULT_SHM_SIZE,
};
pub use user::{resolve_user, resolve_user_from, ResolvedUser};

/// Something that can run one [`RunSpec`] to completion.
///
/// A non-zero exit of the process is a normal result (`Ok` with its code); `Err` means the
/// step could not be run as specified (bad spec, unknown user, runtime or mount failure).
/// Implementations are shared between the builder's worker threads.
pub trait Executor: Send + Sync {
    fn run(&self, spec: &RunSpec, io: &mut RunIo<'_>) -> Result<ExitStatusInfo, ExecError>;
}
