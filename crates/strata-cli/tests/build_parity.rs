//! Regression tests for builds that produced a different image than docker (BuildKit) from
//! the same Dockerfile. Each test is named after the bug; with `STRATA_DOCKER_TESTS=1` the
//! `docker_parity_*` tests build the same Dockerfile with docker and compare config, files
//! and history.

mod build_common;

use std::os::unix::fs::symlink;

use build_common::docker::*;
use build_common::*;
use serde_json::{json, Value};

/// Config inheritance across stages: SHELL, CMD/ENTRYPOINT, ONBUILD.
const STAGE_CONFIG: &str = r#"FROM busybox AS base
SHELL ["/bin/env", "MARK=inherited-shell", "/bin/sh", "-c"]
CMD ["base-cmd"]
ONBUILD RUN echo "$MARK" > /trigger-ran && echo x >> /trigger-count
ONBUILD ENV FROM_TRIGGER=1
FROM base AS mid
RUN echo "$MARK" > /shell.txt
ENTRYPOINT ["/bin/echo"]
FROM mid AS final
CMD ["mine"]
ENTRYPOINT ["/bin/cat"]
RUN cat /trigger-count > /count-in-final
"#;

#[test]
fn entrypoint_keeps_a_cmd_set_in_the_same_stage() {
    let e = env_or_skip!();
    let ctx = e.df(STAGE_CONFIG);
    let fin = e.build_ok(&ctx, &[]);
    let c = e.config(&fin.id);
    assert_eq!(c["Cmd"], json!(["mine"]), "{c}");
    assert_eq!(c["Entrypoint"], json!(["/bin/cat"]));
    // In `mid` the CMD came from the parent stage: ENTRYPOINT resets it.
    let mid = e.build_ok(&ctx, &["--target", "mid"]);
    let c = e.config(&mid.id);
    assert!(c["Cmd"].is_null(), "inherited Cmd kept: {c}");
    assert_eq!(c["Entrypoint"], json!(["/bin/echo"]));
}

#[test]
fn run_uses_the_shell_inherited_from_the_parent_stage() {
    let e = env_or_skip!();
    let root = e.rootfs(&e.df(STAGE_CONFIG), &["--target", "mid"]);
    assert_eq!(read(&root, "shell.txt"), "inherited-shell\n");
    let mid = e.build_ok(&e.df(STAGE_CONFIG), &["--target", "mid"]);
    assert_eq!(
        e.config(&mid.id)["Shell"],
        json!(["/bin/env", "MARK=inherited-shell", "/bin/sh", "-c"])
    );
    assert!(
        e.history(&mid.id)
            .iter()
            .any(|h| h == "RUN /bin/env MARK=inherited-shell /bin/sh -c echo \"$MARK\" > /shell.txt # buildkit"),
        "{:?}",
        e.history(&mid.id)
    );
}

#[test]
fn run_uses_the_shell_inherited_from_the_base_image() {
    let e = env_or_skip!();
    let base =
        e.df("FROM busybox\nSHELL [\"/bin/env\", \"MARK=from-image\", \"/bin/sh\", \"-c\"]\n");
    e.build_ok(&base, &["-t", "shell-base:1"]);
    let root = e.rootfs_of("FROM shell-base:1\nRUN echo \"$MARK\" > /shell.txt\n");
    assert_eq!(read(&root, "shell.txt"), "from-image\n");
}

#[test]
fn onbuild_of_a_stage_runs_once_in_the_stage_built_from_it() {
    let e = env_or_skip!();
    let ctx = e.df(STAGE_CONFIG);
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "trigger-ran"), "inherited-shell\n");
    // Ran in `mid`, not again in `final`.
    assert_eq!(read(&root, "count-in-final"), "x\n");
    let mid = e.build_ok(&ctx, &["--target", "mid"]);
    let c = e.config(&mid.id);
    assert!(c["OnBuild"].is_null(), "triggers inherited: {c}");
    assert!(c["Env"]
        .as_array()
        .unwrap()
        .contains(&json!("FROM_TRIGGER=1")));
    // The stage that declares them keeps them for images built FROM it.
    let base = e.build_ok(&ctx, &["--target", "base"]);
    assert_eq!(e.config(&base.id)["OnBuild"].as_array().unwrap().len(), 2);
}

