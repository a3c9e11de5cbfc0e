//! Preparing a bundle directory's mounts and files for one run.
//!
//! Layout of a bundle (`<state>/bundles/<id>/`):
//!
//! ```text
//! config.json      the OCI runtime config
//! rootfs/          the overlay root filesystem (mounted here)
//! empty/           the lower dir of a FROM-scratch run
//! secrets/         tmpfs staging secrets, mode 0700 (only when the run has secrets)
//! bind-<n>/        private overlay (or file copy) of a read-write bind mount
//! hosts, resolv.conf  private copies bind-mounted over /etc
//! runc.log         the runtime's own log (JSON lines)
//! ```
//!
//! Secrets are copied into a tmpfs rather than bind-mounted from their source so that their
//! mode and ownership can be set without touching the caller's file, and so the only copies
//! live in memory; the bind mount's target inside the rootfs is an empty stub that is
//! removed from the upper dir after the run, so a secret's content never reaches a layer.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{errno, ExecError};
use crate::mounts::MountStack;
use crate::ociconfig::{standard_mounts, OciMount};
use crate::spec::{MountKind, NetworkMode, RunSpec};

/// All mounts for the config, in order: standard kernel filesystems, `/etc/hosts` and
/// `/etc/resolv.conf`, then the spec's mounts (so a caller's mount may replace the former).
pub(crate) fn prepare_mounts(
    spec: &RunSpec,
    bundle: &Path,
    stack: &mut MountStack,
) -> Result<Vec<OciMount>, ExecError> {
    let mut out = standard_mounts(spec);
    out.extend(etc_files(spec, bundle)?);
    let mut secrets_dir: Option<PathBuf> = None;
    for (n, m) in spec.mounts.iter().enumerate() {
        let target = m.target.as_str();
        let mount = match &m.kind {
            MountKind::Bind { source, readonly } => {
                let meta = std::fs::metadata(source)
                    .map_err(|e| ExecError::io("bind mount source", source, e))?;
                if *readonly {
                    OciMount::new(target, "bind", &path_str(source)?, &["rbind", "ro"])
                } else {
                    let dir = bundle.join(format!("bind-{n}"));
                    mkdir(&dir)?;
                    let private = if meta.is_dir() {
                        let (upper, work, merged) =
                            (dir.join("upper"), dir.join("work"), dir.join("merged"));
                        for d in [&upper, &work, &merged] {
                            mkdir(d)?;
                        }
                        stack.overlay(std::slice::from_ref(source), &upper, &work, &merged)?;
                        merged
                    } else {
                        let copy = dir.join("file");
                        std::fs::copy(source, &copy)
                            .map_err(|e| ExecError::io("copy bind mount source", source, e))?;
                        copy
                    };
                    OciMount::new(target, "bind", &path_str(&private)?, &["rbind", "rw"])
                }
            }
            MountKind::Cache { source, readonly } => {
                if !source.is_dir() {
                    return Err(ExecError::invalid(format!(
                        "cache mount source {} is not a directory",
                        source.display()
                    )));
                }
                let mode = if *readonly { "ro" } else { "rw" };
                OciMount::new(target, "bind", &path_str(source)?, &["rbind", mode])
            }
            MountKind::Tmpfs { size } => {
                let mut opts = vec!["nosuid".to_string(), "nodev".into(), "mode=1777".into()];
                if let Some(size) = size {
                    if *size == 0 {
                        return Err(ExecError::invalid(format!(
                            "tmpfs mount at {target}: size must be positive"
                        )));
                    }
                    opts.push(format!("size={size}"));
                }
                let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
                OciMount::new(target, "tmpfs", "tmpfs", &opts)
            }
            MountKind::Secret {
                source,
                mode,
                uid,
                gid,
            } => {
                let staging = match &secrets_dir {
                    Some(d) => d.clone(),
                    None => {
                        let d = bundle.join("secrets");
                        mkdir(&d)?;
                        stack.tmpfs(&d, "mode=0700")?;
                        secrets_dir = Some(d.clone());
                        d
                    }
                };
                let staged = stage_secret(source, &staging.join(n.to_string()), *mode, *uid, *gid)?;
                OciMount::new(
                    target,
                    "bind",
                    &path_str(&staged)?,
                    &["bind", "ro", "nosuid", "nodev", "noexec"],
                )
            }
            MountKind::Ssh { socket } => {
                let meta = std::fs::metadata(socket)
                    .map_err(|e| ExecError::io("ssh agent socket", socket, e))?;
                if !meta.file_type().is_socket() {
                    return Err(ExecError::invalid(format!(
                        "ssh agent socket {} is not a socket",
                        socket.display()
                    )));
                }
                OciMount::new(
                    target,
                    "bind",
                    &path_str(socket)?,
                    &["bind", "nosuid", "nodev", "noexec"],
                )
            }
        };
        out.push(mount);
    }
    Ok(out)
}

