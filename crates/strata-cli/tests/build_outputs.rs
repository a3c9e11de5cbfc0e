//! `strata build`: outputs (`-o` local, tar, docker, oci), progress modes, and the ways a
//! context arrives (directory, stdin tar, stdin Dockerfile, `-f -`).

mod build_common;

use std::io::Write;
use std::process::Stdio;

use build_common::*;

fn sample(e: &Env) -> std::path::PathBuf {
    e.ctx(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY --chown=11:12 --chmod=640 f.txt /data/f.txt\nRUN ln -s /data/f.txt /link && rm /etc/group\n",
        ),
        ("f.txt", "payload"),
    ])
}

#[test]
fn local_output_has_owners_modes_symlinks_and_deletions() {
    let e = env_or_skip!();
    let root = e.rootfs(&sample(&e), &[]);
    assert_eq!(read(&root, "data/f.txt"), "payload");
    assert_eq!(owner(&root, "data/f.txt"), (11, 12));
    assert_eq!(mode(&root, "data/f.txt"), 0o640);
    assert_eq!(
        std::fs::read_link(root.join("link")).unwrap().to_str(),
        Some("/data/f.txt")
    );
    assert!(!exists(&root, "etc/group"));
    assert!(
        !exists(&root, "etc/.wh.group"),
        "whiteouts are applied, not copied"
    );
    assert!(root.join("bin/busybox").is_file());
}

/// Issue 11, defect 2: the local exporter writes the flattened final filesystem; whiteouts
/// and opaque directories of the image's layers never delete the user's files in DIR.
#[test]
fn defect_2_local_output_leaves_the_users_files_alone() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[(
        "Dockerfile",
        "FROM busybox\n\
         RUN mkdir -p /src /o && echo img > /src/a && echo 1 > /o/old && echo 1 > /data\n\
         RUN rm -rf /src /o && mkdir /o && echo 2 > /o/new && echo 2 > /data\n",
    )]);
    let dest = e.path("user-dir");
    write(&dest, "src/main.c", "int main;");
    write(&dest, "o/user.txt", "mine");
    write(&dest, "notes.txt", "keep me");
    write(&dest, "data", "old");
    let spec = format!("type=local,dest={}", dest.display());
    e.build_ok(&ctx, &["-o", &spec]);
    // Files the image does not have are left alone, whatever its whiteouts said.
    assert_eq!(read(&dest, "src/main.c"), "int main;");
    assert_eq!(read(&dest, "o/user.txt"), "mine");
    assert_eq!(read(&dest, "notes.txt"), "keep me");
    // The image's files are there and win over their namesakes.
    assert_eq!(read(&dest, "o/new"), "2\n");
    assert_eq!(read(&dest, "data"), "2\n");
    assert!(!exists(&dest, "o/old") && !exists(&dest, "src/a"));
    assert!(dest.join("bin/busybox").is_file());
    for marker in ["src/.wh.a", ".wh.src", "o/.wh..wh..opq"] {
        assert!(!exists(&dest, marker), "{marker} copied into the output");
    }
}

#[test]
fn bare_output_path_means_local() {
    let e = env_or_skip!();
    let dest = e.path("bare");
    e.build_ok(&sample(&e), &["-o", dest.to_str().unwrap()]);
    assert_eq!(read(&dest, "data/f.txt"), "payload");
}

#[test]
fn tar_output_lists_the_rootfs() {
    let e = env_or_skip!();
    let dest = e.path("root").with_extension("tar");
    let spec = format!("type=tar,dest={}", dest.display());
    let b = e.build_ok(&sample(&e), &["-o", &spec]);
    assert!(b.stderr.contains("sending tarball"), "{}", b.stderr);
    let entries = tar_entries(&std::fs::read(&dest).unwrap());
    let (_, h) = entries.iter().find(|(n, _)| n == "data/f.txt").unwrap();
    assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (11, 12));
    assert_eq!(h.mode().unwrap() & 0o7777, 0o640);
    let (_, l) = entries.iter().find(|(n, _)| n == "link").unwrap();
    assert_eq!(
        l.link_name().unwrap().unwrap().to_str(),
        Some("/data/f.txt")
    );
    assert!(!entries
        .iter()
        .any(|(n, _)| n == "etc/group" || n.contains(".wh.")));
}

