//! Archives move between strata and a real Docker daemon in both directions, keeping the
//! image ID: `docker load` reads what `strata save` writes (and the image runs), and
//! `strata load` reads what `docker save` writes, also gzip-compressed and with several
//! layers (a whiteout included).
//!
//! These tests need a running dockerd, so they run only with `STRATA_DOCKER_TESTS=1`
//! (the CI script starts a daemon, exports `DOCKER_HOST` and sets the variable). Without
//! it they print a note and pass; with it, a missing `docker` client or a daemon that does
//! not answer is a failure, never a skip.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use strata_testkit::{busybox, Strata, TempRoot};

fn strata(root: &Path) -> Strata {
    Strata::new(env!("CARGO_BIN_EXE_strata"), root)
}

/// Whether the docker tests are enabled; an enabled run checks that the daemon answers.
fn docker_enabled() -> bool {
    if std::env::var("STRATA_DOCKER_TESTS").as_deref() != Ok("1") {
        eprintln!("note: STRATA_DOCKER_TESTS is not 1; skipping the docker interop tests");
        return false;
    }
    let info = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .expect("STRATA_DOCKER_TESTS=1 but the docker client cannot be run");
    assert!(
        info.status.success(),
        "STRATA_DOCKER_TESTS=1 but the docker daemon does not answer (DOCKER_HOST={:?}):\n{}",
        std::env::var("DOCKER_HOST").ok(),
        String::from_utf8_lossy(&info.stderr)
    );
    true
}

/// Run docker with `args`, panic unless it exits 0, return stdout.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running docker {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "docker {} failed ({}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn docker_image_id(reference: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
        .trim()
        .to_owned()
}

fn strata_image_id(s: &Strata, reference: &str) -> String {
    s.run(&["inspect", "--format", "{{.Id}}", reference])
        .unwrap()
        .trim()
        .to_owned()
}

/// A repository name no other test run uses, so that concurrent runs against one daemon
/// do not see each other's images.
fn unique_repo(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("strata-interop-{what}-{}-{nanos}", std::process::id())
}

/// Removes the named docker images when dropped, also when an assertion failed.
struct DockerImages(Vec<String>);

impl Drop for DockerImages {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", name]).output();
        }
    }
}

/// Removes the named container when dropped.
struct DockerContainer(String);

impl Drop for DockerContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn docker_loads_and_runs_a_strata_saved_image_with_the_same_id() {
    if !docker_enabled() {
        return;
    }
    let fx = busybox().unwrap();
    let tmp = TempRoot::new().unwrap();
    let s = strata(&tmp.store());
    let repo = unique_repo("from-strata");
    let (latest, second) = (format!("{repo}:latest"), format!("{repo}:v2"));
    let _cleanup = DockerImages(vec![latest.clone(), second.clone()]);

    let id = s
        .run(&["import", fx.layer_tar.to_str().unwrap(), &latest])
        .unwrap()
        .trim()
        .to_owned();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    s.run(&["tag", &latest, &second]).unwrap();
    let archive = tmp.path().join("strata-saved.tar");
    s.run(&["save", "-o", archive.to_str().unwrap(), &repo])
        .unwrap();

    let loaded = docker(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        loaded.contains(&format!("Loaded image: {latest}"))
            && loaded.contains(&format!("Loaded image: {second}")),
        "{loaded}"
    );
    assert_eq!(docker_image_id(&latest), id);
    assert_eq!(docker_image_id(&second), id);

    let out = docker(&[
        "run",
        "--rm",
        "--network=none",
        &latest,
        "/bin/busybox",
        "echo",
        "ok",
    ]);
    assert_eq!(out, "ok\n");
}