#[test]
fn docker_parity_stage_config_inheritance() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = e.df(STAGE_CONFIG);
    let c = compare_with_docker(&e, &docker, &ctx, "strata-parity-stages:1", &[]);
    assert_eq!(e.history(&c.strata_id), c.docker_history);
    let c = compare_with_docker(
        &e,
        &docker,
        &ctx,
        "strata-parity-stages:2",
        &["--target", "mid"],
    );
    assert_eq!(e.history(&c.strata_id), c.docker_history);
}

/// A stage whose files have owners and modes a COPY --from must keep.
const COPY_FROM: &str = r#"FROM busybox AS src
RUN mkdir -p /out/sub && echo x > /out/sub/f && chown -R 1000:1000 /out && chmod 700 /out \
    && chmod 750 /out/sub && echo y > /out/g && chown 5:6 /out/g && chmod 4711 /out/g \
    && ln -s g /out/glink && chown -h 7:8 /out/glink
FROM busybox
RUN mkdir /exists && chmod 711 /exists && chown 3:3 /exists
COPY --from=src /out /opt/tools
COPY --from=src /out /exists
COPY --from=src /out/g /single-g
COPY --from=src /out/glink /followed-g
COPY --from=src /out/sub /z/deep/
COPY --from=src --chown=9:9 /out/g /chowned-g
"#;

#[test]
fn copy_from_a_stage_keeps_owners_and_modes() {
    let e = env_or_skip!();
    let root = e.rootfs_of(COPY_FROM);
    assert_eq!(owner(&root, "opt/tools/sub"), (1000, 1000));
    assert_eq!(mode(&root, "opt/tools/sub"), 0o750);
    assert_eq!(owner(&root, "opt/tools/sub/f"), (1000, 1000));
    assert_eq!(owner(&root, "opt/tools/g"), (5, 6));
    assert_eq!(mode(&root, "opt/tools/g"), 0o4711);
    assert_eq!(owner(&root, "opt/tools/glink"), (7, 8));
    // The destination of a directory's contents is new (0755, root) or keeps its metadata.
    assert_eq!(
        (owner(&root, "opt/tools"), mode(&root, "opt/tools")),
        ((0, 0), 0o755)
    );
    assert_eq!(
        (owner(&root, "exists"), mode(&root, "exists")),
        ((3, 3), 0o711)
    );
    assert_eq!(
        (owner(&root, "single-g"), mode(&root, "single-g")),
        ((5, 6), 0o4711)
    );
    // A top-level symlink source is followed.
    assert!(std::fs::symlink_metadata(root.join("followed-g"))
        .unwrap()
        .is_file());
    assert_eq!(owner(&root, "followed-g"), (5, 6));
    assert_eq!(owner(&root, "z/deep/f"), (1000, 1000));
    assert_eq!(owner(&root, "chowned-g"), (9, 9));
}

#[test]
fn docker_parity_copy_from_owners_and_modes() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = e.df(COPY_FROM);
    compare_with_docker(&e, &docker, &ctx, "strata-parity-copy-from:1", &[]);
}

/// A tar with entries owned by 5:6, one of them setuid.
fn owned_tar() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut d = tar::Header::new_gnu();
    d.set_entry_type(tar::EntryType::Directory);
    d.set_size(0);
    d.set_mode(0o750);
    d.set_uid(5);
    d.set_gid(6);
    tar.append_data(&mut d, "p/", &b""[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o4755);
    h.set_uid(5);
    h.set_gid(6);
    tar.append_data(&mut h, "p/q.txt", &b"pqr"[..]).unwrap();
    tar.into_inner().unwrap()
}