/// Private copies of `/etc/hosts` (and `/etc/resolv.conf` with host networking), so a step
/// that edits them changes neither the host nor the image.
fn etc_files(spec: &RunSpec, bundle: &Path) -> Result<Vec<OciMount>, ExecError> {
    let mut hosts = match spec.network {
        NetworkMode::Host => read_host_file("/etc/hosts")?,
        NetworkMode::None => {
            String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
        }
    };
    if !hosts.is_empty() && !hosts.ends_with('\n') {
        hosts.push('\n');
    }
    hosts.push_str(&format!("127.0.0.1\t{}\n", spec.hostname));
    for (host, addr) in &spec.extra_hosts {
        hosts.push_str(&format!("{addr}\t{host}\n"));
    }
    let hosts_path = bundle.join("hosts");
    write_file(&hosts_path, hosts.as_bytes(), 0o644)?;
    let mut out = vec![OciMount::new(
        "/etc/hosts",
        "bind",
        &path_str(&hosts_path)?,
        &["rbind", "rw"],
    )];
    if spec.network == NetworkMode::Host {
        let resolv = read_host_file("/etc/resolv.conf")?;
        let resolv_path = bundle.join("resolv.conf");
        write_file(&resolv_path, resolv.as_bytes(), 0o644)?;
        out.push(OciMount::new(
            "/etc/resolv.conf",
            "bind",
            &path_str(&resolv_path)?,
            &["rbind", "rw"],
        ));
    }
    Ok(out)
}

fn read_host_file(path: &str) -> Result<String, ExecError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(ExecError::io("read", Path::new(path), e)),
    }
}

fn stage_secret(
    source: &Path,
    staged: &Path,
    mode: u32,
    uid: u32,
    gid: u32,
) -> Result<PathBuf, ExecError> {
    let meta = std::fs::metadata(source).map_err(|e| ExecError::io("read secret", source, e))?;
    if !meta.is_file() {
        return Err(ExecError::invalid(format!(
            "secret source {} is not a regular file",
            source.display()
        )));
    }
    let data = std::fs::read(source).map_err(|e| ExecError::io("read secret", source, e))?;
    write_file(staged, &data, mode & 0o7777)?;
    rustix::fs::chown(
        staged,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .map_err(|e| ExecError::io("chown staged secret", staged, errno(e)))?;
    Ok(staged.to_path_buf())
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), ExecError> {
    let mut f = std::fs::File::create(path).map_err(|e| ExecError::io("create", path, e))?;
    f.write_all(data)
        .map_err(|e| ExecError::io("write", path, e))?;
    // Set explicitly: the process umask must not decide a secret's mode.
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| ExecError::io("chmod", path, e))
}

pub(crate) fn mkdir(path: &Path) -> Result<(), ExecError> {
    std::fs::create_dir_all(path).map_err(|e| ExecError::io("create directory", path, e))
}

fn path_str(path: &Path) -> Result<String, ExecError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| ExecError::unsupported(format!("non-UTF-8 mount source {}", path.display())))
}
