//! `strata build`: ADD from a Git repository, served by a real `git daemon` on loopback.

mod build_common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use build_common::*;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository `repo.git` with tag `v1` (README "one") and `main` one commit later
/// (README "two"), served read-only over git:// until dropped.
struct Daemon {
    child: Child,
    port: u16,
    work: std::path::PathBuf,
}

impl Daemon {
    fn start(base: &Path) -> Daemon {
        let work = base.join("work");
        std::fs::create_dir_all(work.join("docs")).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        write(&work, "README", "one\n");
        write(&work, "docs/a.md", "# a\n");
        write(&work, "run.sh", "#!/bin/sh\n");
        set_mode(&work.join("run.sh"), 0o755);
        set_mode(&work.join("README"), 0o600);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-qm", "one"]);
        git(&work, &["tag", "v1"]);
        write(&work, "README", "two\n");
        git(&work, &["commit", "-qam", "two"]);
        git(
            base,
            &["clone", "-q", "--bare", work.to_str().unwrap(), "repo.git"],
        );
        for _ in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new("git")
                .args([
                    "daemon",
                    "--reuseaddr",
                    "--export-all",
                    "--listen=127.0.0.1",
                ])
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", base.display()))
                .arg(base)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("git daemon");
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Daemon {
                        child,
                        port,
                        work: work.clone(),
                    };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("git daemon did not start");
    }

    fn url(&self) -> String {
        format!("git://127.0.0.1:{}/repo.git", self.port)
    }

    /// Move `main` on by one commit.
    fn advance(&self, base: &Path) {
        write(&self.work, "README", "three\n");
        git(&self.work, &["commit", "-qam", "three"]);
        git(
            &self.work,
            &[
                "push",
                "-q",
                base.join("repo.git").to_str().unwrap(),
                "main",
            ],
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn add_from_git_checks_out_refs_and_subdirectories() {
    let e = env_or_skip!();
    let base = e.path("git");
    std::fs::create_dir_all(&base).unwrap();
    let d = Daemon::start(&base);
    let url = d.url();
    let df = format!(
        "FROM busybox\nADD {url} /head/\nADD {url}#v1 /v1\nADD --keep-git-dir=true {url}#main:docs /docs\nADD --keep-git-dir=true {url}#v1 /kept\n"
    );
    let ctx = e.df(&df);
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "head/README"), "two\n");
    assert_eq!(read(&root, "v1/README"), "one\n");
    assert_eq!(read(&root, "docs/a.md"), "# a\n");
    assert!(!exists(&root, "docs/README"));
    // Modes as BuildKit gives Git sources: 644, 755 when executable; no .git unless kept.
    assert_eq!(mode(&root, "v1/README"), 0o644);
    assert_eq!(mode(&root, "v1/run.sh"), 0o755);
    assert_eq!(mode(&root, "v1/docs"), 0o755);
    assert!(!exists(&root, "v1/.git") && !exists(&root, "head/.git"));
    assert!(exists(&root, "kept/.git/HEAD"));

    // The key is the commit: a tag that did not move hits, a branch that moved runs again.
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step(&format!("{url} /head/")), Step::Cached);
    d.advance(&base);
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step(&format!("{url} /head/")), Step::Ran, "{}", b.stderr);
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "head/README"), "three\n");
    assert_eq!(read(&root, "v1/README"), "one\n");

    // A commit ID (git daemon refuses it as a shallow want: the full fetch finds it).
    let out = Command::new("git")
        .arg("-C")
        .arg(&d.work)
        .args(["rev-parse", "v1"])
        .output()
        .unwrap();
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let root = e.rootfs(&e.df(&format!("FROM busybox\nADD {url}#{sha} /c\n")), &[]);
    assert_eq!(read(&root, "c/README"), "one\n");
    // --checksum is the commit or a prefix of it.
    let short = &sha[..7];
    e.build_ok(
        &e.df(&format!(
            "FROM busybox\nADD --checksum={short} {url}#v1 /c\n"
        )),
        &[],
    );
    let err = e.build_err(
        &e.df(&format!("FROM busybox\nADD --checksum={short} {url} /c\n")),
        &[],
    );
    assert!(err.contains("does not match --checksum"), "{err}");

    let err = e.build_err(&e.df(&format!("FROM busybox\nADD {url}#nope /x\n")), &[]);
    assert!(
        err.contains(&format!("ADD {url}#nope: no branch, tag or commit nope in")),
        "{err}"
    );
    let err = e.build_err(
        &e.df(&format!("FROM busybox\nADD {url}#v1:missing /x\n")),
        &[],
    );
    assert!(
        err.contains("directory missing not found at commit"),
        "{err}"
    );
}
