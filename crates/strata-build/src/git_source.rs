//! ADD's Git sources (`ADD https://host/repo.git#ref:dir /dest`): one shallow fetch of the
//! named ref with the system's `git`, checked out into the step's download directory.
//!
//! The step's cache key holds the commit the ref resolved to, as BuildKit's does, so a moved
//! branch rebuilds and an unchanged one hits. File modes are normalised as BuildKit's
//! reference says (files 644, or 755 when executable; directories 755), and every mtime is
//! the commit's time, so the same commit always gives the same layer.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::copy_step::clean_rel;
use crate::error::{BuildError, Result};

/// A checked-out Git source.
#[derive(Debug, Clone)]
pub struct GitCheckout {
    /// The source as written in the Dockerfile.
    pub source: String,
    /// The directory whose contents ADD copies: the checkout or its `:dir` subdirectory.
    pub root: PathBuf,
    /// The commit the ref resolved to.
    pub commit: String,
}

/// A Git source split into remote, ref and subdirectory (`remote#ref:dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRef {
    pub remote: String,
    pub reference: Option<String>,
    pub subdir: Option<String>,
}

impl GitRef {
    pub fn parse(source: &str) -> GitRef {
        let (remote, fragment) = source.split_once('#').unwrap_or((source, ""));
        let (reference, subdir) = fragment.split_once(':').unwrap_or((fragment, ""));
        let remote = if remote.starts_with("github.com/") {
            format!("https://{remote}")
        } else {
            remote.to_owned()
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        GitRef {
            remote,
            reference: non_empty(reference),
            subdir: non_empty(subdir.trim_matches('/')),
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> std::io::Result<Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "advice.detachedHead=false"])
        .args(args)
        // A build must never stop to ask for a password.
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
}

/// Run `git` in `dir`, failing with its stderr's last lines.
fn git_ok(source: &str, dir: &Path, args: &[&str]) -> Result<String> {
    let out = git(dir, args).map_err(|e| {
        BuildError::not_found(format!(
            "ADD {source}: cannot run git ({e})\nhint: install git to add from Git repositories"
        ))
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(BuildError::not_found(format!(
            "ADD {source}: git {} failed: {}",
            args.first().copied().unwrap_or(""),
            tail.join("\n")
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Fetch and check out `source` under `dir` (a fresh `git-<index>` directory).
pub fn checkout(source: &str, dir: &Path, index: usize, keep_git_dir: bool) -> Result<GitCheckout> {
    let r = GitRef::parse(source);
    let work = dir.join(format!("git-{index}"));
    // The directory is the stage's: an earlier step's checkout may still be there.
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;
    git_ok(source, &work, &["init", "-q"])?;
    let want = r.reference.as_deref().unwrap_or("HEAD");
    let shallow = git_ok(
        source,
        &work,
        &[
            "fetch",
            "-q",
            "--depth",
            "1",
            "--no-tags",
            "--",
            &r.remote,
            want,
        ],
    );
    let target = match shallow {
        Ok(_) => "FETCH_HEAD".to_owned(),
        // Servers may refuse a commit ID as a shallow want: fetch everything, then pick it.
        Err(first) if r.reference.is_some() => {
            git_ok(
                source,
                &work,
                &[
                    "fetch",
                    "-q",
                    "--",
                    &r.remote,
                    "+refs/heads/*:refs/remotes/origin/*",
                    "+refs/tags/*:refs/tags/*",
                ],
            )
            .map_err(|_| first)?;
            [want.to_owned(), format!("origin/{want}")]
                .iter()
                .find_map(|c| {
                    git_ok(
                        source,
                        &work,
                        &[
                            "rev-parse",
                            "--verify",
                            "--quiet",
                            &format!("{c}^{{commit}}"),
                        ],
                    )
                    .ok()
                })
                .ok_or_else(|| {
                    BuildError::not_found(format!(
                        "ADD {source}: no branch, tag or commit {want} in {}",
                        r.remote
                    ))
                })?
        }
        Err(e) => return Err(e),
    };
    git_ok(source, &work, &["checkout", "-q", "--detach", &target])?;
    let commit = git_ok(source, &work, &["rev-parse", "HEAD"])?;
    let time: i64 = git_ok(source, &work, &["log", "-1", "--format=%ct", "HEAD"])?
        .parse()
        .unwrap_or(0);
    if !keep_git_dir {
        fs::remove_dir_all(work.join(".git"))?;
    }
    let root = match &r.subdir {
        None => work,
        Some(sub) => {
            let root = work.join(clean_rel(sub));
            if !root.is_dir() {
                return Err(BuildError::not_found(format!(
                    "ADD {source}: directory {sub} not found at commit {commit}"
                )));
            }
            root
        }
    };
    normalise(&root, time)?;
    Ok(GitCheckout {
        source: source.to_owned(),
        root,
        commit,
    })
}

/// Modes as BuildKit gives Git sources, and the commit's time on every entry.
fn normalise(path: &Path, time: i64) -> Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let t = filetime::FileTime::from_unix_time(time, 0);
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            normalise(&entry?.path(), time)?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    } else if meta.is_file() {
        let mode = if meta.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    filetime::set_symlink_file_times(path, t, t)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::GitRef;

    #[test]
    fn fragments() {
        let r = GitRef::parse("git@github.com:moby/buildkit.git#v0.14.1:docs");
        assert_eq!(r.remote, "git@github.com:moby/buildkit.git");
        assert_eq!(r.reference.as_deref(), Some("v0.14.1"));
        assert_eq!(r.subdir.as_deref(), Some("docs"));
        let r = GitRef::parse("https://example.com/r.git");
        assert_eq!((r.reference, r.subdir), (None, None));
        let r = GitRef::parse("https://example.com/r.git#:sub/dir/");
        assert_eq!((r.reference, r.subdir.as_deref()), (None, Some("sub/dir")));
        assert_eq!(
            GitRef::parse("github.com/a/b").remote,
            "https://github.com/a/b"
        );
    }
}
