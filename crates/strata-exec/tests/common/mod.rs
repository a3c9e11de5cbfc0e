//! Shared set-up for the runc tests: environment detection and a busybox root filesystem.
#![allow(dead_code)]

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use strata_exec::{
    ExecError, Executor, ExitStatusInfo, ProcessArgs, RootfsSpec, RunIo, RunSpec, RuncExecutor,
};

const BUSYBOX: &str = "/bin/busybox";

/// Whether the host can run these tests. Outside CI a missing prerequisite skips (with a
/// note on stderr); with `STRATA_CI=1` it fails the test.
pub fn prerequisites() -> bool {
    let mut missing = Vec::new();
    if !rustix::process::geteuid().is_root() {
        missing.push("root");
    }
    if !RuncExecutor::available() {
        missing.push("runc");
    }
    if !Path::new(BUSYBOX).is_file() {
        missing.push("busybox-static");
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("STRATA_CI").as_deref() == Ok("1") {
        panic!("STRATA_CI=1 but missing: {}", missing.join(", "));
    }
    eprintln!("skipping: missing {}", missing.join(", "));
    false
}

/// A test sandbox: a busybox lower dir, a fresh upper/work pair and an executor state dir.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub lower: PathBuf,
    pub exec: RuncExecutor,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        busybox_rootfs(&lower);
        let exec = RuncExecutor::new(dir.path().join("state")).unwrap();
        Self { dir, lower, exec }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A spec for a fresh upper dir named `name`.
    pub fn spec(&self, name: &str, args: ProcessArgs) -> RunSpec {
        let upper = self.dir.path().join(name).join("upper");
        let work = self.dir.path().join(name).join("work");
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        RunSpec::new(
            RootfsSpec {
                lowers: vec![self.lower.clone()],
                upper,
                work,
            },
            args,
        )
    }

    pub fn run(&self, spec: &RunSpec) -> Result<Output, ExecError> {
        run_with(&self.exec, spec, None)
    }

    /// Run a shell command in a fresh upper dir named `name`; panics on `ExecError`.
    pub fn sh(&self, name: &str, script: &str) -> Output {
        self.run(&self.spec(name, ProcessArgs::shell(script)))
            .unwrap()
    }

    /// Nothing left behind by the executor: no bundles, nothing mounted under the sandbox.
    pub fn assert_clean(&self) {
        let bundles: Vec<_> = std::fs::read_dir(self.state_dir().join("bundles"))
            .unwrap()
            .collect();
        assert!(bundles.is_empty(), "bundles left behind: {bundles:?}");
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = self.dir.path().to_str().unwrap();
        assert!(
            !mountinfo.contains(root),
            "mounts left under {root}:\n{mountinfo}"
        );
    }
}

#[derive(Debug)]
pub struct Output {
    pub status: ExitStatusInfo,
    pub stdout: String,
    pub stderr: String,
}

pub fn run_with(
    exec: &dyn Executor,
    spec: &RunSpec,
    stdin: Option<&[u8]>,
) -> Result<Output, ExecError> {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let status = {
        let mut io = RunIo::new(&mut out, &mut err);
        if let Some(input) = stdin {
            io.stdin = Some(Box::new(input));
        }
        exec.run(spec, &mut io)?
    };
    Ok(Output {
        status,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    })
}

/// A minimal image root: busybox with one symlink per applet, passwd/group with `root`,
/// `app` (1000) and `nobody`, a world-writable `/tmp` and a file to delete in `/data`.
pub fn busybox_rootfs(root: &Path) {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    let list = std::process::Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" && !applet.is_empty() {
            symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         app:x:1000:1000:app:/home/app:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    std::fs::write(
        etc.join("group"),
        "root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n",
    )
    .unwrap();
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/old.txt"), "old\n").unwrap();
    std::fs::write(root.join("data/keep.txt"), "keep\n").unwrap();
}

/// Top-level names in a directory, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
