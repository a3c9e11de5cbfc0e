//! Where COPY, ADD and `RUN --mount` read from: the context, other stages and images,
//! downloads; and `--chown` owners looked up in the destination image.

use std::fs;
use std::path::PathBuf;

use strata_dockerfile::ast::CopySpec as Copy;

use super::StageRun;
use crate::copy_step::{self, CopyJob, SourceRoot};
use crate::error::{BuildError, BuildErrorKind, Result};
use crate::fsview::{self, MountedView};

impl StageRun<'_, '_> {
    /// Put ADD's downloaded files in place: mode 0600 (as BuildKit), owner from `--chown`,
    /// mtime from `Last-Modified`.
    pub(super) fn place_downloads(
        &self,
        downloads: &[crate::remote_source::Fetched],
        dest: &str,
        many: bool,
        flags: &strata_dockerfile::ast::CopyFlags,
        lowers: &[PathBuf],
        fs_dir: &std::path::Path,
    ) -> Result<()> {
        if downloads.is_empty() {
            return Ok(());
        }
        let workdir = self.state.workdir();
        let (abs, trailing) = copy_step::dest_path(dest, &workdir);
        let into_dir = trailing || many || fsview::lookup(lowers, &abs).is_some_and(|m| m.is_dir());
        let owner = match &flags.chown {
            None => (0, 0),
            Some(spec) => self.resolve_owner(spec, lowers)?,
        };
        for f in downloads {
            let target = if into_dir {
                format!("{abs}/{}", f.name)
            } else {
                abs.clone()
            };
            let rel = copy_step::clean_rel(&target);
            let path = fs_dir.join(&rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::copy(&f.path, &path)?;
            let mode = copy_step::chmod_bits(flags.chmod.as_ref(), 0o600, false)?;
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
            std::os::unix::fs::lchown(&path, Some(owner.0), Some(owner.1))?;
            let t = filetime::FileTime::from_unix_time(f.mtime.unwrap_or(0), 0);
            filetime::set_file_times(&path, t, t)?;
        }
        Ok(())
    }

    /// Copy ADD's Git checkouts' contents into `dest`, as a directory source is copied.
    pub(super) fn place_checkouts(
        &self,
        checkouts: &[crate::git_source::GitCheckout],
        dest: &str,
        flags: &strata_dockerfile::ast::CopyFlags,
        lowers: &[PathBuf],
        fs_dir: &std::path::Path,
    ) -> Result<()> {
        if checkouts.is_empty() {
            return Ok(());
        }
        let owner = match &flags.chown {
            None => None,
            Some(spec) => Some(self.resolve_owner(spec, lowers)?),
        };
        let workdir = self.state.workdir();
        let sources = [strata_dockerfile::ast::Source::Path(".".into())];
        for c in checkouts {
            let job = CopyJob {
                sources: &sources,
                dest,
                workdir: &workdir,
                owner,
                chmod: flags.chmod.as_ref(),
                parents: false,
                exclude: &flags.exclude,
                unpack_archives: false,
                reuse: None,
                keep_owners: false,
            };
            copy_step::stage_copy(&job, &SourceRoot::Dir(&c.root), lowers, fs_dir)?;
        }
        Ok(())
    }

    /// Snapshot dirs (bottom first) of a stage or image named by `--from` / `from=`.
    pub(super) fn lowers_of(&self, from: &str) -> Result<Vec<PathBuf>> {
        if let Some(i) = self.sh.plan.resolved.stage_index(from) {
            let r = self.sh.wait_stage(i)?;
            return fsview::snapshots(self.sh.store, &r.state.layers);
        }
        let base = self
            .sh
            .plan
            .bases
            .get(from)
            .ok_or_else(|| BuildError::not_found(format!("stage or image {from} not found")))?;
        fsview::snapshots(self.sh.store, &base.layers())
    }

    pub(super) fn stage_copy(
        &self,
        c: &Copy,
        from: Option<&str>,
        unpack: bool,
        lowers: &[PathBuf],
        fs_dir: &std::path::Path,
        staging: &std::path::Path,
        reuse: Option<&copy_step::Reuse>,
    ) -> Result<Option<PathBuf>> {
        let owner = match &c.flags.chown {
            None => None,
            Some(spec) => Some(self.resolve_owner(spec, lowers)?),
        };
        let workdir = self.state.workdir();
        let job = CopyJob {
            sources: &c.sources,
            dest: &c.dest,
            workdir: &workdir,
            owner,
            chmod: c.flags.chmod.as_ref(),
            parents: c.parents,
            exclude: &c.flags.exclude,
            unpack_archives: unpack,
            reuse,
            keep_owners: from.is_some_and(|f| f != "context"),
        };
        match from.filter(|f| *f != "context") {
            None => self.sh.with_context(|ctx, _| {
                copy_step::stage_copy(&job, &SourceRoot::Context(ctx), lowers, fs_dir)
            }),
            Some(f) => {
                let dirs = self.lowers_of(f)?;
                let view = MountedView::mount(&dirs, staging)?;
                copy_step::stage_copy(&job, &SourceRoot::Dir(view.path()), lowers, fs_dir)
            }
        }
    }

    /// `--chown=user[:group]` with names looked up in the destination image.
    pub(super) fn resolve_owner(&self, spec: &str, lowers: &[PathBuf]) -> Result<(u32, u32)> {
        let read = |rel: &str| -> Option<String> {
            lowers
                .iter()
                .rev()
                .find_map(|l| fs::read_to_string(l.join(rel)).ok())
        };
        let user = strata_exec::resolve_user_from(
            spec,
            read("etc/passwd").as_deref(),
            read("etc/group").as_deref(),
        )
        .map_err(|e| BuildError::new(BuildErrorKind::NotFound, format!("--chown={spec}: {e}")))?;
        Ok((user.uid, user.gid))
    }
}