#[test]
fn tar_output_to_stdout() {
    let e = env_or_skip!();
    let ctx = sample(&e);
    let out = e.strata(&[
        "build",
        "--progress",
        "plain",
        "-o",
        "-",
        ctx.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = tar_entries(&out.stdout);
    assert!(entries.iter().any(|(n, _)| n == "data/f.txt"));
}

#[test]
fn docker_archive_output_loads_elsewhere() {
    let e = env_or_skip!();
    let dest = e.path("img").with_extension("tar");
    let spec = format!("type=docker,dest={},name=exported:v1", dest.display());
    let b = e.build_ok(&sample(&e), &["-o", &spec]);
    let other = e.other_store();
    other.run(&["load", "-i", dest.to_str().unwrap()]).unwrap();
    let inspect = other.run(&["inspect", "exported:v1"]).unwrap();
    assert!(inspect.contains(&b.id), "{inspect}");
}

#[test]
fn oci_archive_output_is_an_oci_layout() {
    let e = env_or_skip!();
    let dest = e.path("oci").with_extension("tar");
    let spec = format!("type=oci,dest={}", dest.display());
    e.build_ok(&sample(&e), &["-o", &spec, "-t", "ocitag:1"]);
    let entries = tar_entries(&std::fs::read(&dest).unwrap());
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"oci-layout"), "{names:?}");
    assert!(names.contains(&"index.json"));
    assert!(names.iter().any(|n| n.starts_with("blobs/sha256/")));
}

#[test]
fn image_output_with_name_tags_the_image() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\n"),
        &["-o", "type=image,name=named:out"],
    );
    assert_eq!(e.inspect("named:out")["Id"], b.id.as_str());
}

#[test]
fn more_than_one_output_is_rejected() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("FROM busybox\n"), &["-o", "a", "-o", "b"]);
    assert!(err.contains("only one --output"), "{err}");
}