#[test]
fn add_chown_applies_to_extracted_archive_entries() {
    let e = env_or_skip!();
    let ctx =
        e.df("FROM busybox\nADD --chown=1000:1000 pack.tar /unpacked/\nADD pack.tar /plain/\n");
    std::fs::write(ctx.join("pack.tar"), owned_tar()).unwrap();
    let root = e.rootfs(&ctx, &[]);
    for p in ["unpacked", "unpacked/p", "unpacked/p/q.txt"] {
        assert_eq!(owner(&root, p), (1000, 1000), "{p}");
    }
    assert_eq!(mode(&root, "unpacked/p"), 0o750);
    assert_eq!(
        mode(&root, "unpacked/p/q.txt"),
        0o4755,
        "setuid survives chown"
    );
    // Without --chown the archive's owners stay.
    assert_eq!(owner(&root, "plain/p/q.txt"), (5, 6));
}

/// A context whose sources are symlinks at the top level and inside a directory.
fn link_ctx(e: &Env, dockerfile: &str) -> std::path::PathBuf {
    let ctx = e.ctx(&[
        ("Dockerfile", dockerfile),
        ("target.txt", "target\n"),
        ("realdir/f.txt", "f\n"),
        ("a.txt", "a\n"),
    ]);
    symlink("f.txt", ctx.join("realdir/inner-link")).unwrap();
    symlink("target.txt", ctx.join("link.txt")).unwrap();
    symlink("realdir", ctx.join("linkdir")).unwrap();
    // Absolute: resolved inside the context, never on the host.
    symlink("/target.txt", ctx.join("abslink")).unwrap();
    ctx
}

const LINKS: &str = "FROM busybox\nCOPY link.txt /links/\nCOPY linkdir /links/dir\nCOPY abslink /links/abs\nCOPY link*.txt /globbed/\n";

#[test]
fn copy_follows_a_top_level_symlink_inside_the_context() {
    let e = env_or_skip!();
    let root = e.rootfs(&link_ctx(&e, LINKS), &[]);
    for (p, want) in [
        ("links/link.txt", "target\n"),
        ("links/abs", "target\n"),
        ("links/dir/f.txt", "f\n"),
        ("globbed/link.txt", "target\n"),
    ] {
        assert!(
            std::fs::symlink_metadata(root.join(p)).unwrap().is_file(),
            "{p} is not a regular file"
        );
        assert_eq!(read(&root, p), want, "{p}");
    }
    // Links inside a copied directory stay links.
    assert_eq!(
        std::fs::read_link(root.join("links/dir/inner-link")).unwrap(),
        std::path::Path::new("f.txt")
    );
}

#[test]
fn copy_of_a_symlink_leaving_the_context_is_not_found() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nCOPY escape /x\n");
    symlink("../../../../etc/passwd", ctx.join("escape")).unwrap();
    let err = e.build_err(&ctx, &[]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn copy_with_an_empty_wildcard_beside_a_match_succeeds() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        ("Dockerfile", "FROM busybox\nCOPY a.txt nomatch* /multi/\n"),
        ("a.txt", "a\n"),
    ]);
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "multi/a.txt"), "a\n");
    // Every wildcard empty: still an error naming the pattern.
    let ctx = e.ctx(&[
        ("Dockerfile", "FROM busybox\nCOPY none* nothing* /multi/\n"),
        ("a.txt", "a\n"),
    ]);
    let err = e.build_err(&ctx, &[]);
    assert!(err.contains("no source files were specified"), "{err}");
}

#[test]
fn copy_to_an_empty_destination_uses_the_workdir() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        (
            "Dockerfile",
            "FROM busybox\nARG empty\nWORKDIR /wd\nCOPY a.txt $empty\n",
        ),
        ("a.txt", "a\n"),
    ]);
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "wd/a.txt"), "a\n");
}

#[test]
fn docker_parity_copy_links_wildcards_and_empty_destination() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let df =
        format!("{LINKS}ARG empty\nWORKDIR /wd\nCOPY a.txt $empty\nCOPY a.txt nomatch* /multi/\n");
    let ctx = link_ctx(&e, &df);
    compare_with_docker(&e, &docker, &ctx, "strata-parity-links:1", &[]);
}