#[test]
fn strata_loads_a_docker_saved_image_with_the_same_id() {
    if !docker_enabled() {
        return;
    }
    let fx = busybox().unwrap();
    let tmp = TempRoot::new().unwrap();
    let repo = unique_repo("from-docker");
    let name = format!("{repo}:latest");
    let _cleanup = DockerImages(vec![name.clone()]);

    let imported = docker(&[
        "import",
        "--change",
        r#"CMD ["/bin/sh"]"#,
        fx.layer_tar.to_str().unwrap(),
        &name,
    ]);
    let id = docker_image_id(&name);
    assert_eq!(imported.trim(), id);
    let archive = tmp.path().join("docker-saved.tar");
    docker(&["save", "-o", archive.to_str().unwrap(), &name]);

    let s = strata(&tmp.store());
    let loaded = s.run(&["load", "-i", archive.to_str().unwrap()]).unwrap();
    assert_eq!(loaded, format!("Loaded image: {name}\n"));
    assert_eq!(strata_image_id(&s, &name), id);
    let cmd = s
        .run(&["inspect", "--format", "{{json .Config.Cmd}}", &name])
        .unwrap();
    assert_eq!(cmd.trim(), r#"["/bin/sh"]"#);

    // Saved again by strata, it goes back into docker under the same ID.
    let resaved = tmp.path().join("resaved.tar");
    let again = format!("{repo}:again");
    let _cleanup_again = DockerImages(vec![again.clone()]);
    s.run(&["tag", &name, &again]).unwrap();
    s.run(&["save", "-o", resaved.to_str().unwrap(), &again])
        .unwrap();
    docker(&["load", "-q", "-i", resaved.to_str().unwrap()]);
    assert_eq!(docker_image_id(&again), id);
}

#[test]
fn a_two_layer_docker_image_survives_a_compressed_round_trip_through_strata() {
    if !docker_enabled() {
        return;
    }
    let fx = busybox().unwrap();
    let tmp = TempRoot::new().unwrap();
    let repo = unique_repo("layers");
    let (base, committed, back) = (
        format!("{repo}:base"),
        format!("{repo}:committed"),
        format!("{repo}:back"),
    );
    let container = format!("{repo}-ctr");
    let _cleanup = DockerImages(vec![base.clone(), committed.clone(), back.clone()]);
    let _container = DockerContainer(container.clone());

    // A second layer that adds a file and deletes one (a whiteout) on top of the import.
    docker(&["import", fx.layer_tar.to_str().unwrap(), &base]);
    docker(&[
        "run",
        "--name",
        &container,
        "--network=none",
        &base,
        "/bin/sh",
        "-c",
        "echo layered > /marker && rm /etc/group",
    ]);
    let committed_out = docker(&["commit", &container, &committed]);
    let id = docker_image_id(&committed);
    assert_eq!(committed_out.trim(), id);

    // docker save, gzip-compressed on the way, into strata.
    let plain = tmp.path().join("layers.tar");
    docker(&["save", "-o", plain.to_str().unwrap(), &committed]);
    let gz = tmp.path().join("layers.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut std::fs::File::open(&plain).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    let s = strata(&tmp.store());
    s.run(&["load", "-q", "-i", gz.to_str().unwrap()]).unwrap();
    assert_eq!(strata_image_id(&s, &committed), id);
    let layers = s
        .run(&["inspect", "--format", "{{len .RootFS.Layers}}", &committed])
        .unwrap();
    assert_eq!(layers.trim(), "2");

    // Back into docker under a new name: same ID, and both layers apply.
    s.run(&["tag", &committed, &back]).unwrap();
    let archive = tmp.path().join("back.tar");
    s.run(&["save", "-o", archive.to_str().unwrap(), &back])
        .unwrap();
    docker(&["rmi", &committed]);
    docker(&["load", "-q", "-i", archive.to_str().unwrap()]);
    assert_eq!(docker_image_id(&back), id);
    let out = docker(&[
        "run",
        "--rm",
        "--network=none",
        &back,
        "/bin/sh",
        "-c",
        "cat /marker; test -e /etc/group && echo group-present || echo group-gone",
    ]);
    assert_eq!(out, "layered\ngroup-gone\n");
}
