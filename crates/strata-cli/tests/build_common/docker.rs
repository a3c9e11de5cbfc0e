//! docker side by side: the docker CLI (when `STRATA_DOCKER_TESTS=1`), strata's busybox
//! base loaded into dockerd, and comparisons of what strata and BuildKit build from the same
//! Dockerfile (config fields and exported file trees).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use strata_testkit::require_tool;

use super::{tar_entries, Env};

/// The docker CLI matching the daemon (Debian's), when docker tests are enabled.
pub fn docker() -> Option<PathBuf> {
    if std::env::var("STRATA_DOCKER_TESTS").ok().as_deref() != Some("1") {
        eprintln!("note: STRATA_DOCKER_TESTS is not 1; skipping docker interop");
        return None;
    }
    let debian = PathBuf::from("/usr/bin/docker");
    if debian.is_file() {
        return Some(debian);
    }
    Some(
        require_tool("docker")
            .unwrap()
            .expect("STRATA_DOCKER_TESTS=1 needs docker"),
    )
}

pub fn run_docker(docker: &Path, args: &[&str]) -> String {
    let out = Command::new(docker)
        .args(args)
        .env("DOCKER_BUILDKIT", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Load strata's busybox base into docker under the name the Dockerfile uses.
pub fn load_base(e: &Env, docker: &Path) {
    let base = e.path("base").with_extension("tar");
    e.s.run(&["save", "-o", base.to_str().unwrap(), "busybox:latest"])
        .unwrap();
    run_docker(docker, &["load", "-i", base.to_str().unwrap()]);
}

/// (type, mode, uid, gid, size, link) per path of a root filesystem tar, minus what docker
/// injects into containers.
pub fn tree(tar_bytes: &[u8]) -> BTreeMap<String, String> {
    const INJECTED: &[&str] = &[
        ".dockerenv",
        "etc/hosts",
        "etc/hostname",
        "etc/resolv.conf",
        "etc/mtab",
    ];
    tar_entries(tar_bytes)
        .into_iter()
        .filter_map(|(path, h)| {
            let path = path
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_owned();
            if path.is_empty()
                || INJECTED.contains(&path.as_str())
                || ["dev", "proc", "sys"]
                    .iter()
                    .any(|d| path == *d || path.starts_with(&format!("{d}/")))
            {
                return None;
            }
            let kind = h.entry_type();
            let size = if kind.is_file() { h.size().unwrap() } else { 0 };
            let link = h
                .link_name()
                .ok()
                .flatten()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            Some((
                path,
                format!(
                    "{:?} {:o} {}:{} {} {}",
                    kind,
                    h.mode().unwrap() & 0o7777,
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    size,
                    link
                ),
            ))
        })
        .collect()
}

/// Build `ctx` with strata and with docker (BuildKit), then compare config fields and the
/// exported file trees.
pub fn compare_with_docker(
    e: &Env,
    docker: &Path,
    ctx: &Path,
    tag: &str,
    args: &[&str],
) -> Compared {
    let ours = e.build_ok(ctx, args);
    let ours_tar = e.path("ours").with_extension("tar");
    let spec = format!("type=tar,dest={}", ours_tar.display());
    let mut with_output = vec!["-o", spec.as_str()];
    with_output.extend_from_slice(args);
    e.build_ok(ctx, &with_output);

    let mut build = vec!["build", "--network=none", "-q", "-t", tag];
    build.extend_from_slice(args);
    build.push(ctx.to_str().unwrap());
    run_docker(docker, &build);
    let inspected: Value = serde_json::from_str(&run_docker(docker, &["inspect", tag])).unwrap();
    let history = docker_history(docker, tag);
    let theirs = &inspected[0]["Config"];
    let mine = e.config(&ours.id);
    for field in [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "Labels",
        "ExposedPorts",
        "User",
        "Volumes",
        "StopSignal",
        "Shell",
        "Healthcheck",
        "OnBuild",
    ] {
        let (m, t) = (&mine[field], &theirs[field]);
        let empty = |v: &Value| v.is_null() || v == &Value::String(String::new());
        assert!(
            m == t || (empty(m) && empty(t)),
            "config field {field}: strata {m} docker {t}"
        );
    }

    let container = run_docker(docker, &["create", tag, "true"]);
    let container = container.trim();
    let theirs_tar = e.path("theirs").with_extension("tar");
    run_docker(
        docker,
        &["export", "-o", theirs_tar.to_str().unwrap(), container],
    );
    run_docker(docker, &["rm", container]);
    let mine = tree(&std::fs::read(&ours_tar).unwrap());
    let theirs = tree(&std::fs::read(&theirs_tar).unwrap());
    let differ: Vec<String> = mine
        .keys()
        .chain(theirs.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| mine.get(*k) != theirs.get(*k))
        .map(|k| format!("{k}: strata {:?} docker {:?}", mine.get(k), theirs.get(k)))
        .collect();
    assert!(
        differ.is_empty(),
        "file trees differ:\n{}",
        differ.join("\n")
    );
    run_docker(docker, &["rmi", tag]);
    Compared {
        strata_id: ours.id,
        docker_inspect: inspected[0].clone(),
        docker_history: history,
    }
}

/// What [`compare_with_docker`] leaves for further checks.
pub struct Compared {
    /// The image strata built.
    pub strata_id: String,
    /// docker's `inspect` of its own build.
    pub docker_inspect: Value,
    /// docker's `history --no-trunc` `CreatedBy` column of its own build, newest first.
    pub docker_history: Vec<String>,
}

/// `docker history --no-trunc --format {{.CreatedBy}}`, newest first.
pub fn docker_history(docker: &Path, image: &str) -> Vec<String> {
    run_docker(
        docker,
        &["history", "--no-trunc", "--format", "{{.CreatedBy}}", image],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}