#[test]
fn tty_progress_builds() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo tty\n");
    let out = e.strata(&[
        "build",
        "--progress",
        "tty",
        "-t",
        "tty:1",
        ctx.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(e.inspect("tty:1")["Id"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
}

#[test]
fn quiet_progress_writes_nothing_to_stderr() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo hush\n");
    let out = e.strata(&["build", "--progress", "quiet", ctx.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("sha256:"));
}

#[test]
fn plain_progress_shows_buildkit_lines() {
    let e = env_or_skip!();
    let b = e.build_ok(&e.df("FROM busybox\nRUN echo p\n"), &["-t", "plain:1"]);
    let lines: Vec<&str> = b.stderr.lines().collect();
    for want in [
        "#1 [internal] load build definition from Dockerfile",
        "#2 [internal] load .dockerignore",
        "#3 [internal] load metadata for docker.io/library/busybox:latest",
        "#4 [1/2] FROM docker.io/library/busybox:latest",
        "#4 CACHED",
        "#5 [2/2] RUN echo p",
        "#6 exporting to image",
        "#6 naming to docker.io/library/plain:1 done",
    ] {
        assert!(lines.contains(&want), "missing {want:?}:\n{}", b.stderr);
    }
    assert!(lines
        .iter()
        .any(|l| l.starts_with("#5 DONE ") && l.ends_with('s')));
}

/// Two stages' RUN steps interleave: every output line sits under its own step's header.
#[test]
fn plain_progress_repeats_a_steps_header_when_lines_interleave() {
    let e = env_or_skip!();
    let df = "FROM busybox AS a\nRUN for i in 1 2 3 4 5; do echo a$i; sleep 0.2; done\nFROM busybox AS b\nRUN for i in 1 2 3 4 5; do echo b$i; sleep 0.2; done\nFROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n";
    let b = e.build_ok(&e.df(df), &[]);
    let mut current = String::new();
    for l in b.stderr.lines() {
        let Some((num, rest)) = l.strip_prefix('#').and_then(|r| r.split_once(' ')) else {
            continue;
        };
        if rest.starts_with('[') || rest.starts_with("exporting") {
            current = num.to_owned();
            continue;
        }
        assert_eq!(
            num, current,
            "line of #{num} under #{current}'s header:\n{}",
            b.stderr
        );
    }
}

fn stdin_build(e: &Env, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut cmd = e.s.command();
    cmd.arg("build")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn dockerfile_from_stdin_has_no_context() {
    let e = env_or_skip!();
    let out = stdin_build(
        &e,
        &["-q", "-"],
        b"FROM busybox\nRUN echo stdin > /s\nLABEL src=stdin\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(e.config(&id)["Labels"]["src"], "stdin");
    let out = stdin_build(&e, &["-"], b"FROM busybox\nCOPY x /x\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no context"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn context_tar_from_stdin() {
    let e = env_or_skip!();
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("Dockerfile", &b"FROM busybox\nCOPY in.txt /in.txt\n"[..]),
        ("in.txt", b"from tar"),
        ("alt/Other", b"FROM busybox\nCOPY in.txt /other.txt\n"),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, data).unwrap();
    }
    let bytes = tar.into_inner().unwrap();
    let dest = e.path("out");
    let out = stdin_build(&e, &["-o", dest.to_str().unwrap(), "-"], &bytes);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&dest, "in.txt"), "from tar");
    let dest2 = e.path("out");
    let out = stdin_build(
        &e,
        &["-f", "alt/Other", "-o", dest2.to_str().unwrap(), "-"],
        &bytes,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&dest2, "other.txt"), "from tar");
}

#[test]
fn dockerfile_on_stdin_with_directory_context() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[("c.txt", "ctx file")]);
    let dest = e.path("out");
    let out = stdin_build(
        &e,
        &[
            "-f",
            "-",
            "-o",
            dest.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
        b"FROM busybox\nCOPY c.txt /c.txt\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(read(&dest, "c.txt"), "ctx file");
}

#[test]
fn dockerfile_outside_the_context() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[("c.txt", "ctx")]);
    let elsewhere = e.ctx(&[("My.Dockerfile", "FROM busybox\nCOPY c.txt /elsewhere.txt\n")]);
    let f = elsewhere.join("My.Dockerfile");
    let root = e.rootfs(&ctx, &["-f", f.to_str().unwrap()]);
    assert_eq!(read(&root, "elsewhere.txt"), "ctx");
}

#[test]
fn example_hello_site_builds() {
    let e = env_or_skip!();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello-site");
    let b = e.build_ok(&dir, &["--build-arg", "VERSION=1.0", "-t", "hello-site:1"]);
    let c = e.config(&b.id);
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["WorkingDir"], "/www");
    assert_eq!(c["Labels"]["org.opencontainers.image.version"], "1.0");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/serve"]));
    let root = e.rootfs(&dir, &["--build-arg", "VERSION=1.0"]);
    assert!(read(&root, "www/index.html").contains("Version 1.0."));
    assert_eq!(read(&root, "www/pages.txt"), "about.html\nindex.html\n");
    assert_eq!(owner(&root, "www/index.html"), (65534, 65534));
    assert_eq!(mode(&root, "usr/local/bin/serve"), 0o755);
    assert!(
        !exists(&root, "www/drafts"),
        ".dockerignore keeps drafts out"
    );
    // Everything but the export came from the cache the second time.
    let again = e.build_ok(&dir, &["--build-arg", "VERSION=1.0"]);
    assert_eq!(again.id, b.id);
}