#[test]
fn run_bind_mount_with_a_relative_context_from_another_directory() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        (
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=bind,source=input,target=/mnt/in cat /mnt/in/a.txt > /from-bind\n",
        ),
        ("input/a.txt", "bound\n"),
    ]);
    // `strata build ctxN` from the context's parent: the path is relative to that cwd.
    let parent = ctx.parent().unwrap();
    let rel = ctx.file_name().unwrap().to_str().unwrap();
    let dest = e.path("rootfs");
    let mut cmd = e.s.command();
    cmd.current_dir(parent)
        .args(["build", "--progress", "plain", "-o"])
        .arg(format!("type=local,dest={}", dest.display()))
        .arg(rel);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&dest, "from-bind"), "bound\n");
}

#[test]
fn run_cache_key_includes_the_network_mode() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo net > /n\n");
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step("RUN echo net"), Step::Ran);
    let b = e.build_ok(&ctx, &["--network", "none"]);
    assert_eq!(
        b.step("RUN echo net"),
        Step::Ran,
        "reused across network modes"
    );
    let b = e.build_ok(&ctx, &["--network", "none"]);
    assert_eq!(b.step("RUN echo net"), Step::Cached);
}

/// The raw config blob of `image`, from a saved archive.
fn raw_config(e: &Env, image: &str) -> Value {
    let bytes = saved_bytes(e, image);
    let mut files = std::collections::HashMap::new();
    let mut a = tar::Archive::new(&bytes[..]);
    for entry in a.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let config = manifest[0]["Config"].as_str().unwrap();
    serde_json::from_slice(&files[config]).unwrap()
}

#[test]
fn docker_parity_built_image_does_not_inherit_legacy_config_fields() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    // `docker commit` writes docker_version, container and container_config.
    let container = run_docker(&docker, &["create", "busybox:latest", "true"]);
    let container = container.trim();
    run_docker(
        &docker,
        &[
            "commit",
            "-m",
            "committed",
            container,
            "strata-parity-legacy:base",
        ],
    );
    run_docker(&docker, &["rm", container]);
    let archive = e.path("legacy").with_extension("tar");
    run_docker(
        &docker,
        &[
            "save",
            "-o",
            archive.to_str().unwrap(),
            "strata-parity-legacy:base",
        ],
    );
    e.s.run(&["load", "-i", archive.to_str().unwrap()]).unwrap();
    let base = raw_config(&e, "strata-parity-legacy:base");
    assert!(base.get("docker_version").is_some(), "{base}");
    let ctx = e.df("FROM strata-parity-legacy:base\nENV X=1\n");
    let built = e.build_ok(&ctx, &["-t", "strata-parity-legacy:built"]);
    let raw = raw_config(&e, &built.id);
    for k in [
        "docker_version",
        "comment",
        "container",
        "container_config",
        "parent",
        "id",
    ] {
        assert!(raw.get(k).is_none(), "{k} inherited: {raw}");
    }
    assert!(raw["config"].get("Image").is_none(), "{raw}");
    assert!(raw["config"].get("Hostname").is_none(), "{raw}");
    let theirs: Value = serde_json::from_str(&run_docker(
        &docker,
        &["inspect", "strata-parity-legacy:base"],
    ))
    .unwrap();
    assert_eq!(theirs[0]["Comment"], "committed");
    // docker's own build of the same Dockerfile claims no docker version either.
    run_docker(
        &docker,
        &[
            "build",
            "--network=none",
            "-q",
            "-t",
            "strata-parity-legacy:docker",
            ctx.to_str().unwrap(),
        ],
    );
    let theirs: Value = serde_json::from_str(&run_docker(
        &docker,
        &["inspect", "strata-parity-legacy:docker"],
    ))
    .unwrap();
    assert_eq!(theirs[0]["DockerVersion"], "");
    assert_eq!(e.inspect(&built.id)["DockerVersion"], "");
    run_docker(
        &docker,
        &[
            "rmi",
            "strata-parity-legacy:docker",
            "strata-parity-legacy:base",
        ],
    );
}

