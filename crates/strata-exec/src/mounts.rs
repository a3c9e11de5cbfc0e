//! Host-side mounts the executor makes before starting the runtime: the overlay root
//! filesystem, private overlays for read-write binds, and the tmpfs that stages secrets.
//!
//! Every mount is recorded in a [`MountStack`], which unmounts in reverse order when asked
//! or when dropped (an error or panic mid-run still leaves nothing mounted).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags};

use crate::error::{errno, ExecError};

/// Classic `mount(2)` data is limited to one page; stay safely below it.
const MAX_MOUNT_DATA: usize = 4000;

/// Overlay features forced off whatever the host's module defaults: with them the upper dir
/// would hold redirect xattrs (renamed lower dirs) and metadata-only copies (data still in a
/// lower), and would no longer be a self-contained diff. With them off, renaming a lower
/// directory fails with EXDEV and tools fall back to copy and delete, so the upper dir shows
/// a full copy plus a whiteout.
const OVERLAY_FEATURES: &[(&str, &str)] = &[
    ("redirect_dir", "off"),
    ("metacopy", "off"),
    ("index", "off"),
];

/// Mounts made so far, undone last-first.
#[derive(Debug, Default)]
pub(crate) struct MountStack {
    mounted: Vec<PathBuf>,
}

impl MountStack {
    /// Mount an overlay at `target`. `lowers` top first and non-empty.
    pub fn overlay(
        &mut self,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<(), ExecError> {
        debug_assert!(!lowers.is_empty());
        match classic_overlay_data(lowers, upper, work) {
            Some(data) => {
                let data = CString::new(data).map_err(|_| {
                    ExecError::invalid(format!(
                        "overlay path with NUL byte for {}",
                        target.display()
                    ))
                })?;
                rustix::mount::mount(
                    "overlay",
                    target,
                    "overlay",
                    MountFlags::empty(),
                    data.as_c_str(),
                )
                .map_err(|e| ExecError::mount("mount overlay at", target, errno(e)))?;
            }
            // Too many layers (or paths with separators) for the one-page option string:
            // the new mount API takes each lower dir as its own `lowerdir+` value (Linux 6.8).
            None => fsconfig_overlay(lowers, upper, work, target)?,
        }
        self.mounted.push(target.to_path_buf());
        Ok(())
    }

    /// Mount a tmpfs at `target` with the given options (e.g. `size=1m,mode=0700`).
    pub fn tmpfs(&mut self, target: &Path, options: &str) -> Result<(), ExecError> {
        let data =
            CString::new(options).map_err(|_| ExecError::invalid("tmpfs options with NUL"))?;
        rustix::mount::mount(
            "tmpfs",
            target,
            "tmpfs",
            MountFlags::NOSUID | MountFlags::NODEV,
            data.as_c_str(),
        )
        .map_err(|e| ExecError::mount("mount tmpfs at", target, errno(e)))?;
        self.mounted.push(target.to_path_buf());
        Ok(())
    }

    /// Unmount everything, last first. Tries every mount and returns the first error; a busy
    /// mount is detached so it disappears once its last user does.
    pub fn unmount_all(&mut self) -> Result<(), ExecError> {
        let mut first: Option<ExecError> = None;
        while let Some(target) = self.mounted.pop() {
            if let Err(e) = rustix::mount::unmount(&target, UnmountFlags::empty()) {
                let detached = rustix::mount::unmount(&target, UnmountFlags::DETACH);
                if detached.is_err() && first.is_none() {
                    first = Some(ExecError::mount("unmount", &target, errno(e)));
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for MountStack {
    fn drop(&mut self) {
        let _ = self.unmount_all();
    }
}

/// `lowerdir=a:b,upperdir=u,workdir=w`, or `None` when it cannot be expressed safely.
fn classic_overlay_data(lowers: &[PathBuf], upper: &Path, work: &Path) -> Option<String> {
    let special = |p: &Path| {
        p.as_os_str()
            .as_bytes()
            .iter()
            .any(|b| b":,\\=".contains(b))
    };
    if lowers.iter().any(|p| special(p)) || special(upper) || special(work) {
        return None;
    }
    let lower: Vec<&str> = lowers.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.to_str()?,
        work.to_str()?
    );
    for (key, value) in OVERLAY_FEATURES {
        data.push_str(&format!(",{key}={value}"));
    }
    (data.len() <= MAX_MOUNT_DATA).then_some(data)
}

fn fsconfig_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), ExecError> {
    use rustix::mount::{
        fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, FsMountFlags,
        FsOpenFlags, MountAttrFlags, MoveMountFlags,
    };
    let fail = |what: &str, e: rustix::io::Errno| ExecError::mount(what, target, errno(e));
    let fs =
        fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| fail("open overlay for", e))?;
    for lower in lowers {
        fsconfig_set_string(&fs, "lowerdir+", lower).map_err(|e| {
            ExecError::mount(
                &format!("add overlay lower dir {} for", lower.display()),
                target,
                errno(e),
            )
        })?;
    }
    fsconfig_set_string(&fs, "upperdir", upper)
        .map_err(|e| fail("set overlay upper dir for", e))?;
    fsconfig_set_string(&fs, "workdir", work).map_err(|e| fail("set overlay work dir for", e))?;
    for (key, value) in OVERLAY_FEATURES {
        fsconfig_set_string(&fs, *key, *value)
            .map_err(|e| fail(&format!("set overlay option {key}={value} for"), e))?;
    }
    fsconfig_create(&fs).map_err(|e| fail("create overlay for", e))?;
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
        .map_err(|e| fail("mount overlay for", e))?;
    move_mount(
        &mnt,
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| fail("attach overlay at", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_data_and_its_limits() {
        let d = classic_overlay_data(
            &["/l1".into(), "/l2".into()],
            Path::new("/u"),
            Path::new("/w"),
        );
        assert_eq!(
            d.as_deref(),
            Some("lowerdir=/l1:/l2,upperdir=/u,workdir=/w,redirect_dir=off,metacopy=off,index=off")
        );
        assert!(classic_overlay_data(&["/a:b".into()], Path::new("/u"), Path::new("/w")).is_none());
        let many: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/var/lib/strata/snapshots/{i:064}")))
            .collect();
        assert!(classic_overlay_data(&many, Path::new("/u"), Path::new("/w")).is_none());
    }
}
