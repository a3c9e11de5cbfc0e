//! docker parity of the image commands' output, side by side with docker on the same
//! images: strata builds, `strata save` + `docker load` gives docker the very same image,
//! and `images`, `history`, `inspect` (JSON and `--format`) must print what docker prints.
//! The docker half runs with `STRATA_DOCKER_TESTS=1` (a dockerd on `DOCKER_HOST`); the
//! error and exit-code checks hold docker's documented wording and always run.

mod build_common;
mod image_fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;

use image_fixtures::{ok, stderr, stdout, strata};
use serde_json::Value;
use strata_testkit::{debian_rootfs_tarball, require_tool, Strata};

/// Debian's docker CLI (the one matching the daemon), when docker tests are enabled.
fn docker() -> Option<PathBuf> {
    if std::env::var("STRATA_DOCKER_TESTS").ok().as_deref() != Some("1") {
        eprintln!("note: STRATA_DOCKER_TESTS is not 1; skipping the docker comparison");
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

fn run_docker(docker: &Path, args: &[&str]) -> String {
    let out = Command::new(docker).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names unique to this run: the dockerd is shared.
fn name(what: &str) -> String {
    format!("strata-parity-cli-{}-{what}:1", std::process::id())
}

/// Give docker the images `names` of `s` through `save` / `load`.
fn hand_to_docker(s: &Strata, archive: &Path, docker: &Path, names: &[&str]) {
    let mut args = vec!["save", "-o", archive.to_str().unwrap()];
    args.extend_from_slice(names);
    s.run(&args).unwrap();
    run_docker(docker, &["load", "-i", archive.to_str().unwrap()]);
}

/// The same command's output from strata and docker must be identical.
fn same(s: &Strata, docker: &Path, args: &[&str]) {
    let ours = s.run(args).unwrap();
    let theirs = run_docker(docker, args);
    assert_eq!(ours, theirs, "strata and docker differ on {args:?}");
    eprintln!("same as docker: {args:?}\n{ours}");
}

/// Templates over every kind of field docker's inspect has, empty or not.
const TEMPLATES: &[&str] = &[
    "{{.Size}}|{{.VirtualSize}}",
    "{{.ID}}",
    "{{.Id}}",
    "{{.Config.User}}|{{.Config.Entrypoint}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{.Config.Cmd}}",
    "{{.Config.ExposedPorts}}|{{.Config.Healthcheck}}|{{json .Config.Healthcheck}}",
    "{{.Config.Labels}}|{{.Config.Volumes}}|{{.Config.Env}}|{{.Config.Labels.zz}}",
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
    "{{.ContainerConfig}}|{{.ContainerConfig.Cmd}}|{{json .ContainerConfig.Cmd}}",
    "{{.RootFS}}|{{json .RootFS}}|{{len .RootFS.Layers}}",
    "{{.Comment}}|{{.Created}}|{{.Parent}}|{{.Author}}|{{.Os}}/{{.Architecture}}",
    "{{.Config.StopTimeout}}|{{.Config.Shell}}|{{.Config.OnBuild}}|{{.Config.ArgsEscaped}}",
    "{{.Variant}}|{{.OsVersion}}|{{.Container}}|{{.RepoTags}}",
    "{{with .Config.Healthcheck}}{{.Interval}}/{{.Timeout}}/{{.Retries}}{{end}}",
];

/// `inspect`'s JSON minus what depends on the store (paths, tag times, registry digests).
fn comparable_inspect(text: &str) -> (Value, Vec<String>, Vec<String>) {
    let mut v: Value = serde_json::from_str(text).unwrap();
    let o = v[0].as_object_mut().unwrap();
    let keys: Vec<String> = o.keys().cloned().collect();
    let config_keys: Vec<String> = o["Config"].as_object().unwrap().keys().cloned().collect();
    for k in ["GraphDriver", "Metadata", "RepoDigests"] {
        assert!(o.remove(k).is_some(), "inspect lacks {k}");
    }
    (v, keys, config_keys)
}

fn compare_image(s: &Strata, docker: &Path, image: &str) {
    same(s, docker, &["images", "--format", "{{.Size}}", image]);
    same(s, docker, &["history", "-H=false", image]);
    same(s, docker, &["history", "-H=false", "--no-trunc", image]);
    same(
        s,
        docker,
        &["history", "--format", "{{.Size}}|{{.CreatedAt}}", image],
    );
    for t in TEMPLATES {
        same(s, docker, &["inspect", "--format", t, image]);
    }
    let ours = s.run(&["inspect", image]).unwrap();
    let theirs = run_docker(docker, &["inspect", image]);
    assert!(
        ours.starts_with("[\n    {\n        \"Id\": \"sha256:"),
        "{ours}"
    );
    assert_eq!(comparable_inspect(&ours), comparable_inspect(&theirs));
}

const BUSYBOX_BASED: &str = r#"FROM busybox
LABEL a=1 "b c"=2
EXPOSE 80 53/udp
HEALTHCHECK --interval=30s --timeout=5s CMD ["/bin/sh", "-c", "true"]
RUN echo hello world > /x && ln -s /x /x-link && mkdir -p /d && echo abc > /d/f && ln /d/f /d/hard
WORKDIR /app
ENV FOO=bar
CMD ["sh"]
"#;

const MULTI_STAGE: &str = r#"FROM busybox AS build
RUN mkdir /out && echo built > /out/a && dd if=/dev/zero of=/out/big bs=1000 count=5 2>/dev/null
FROM busybox
COPY --from=build /out /opt/
RUN rm /bin/ls && touch /empty
USER nobody
"#;

#[test]
fn sizes_history_and_inspect_match_docker_busybox_and_multi_stage() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    let (a, b) = (name("busybox-based"), name("multi-stage"));
    e.build_ok(&e.df(BUSYBOX_BASED), &["-t", &a]);
    e.build_ok(&e.df(MULTI_STAGE), &["-t", &b]);
    // The RUN layer is its files' bytes (12 + 4, the hard link once, 2 for the symlink's
    // target) and WORKDIR nothing, as docker counts them; then docker checks all of it.
    let sizes =
        e.s.run(&["history", "-H=false", "--format", "{{.Size}}", &a])
            .unwrap();
    assert_eq!(
        sizes.lines().take(4).collect::<Vec<_>>(),
        ["0", "0", "0", "18"],
        "{sizes}"
    );
    hand_to_docker(
        &e.s,
        &e.path("handover").with_extension("tar"),
        &docker,
        &[&a, &b],
    );
    let result = std::panic::catch_unwind(|| {
        compare_image(&e.s, &docker, &a);
        compare_image(&e.s, &docker, &b);
    });
    let _ = Command::new(&docker).args(["rmi", &a, &b]).output();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn sizes_match_docker_on_a_debian_image() {
    let Some(docker) = docker() else { return };
    let e = env_or_skip!();
    if require_tool("debootstrap").unwrap().is_none() {
        return;
    }
    let tarball = debian_rootfs_tarball().unwrap();
    let base = name("debian-base");
    let img = name("debian-based");
    e.s.run(&["import", tarball.to_str().unwrap(), &base])
        .unwrap();
    let dockerfile = format!(
        "FROM {base}\nRUN echo hi > /hi && rm -rf /usr/share/doc && ln -s /hi /usr/local/hi\nCMD [\"bash\"]\n"
    );
    e.build_ok(&e.df(&dockerfile), &["-t", &img]);
    hand_to_docker(
        &e.s,
        &e.path("handover").with_extension("tar"),
        &docker,
        &[&img],
    );
    let result = std::panic::catch_unwind(|| {
        same(&e.s, &docker, &["images", "--format", "{{.Size}}", &img]);
        same(&e.s, &docker, &["inspect", "--format", "{{.Size}}", &img]);
        same(
            &e.s,
            &docker,
            &["history", "-H=false", "--format", "{{.Size}}", &img],
        );
        same(&e.s, &docker, &["history", "--format", "{{.Size}}", &img]);
    });
    let _ = Command::new(&docker).args(["rmi", &img, &base]).output();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// The first words and exit codes scripts test, as docker 20.10 prints them.
#[test]
fn errors_and_exit_codes_as_docker() {
    let dir = tempfile::tempdir().unwrap();
    let store = strata_store::Store::open(dir.path()).unwrap();
    image_fixtures::image(&store, "alpha", &["busybox:latest", "web:1.0", "web:1.1"]);
    image_fixtures::image(&store, "beta", &["web:2.0"]);
    let root = dir.path();

    let o = strata(root, &["inspect", "--format", "{{.Foo", "busybox"]);
    assert_eq!(o.status.code(), Some(64), "a template parse error exits 64");
    assert!(
        stderr(&o).starts_with("template parsing error: template:"),
        "{}",
        stderr(&o)
    );
    let o = strata(root, &["inspect", "--format", "{{.Foo}}", "busybox"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(r#"map has no entry for key "Foo""#));

    for args in [
        &["images", "--format", "{{.Foo}}"][..],
        &["history", "--format", "{{.Foo", "busybox"],
    ] {
        let o = strata(root, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).starts_with("template parsing error: template: "),
            "{args:?}: {}",
            stderr(&o)
        );
    }

    let o = strata(root, &["inspect", "nosuch"]);
    assert_eq!((o.status.code(), stdout(&o)), (Some(1), "[]\n".to_owned()));
    assert_eq!(stderr(&o), "Error: No such object: nosuch\n");
    for args in [
        &["image", "inspect", "nosuch"][..],
        &["inspect", "--type", "image", "nosuch"],
    ] {
        let o = strata(root, args);
        assert_eq!(stderr(&o), "Error: No such image: nosuch\n", "{args:?}");
    }
    for args in [
        &["rmi", "nosuch"][..],
        &["history", "nosuch"],
        &["tag", "nosuch", "x"],
    ] {
        let o = strata(root, args);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).starts_with("Error: No such image: nosuch\n"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    for args in [
        &["rmi"][..],
        &["tag", "busybox"],
        &["history"],
        &["inspect"],
    ] {
        assert_eq!(strata(root, args).status.code(), Some(1), "{args:?}");
    }
    assert_eq!(
        strata(root, &["images", "--bogus"]).status.code(),
        Some(125)
    );

    let o = strata(root, &["tag", "busybox", "UPPER/x"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Error parsing reference: \"UPPER/x\" is not a valid repository/tag: invalid reference format: repository name must be lowercase\n"
    );
    ok(root, &["tag", "busybox", "Example.com/x"]);
    let o = strata(root, &["rmi", "a:b:c:d"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid reference format"),
        "{}",
        stderr(&o)
    );

    assert_eq!(
        ok(
            root,
            &["images", "--format", "{{.Repository}}:{{.Tag}}", "web:1.*"]
        ),
        "web:1.0\nweb:1.1\n"
    );
    assert_eq!(
        ok(
            root,
            &[
                "images",
                "--format",
                "{{.Tag}}",
                "docker.io/library/web:2.0"
            ]
        ),
        "2.0\n"
    );

    // Accepted as docker accepts them.
    let o = strata(
        root,
        &[
            "inspect", "-s", "--type", "image", "-f", "{{.Os}}", "busybox",
        ],
    );
    assert_eq!(
        (o.status.code(), stdout(&o)),
        (Some(0), "linux\n".to_owned())
    );
    // A dangling image has no repository digest: `<none>` and `[]`, as docker shows them.
    image_fixtures::image(&store, "gamma", &[]);
    let dangling = ok(root, &["images", "--digests", "--filter", "dangling=true"]);
    let row = dangling.lines().nth(1).unwrap();
    assert!(
        row.starts_with("<none>       <none>    <none>   "),
        "{dangling}"
    );
    let id = ok(root, &["images", "-q", "--filter", "dangling=true"]);
    assert_eq!(
        ok(
            root,
            &[
                "inspect",
                "--format",
                "{{json .RepoDigests}}|{{.RepoTags}}",
                id.trim()
            ]
        ),
        "[]|[]\n"
    );
}

#[test]
fn import_message_is_the_comment() {
    let dir = tempfile::tempdir().unwrap();
    let tar_path = dir.path().join("fs.tar");
    std::fs::write(&tar_path, image_fixtures::layer_tar("hello", b"hello")).unwrap();
    let root = dir.path().join("store");
    ok(
        &root,
        &[
            "import",
            "-m",
            "my msg",
            tar_path.to_str().unwrap(),
            "imp:1",
        ],
    );
    assert_eq!(
        ok(
            &root,
            &["inspect", "--format", "{{.Comment}}|{{.Size}}", "imp:1"]
        ),
        "my msg|5\n"
    );
}

#[test]
fn completion_scripts_and_man_pages() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let bash = ok(&root, &["completion", "bash"]);
    assert!(
        bash.contains("_strata()") && bash.contains("inspect"),
        "{bash}"
    );
    // The script is valid bash.
    let script = dir.path().join("strata.bash");
    std::fs::write(&script, &bash).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(ok(&root, &["completion", "zsh"]).starts_with("#compdef strata"));
    assert!(ok(&root, &["completion", "fish"]).contains("complete -c strata"));
    assert_eq!(
        strata(&root, &["completion", "tcsh"]).status.code(),
        Some(125)
    );

    let man = dir.path().join("man");
    ok(&root, &["man", "--out", man.to_str().unwrap()]);
    for page in [
        "strata.1",
        "strata-build.1",
        "strata-image-ls.1",
        "strata-inspect.1",
    ] {
        let text = std::fs::read_to_string(man.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    let inspect = std::fs::read_to_string(man.join("strata-inspect.1")).unwrap();
    assert!(inspect.contains("format"), "{inspect}");
}

#[test]
fn version_and_info_describe_binary_runtime_and_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = strata_store::Store::open(dir.path()).unwrap();
    image_fixtures::image(&store, "alpha", &["busybox:latest"]);
    image_fixtures::image(&store, "beta", &[]);
    let root = dir.path();
    assert_eq!(
        ok(root, &["version", "--format", "{{.Client.Version}}"]),
        format!("{}\n", env!("CARGO_PKG_VERSION"))
    );
    let version = ok(root, &["version"]);
    assert!(
        version.contains(" Version:") && version.contains("runc"),
        "{version}"
    );
    let info: Value = serde_json::from_str(&ok(root, &["info", "--format", "json"])).unwrap();
    assert_eq!(info["Store"]["Root"], root.to_str().unwrap());
    assert_eq!(info["Store"]["Images"], 2);
    assert_eq!(info["Store"]["Tagged"], 1);
    assert!(info["Store"]["BlobsSize"].as_u64().unwrap() > 0);
    let text = ok(root, &["info"]);
    assert!(
        text.contains(&format!(" Root: {}", root.display()))
            && text.contains("Images: 2 (1 tagged)"),
        "{text}"
    );
}

#[test]
fn system_df_counts_each_layer_content_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = strata_store::Store::open(dir.path()).unwrap();
    let shared = image_fixtures::layer_tar("shared", &[7; 1000]);
    for (seed, own) in [("a", &b"abc"[..]), ("b", &b"defghij"[..])] {
        let mut f = image_fixtures::Fixture::new(seed);
        f.layers = vec![shared.clone(), image_fixtures::layer_tar(seed, own)];
        let r = f.add(&store);
        store.tag(&format!("{seed}:1"), &r.manifest_digest).unwrap();
    }
    let root = dir.path();
    // 1000 shared bytes once, plus 3 and 7: docker's LayersSize.
    let df = ok(root, &["system", "df", "--format", "{{.Type}} {{.Size}}"]);
    assert!(df.starts_with("Images 1.01kB\n"), "{df}");
    let verbose = ok(root, &["system", "df", "-v"]);
    let row = verbose.lines().find(|l| l.starts_with("a ")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    // SIZE, SHARED SIZE, UNIQUE SIZE
    assert_eq!(&cols[cols.len() - 3..], ["1kB", "1kB", "3B"], "{verbose}");
    assert_eq!(
        ok(root, &["images", "--format", "{{.Size}}", "b:1"]),
        "1.01kB\n"
    );
}
