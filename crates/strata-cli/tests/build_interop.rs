//! Images built by strata, read by peers: `skopeo inspect` of a saved archive always; with
//! `STRATA_DOCKER_TESTS=1` (a dockerd reachable through `DOCKER_HOST` or the default
//! socket), `docker load` + `docker run`, and the same Dockerfile built by BuildKit giving
//! the same file tree and config.

mod build_common;

use std::path::PathBuf;
use std::process::Command;

use build_common::docker::*;
use build_common::*;
use serde_json::Value;
use strata_testkit::require_tool;

const DOCKERFILE: &str = r#"FROM busybox
ENV APP_HOME=/srv/app GREETING="hello world"
WORKDIR /srv/app
COPY --chown=1000:1000 app/ ./
COPY --chmod=755 run.sh /usr/local/bin/run.sh
RUN mkdir -p /var/data && echo built > /var/data/marker && chmod 700 /var/data \
    && ln -s /srv/app/main.txt /main-link && rm /etc/group
LABEL org.example.name="interop" org.example.version=1.0
EXPOSE 8080 53/udp
USER 1000:1000
ENTRYPOINT ["/usr/local/bin/run.sh"]
CMD ["--serve"]
"#;

fn interop_ctx(e: &Env) -> PathBuf {
    let ctx = e.ctx(&[
        ("Dockerfile", DOCKERFILE),
        ("app/main.txt", "main\n"),
        ("app/lib/util.txt", "util\n"),
        ("run.sh", "#!/bin/sh\necho \"running $GREETING $@\"\n"),
    ]);
    set_mode(&ctx.join("run.sh"), 0o755);
    ctx
}

#[test]
fn skopeo_reads_a_saved_build() {
    let e = env_or_skip!();
    let Some(skopeo) = require_tool("skopeo").unwrap() else {
        return;
    };
    let b = e.build_ok(&interop_ctx(&e), &["-t", "interop:1"]);
    let archive = e.path("saved").with_extension("tar");
    e.s.run(&["save", "-o", archive.to_str().unwrap(), "interop:1"])
        .unwrap();
    let out = Command::new(&skopeo)
        .args(["inspect", "--config"])
        .arg(format!("docker-archive:{}", archive.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["config"]["User"], "1000:1000");
    assert_eq!(config["config"]["WorkingDir"], "/srv/app");
    assert_eq!(config["config"]["Labels"]["org.example.name"], "interop");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 5);
    let digest = format!(
        "sha256:{}",
        strata_oci::Digest::sha256_of(&serde_json::to_vec(&config).unwrap()).hex()
    );
    let _ = digest;
    let out = Command::new(&skopeo)
        .arg("inspect")
        .arg(format!("docker-archive:{}", archive.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let inspect: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 5);
    assert_eq!(inspect["Labels"]["org.example.version"], "1.0");
    assert!(b.id.starts_with("sha256:"));
}

#[test]
fn docker_loads_and_runs_a_strata_build() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    let b = e.build_ok(&interop_ctx(&e), &["-t", "strata-interop:run"]);
    let archive = e.path("img").with_extension("tar");
    e.s.run(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "strata-interop:run",
    ])
    .unwrap();
    run_docker(&docker, &["load", "-i", archive.to_str().unwrap()]);
    let id = run_docker(
        &docker,
        &["inspect", "--format", "{{.Id}}", "strata-interop:run"],
    );
    assert_eq!(id.trim(), b.id, "docker sees the same image ID");
    let out = run_docker(
        &docker,
        &["run", "--rm", "--network=none", "strata-interop:run", "x"],
    );
    assert_eq!(out, "running hello world x\n");
    let out = run_docker(
        &docker,
        &[
            "run",
            "--rm",
            "--network=none",
            "--entrypoint",
            "cat",
            "strata-interop:run",
            "/srv/app/lib/util.txt",
        ],
    );
    assert_eq!(out, "util\n");
    run_docker(&docker, &["rmi", "strata-interop:run"]);
}

#[test]
fn docker_buildkit_builds_the_same_tree_and_config() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = interop_ctx(&e);
    compare_with_docker(&e, &docker, &ctx, "docker-built:1", &[]);
}

const MULTI_STAGE: &str = r#"ARG BASE=busybox
FROM ${BASE} AS build
ARG FLAVOR=plain
SHELL ["/bin/sh", "-e", "-c"]
RUN mkdir -p /out/bin /out/empty && echo "$FLAVOR" > /out/flavor \
    && printf '#!/bin/sh\necho tool\n' > /out/bin/tool && chmod 4755 /out/bin/tool \
    && ln /out/flavor /out/hardlink && touch /out/gone && rm /out/gone
FROM ${BASE}
ARG FLAVOR
ENV FLAVOR=${FLAVOR:-none} PATH=/opt/tools/bin:$PATH
COPY --from=build /out /opt/tools
COPY --from=0 --chown=65534:65534 /out/flavor /home/flavor
ADD pack.tar /opt/pack/
COPY data/ /data/
RUN rm -rf /data/drop && chmod 1777 /data && mkdir -m 0700 /secret-dir
VOLUME ["/data"]
STOPSIGNAL SIGUSR1
WORKDIR relative
CMD tool
"#;