/// Images in the store, as `images -q --no-trunc` lists them.
fn image_ids(e: &Env) -> Vec<String> {
    e.s.run(&["images", "-q", "--no-trunc"])
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn non_image_outputs_store_no_image_and_quiet_prints_nothing() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo out > /out\n");
    let before = image_ids(&e);
    let dest = e.path("local");
    let out = e.strata(&[
        "build",
        "-q",
        "-o",
        &format!("type=local,dest={}", dest.display()),
        ctx.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "-q printed something"
    );
    assert_eq!(read(&dest, "out"), "out\n");
    let tar = e.path("root").with_extension("tar");
    let out = e.strata(&[
        "build",
        "-q",
        "-o",
        &format!("type=tar,dest={}", tar.display()),
        ctx.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(image_ids(&e), before, "a non-image output left an image");
    // `-o -`: the tar on stdout and nothing else, -q or not.
    let out = e.strata(&["build", "-q", "-o", "-", ctx.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = tar_entries(&out.stdout)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.iter().any(|n| n == "out"), "{names:?}");
    assert_eq!(image_ids(&e), before);
}

#[test]
fn built_and_loaded_images_have_no_repo_digests() {
    let e = env_or_skip!();
    let b = e.build_ok(&e.df("FROM busybox\nENV A=1\n"), &["-t", "built:1"]);
    assert_eq!(e.inspect(&b.id)["RepoDigests"], json!([]));
    assert_eq!(e.inspect("busybox:latest")["RepoDigests"], json!([]));
    let out =
        e.s.run(&[
            "images",
            "--digests",
            "--format",
            "{{.Repository}} {{.Digest}}",
        ])
        .unwrap();
    for line in out.lines() {
        assert!(line.ends_with(" <none>"), "{out}");
    }
}

/// ARG rows and RUN's `|N` prefix as BuildKit writes them.
const HISTORY: &str = r#"ARG G=glob
FROM busybox
ARG G
ARG NAME=app VERSION
ARG DERIVED=${NAME}-${VERSION:-0}
ARG OVER=default
ENV NAME=from-env
RUN echo hi
"#;

#[test]
fn history_has_buildkit_rows_for_arg_and_run() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df(HISTORY),
        &["--build-arg", "OVER=cli", "--build-arg", "VERSION=2"],
    );
    let h = e.history(&b.id);
    assert_eq!(
        h[..6],
        [
            "RUN |5 G=glob NAME=from-env VERSION=2 DERIVED=app-2 OVER=cli /bin/sh -c echo hi # buildkit",
            "ENV NAME=from-env",
            "ARG OVER=default",
            "ARG DERIVED=app-2",
            "ARG NAME=app VERSION",
            "ARG G",
        ],
        "{h:#?}"
    );
}

#[test]
fn docker_parity_history_rows() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = e.df(HISTORY);
    let c = compare_with_docker(
        &e,
        &docker,
        &ctx,
        "strata-parity-history:1",
        &["--build-arg", "OVER=cli", "--build-arg", "VERSION=2"],
    );
    assert_eq!(e.history(&c.strata_id), c.docker_history);
}

#[test]
fn non_root_build_says_it_needs_root() {
    let e = env_or_skip!();
    let Some(setpriv) = strata_testkit::require_tool("setpriv").unwrap() else {
        return;
    };
    // A store and context that belong to `nobody`, under a directory it can traverse.
    let dir = e.path("nobody");
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(e.tmp.path(), 0o755);
    set_mode(&dir, 0o755);
    let store = dir.join("store");
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&store).unwrap();
    write(&ctx, "Dockerfile", "FROM busybox\nRUN echo hi > /x\n");
    let archive = dir.join("base.tar");
    std::fs::copy(base_archive(), &archive).unwrap();
    for p in [&dir, &store, &ctx, &ctx.join("Dockerfile"), &archive] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    let as_nobody = |args: &[&str]| {
        std::process::Command::new(&setpriv)
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "--root",
            ])
            .arg(&store)
            .args(args)
            .env("HOME", &dir)
            .output()
            .unwrap()
    };
    let out = as_nobody(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = as_nobody(&["build", "--progress", "plain", ctx.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("building needs root: run as root"), "{err}");
    assert!(!err.contains("Operation not permitted"), "{err}");
}