#[test]
fn docker_buildkit_parity_multi_stage() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = e.ctx(&[
        ("Dockerfile", MULTI_STAGE),
        ("data/keep/a.txt", "keep"),
        ("data/drop/b.txt", "drop"),
        ("data/c.txt", "c"),
        (".dockerignore", "data/*.log\n"),
        ("data/ignored.log", "x"),
    ]);
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o600);
    h.set_uid(5);
    h.set_gid(6);
    tar.append_data(&mut h, "p/q.txt", &b"pqr"[..]).unwrap();
    std::fs::write(ctx.join("pack.tar"), tar.into_inner().unwrap()).unwrap();
    compare_with_docker(
        &e,
        &docker,
        &ctx,
        "docker-built:2",
        &["--build-arg", "FLAVOR=spicy"],
    );
}

const FS_CHANGES: &str = r#"FROM busybox
RUN mkdir -p /tree/a/b /tree/c && echo 1 > /tree/a/b/f && echo 2 > /tree/c/g \
    && ln -s a/b/f /tree/link && mkfifo /tree/fifo 2>/dev/null || true
RUN rm -rf /tree/a && mkdir /tree/a && echo new > /tree/a/only \
    && rm /tree/link && echo file > /tree/link && rm -r /home && mkdir /emptydir
COPY *.txt /globbed/
USER nobody
WORKDIR /work/dir
USER root
ENTRYPOINT exec echo shell-form
HEALTHCHECK --interval=10s --start-period=5s CMD ["true"]
ONBUILD RUN echo child
EXPOSE 7000-7001/tcp
"#;

#[test]
fn docker_buildkit_parity_file_changes_and_metadata() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = e.ctx(&[
        ("Dockerfile", FS_CHANGES),
        ("one.txt", "1"),
        ("two.txt", "2"),
        ("skip.md", "no"),
    ]);
    compare_with_docker(&e, &docker, &ctx, "docker-built:3", &[]);
}

const COPY_RULES: &str = r#"FROM busybox
COPY . /all/
COPY src /src-contents
COPY src/ docs/*.md /multi/
COPY ["src/nested/deep.txt", "/exact/renamed.txt"]
COPY --chmod=600 --chown=1:2 docs/*.md /docs/
WORKDIR /rel
COPY src/a.txt ./here/
ADD src/a.txt plain-add.txt
"#;

#[test]
fn docker_buildkit_parity_copy_rules_and_dockerignore() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = e.ctx(&[
        ("Dockerfile", COPY_RULES),
        (
            ".dockerignore",
            "**/*.tmp\nbuild\n!build/keep.txt\ndocs/private*\n",
        ),
        ("src/a.txt", "a"),
        ("src/b.tmp", "tmp"),
        ("src/nested/deep.txt", "deep"),
        ("src/nested/x.tmp", "tmp"),
        ("build/out.bin", "bin"),
        ("build/keep.txt", "keep"),
        ("docs/readme.md", "readme"),
        ("docs/private-notes.md", "private"),
        ("docs/guide.md", "guide"),
        ("empty/", ""),
    ]);
    set_mode(&ctx.join("src/nested"), 0o750);
    set_mode(&ctx.join("src/a.txt"), 0o664);
    compare_with_docker(&e, &docker, &ctx, "docker-built:4", &[]);
}

const EXPANSION: &str = r#"ARG GLOBAL=g1
FROM busybox
ARG GLOBAL
ARG NAME=app VERSION
ARG DERIVED=${NAME}-${VERSION:-0}
ENV A=plain B="with space" C='single $NAME' D=\$NAME E=${NAME:+set} F=${UNSET:-fallback}
ENV LEGACY value with  spaces
LABEL "quoted key"="v 1" multi="a \
b" derived=$DERIVED global=${GLOBAL}
WORKDIR /srv/${NAME}
USER ${NAME}:${VERSION:-0}
EXPOSE ${PORT:-9000}
CMD ["echo", "$NAME"]
"#;

#[test]
fn docker_buildkit_parity_word_expansion() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = e.ctx(&[("Dockerfile", EXPANSION)]);
    compare_with_docker(
        &e,
        &docker,
        &ctx,
        "docker-built:5",
        &["--build-arg", "VERSION=2"],
    );
}

/// Mount targets exist beforehand: BuildKit before v0.13 (docker 20.10) leaves the stubs it
/// creates for mount points in the layer, newer BuildKit and strata remove them.
const MOUNTS: &str = r#"FROM busybox AS data
RUN mkdir /d && echo staged > /d/file
FROM busybox
RUN mkdir -p /mnt/in /opt/data /scratch /root/.cache
RUN --mount=type=bind,source=input,target=/mnt/in cat /mnt/in/a.txt > /from-bind
RUN --mount=type=bind,from=data,source=/d,target=/opt/data cp /opt/data/file /from-stage
RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/t && ls /scratch > /from-tmpfs
RUN --mount=type=cache,target=/root/.cache echo c > /root/.cache/c && echo done > /from-cache
RUN --mount=type=secret,id=none,required=false echo ok > /from-secret
"#;

#[test]
fn docker_buildkit_parity_run_mounts() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    load_base(&e, &docker);
    let ctx = e.ctx(&[("Dockerfile", MOUNTS), ("input/a.txt", "bound\n")]);
    compare_with_docker(&e, &docker, &ctx, "docker-built:6", &[]);
}
