//! `strata build`: RUN in all its forms, its environment, and every `--mount` type.

mod build_common;

use build_common::*;

#[test]
fn run_output_is_shown_with_step_timestamps() {
    let e = env_or_skip!();
    let b = e.build_ok(&e.df("FROM busybox\nRUN echo hello-from-run\n"), &[]);
    let line = b
        .stderr
        .lines()
        .find(|l| {
            l.ends_with(" hello-from-run")
                && l.split(' ')
                    .nth(1)
                    .is_some_and(|t| t.parse::<f64>().is_ok())
        })
        .unwrap_or_else(|| panic!("no output line:\n{}", b.stderr));
    // `#N 0.123 hello-from-run`
    let mut parts = line.split(' ');
    assert!(parts.next().unwrap().starts_with('#'));
    assert!(parts.next().unwrap().parse::<f64>().is_ok(), "{line}");
    assert_eq!(b.step("RUN echo hello-from-run"), Step::Ran);
}

#[test]
fn run_shell_form_history_and_file() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo made > /made.txt\n");
    let b = e.build_ok(&ctx, &[]);
    let h = e.history(&b.id);
    assert_eq!(h[0], "RUN /bin/sh -c echo made > /made.txt # buildkit");
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "made.txt"), "made\n");
}

#[test]
fn run_exec_form_runs_without_shell_wrapping() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN [\"/bin/sh\", \"-c\", \"echo exec > /exec.txt\"]\n");
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(
        e.history(&b.id)[0],
        "RUN /bin/sh -c echo exec > /exec.txt # buildkit"
    );
    assert_eq!(read(&e.rootfs(&ctx, &[]), "exec.txt"), "exec\n");
}

#[test]
fn run_file_modes_and_owners_are_kept() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox\nRUN echo x > /suid && chmod 4755 /suid && mkdir -p /o && echo y > /o/f && chown -R 65534:65534 /o && chmod 640 /o/f\n",
    );
    assert_eq!(mode(&root, "suid"), 0o4755);
    assert_eq!(owner(&root, "o"), (65534, 65534));
    assert_eq!(owner(&root, "o/f"), (65534, 65534));
    assert_eq!(mode(&root, "o/f"), 0o640);
}

#[test]
fn run_rm_writes_a_whiteout_and_deletes_the_file() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN rm /etc/group && rm -r /home\n");
    let b = e.build_ok(&ctx, &[]);
    let layers = layers(&e, &b.id);
    assert_eq!(layers.len(), 2);
    let names: Vec<String> = tar_entries(&layers[1])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.iter().any(|n| n == "etc/.wh.group"), "{names:?}");
    assert!(names.iter().any(|n| n == ".wh.home"), "{names:?}");
    let root = e.rootfs(&ctx, &[]);
    assert!(!exists(&root, "etc/group"));
    assert!(!exists(&root, "home"));
    assert!(exists(&root, "etc/passwd"));
}

#[test]
fn run_symlink_created_in_step() {
    let e = env_or_skip!();
    let root = e.rootfs_of("FROM busybox\nRUN ln -s /etc/passwd /pw && ln -s ../x /etc/rel\n");
    assert_eq!(
        std::fs::read_link(root.join("pw")).unwrap().to_str(),
        Some("/etc/passwd")
    );
    assert_eq!(
        std::fs::read_link(root.join("etc/rel")).unwrap().to_str(),
        Some("../x")
    );
}

#[test]
fn run_sees_env_and_args_but_args_do_not_persist() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nENV FOO=bar\nARG BUILDV=dflt\nRUN echo \"$FOO $BUILDV\" > /v\n");
    let b = e.build_ok(&ctx, &["--build-arg", "BUILDV=given"]);
    let root = e.rootfs(&ctx, &["--build-arg", "BUILDV=given"]);
    assert_eq!(read(&root, "v"), "bar given\n");
    let env = e.config(&b.id)["Env"].clone();
    let env: Vec<&str> = env
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"FOO=bar"));
    assert!(!env.iter().any(|v| v.starts_with("BUILDV")), "{env:?}");
    // docker records the args a RUN saw in its history entry.
    assert!(
        e.history(&b.id)[0].contains("BUILDV=given"),
        "{:?}",
        e.history(&b.id)
    );
}

#[test]
fn run_uses_workdir_and_user() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox\nWORKDIR /w/sub\nRUN pwd > /pwd.txt\nUSER nobody\nRUN id -u > /tmp/uid && id -g >> /tmp/uid\n",
    );
    assert_eq!(read(&root, "pwd.txt"), "/w/sub\n");
    assert_eq!(read(&root, "tmp/uid"), "65534\n65534\n");
    assert_eq!(owner(&root, "tmp/uid"), (65534, 65534));
}

#[test]
fn run_heredoc_runs_a_script() {
    let e = env_or_skip!();
    let root =
        e.rootfs_of("FROM busybox\nRUN <<EOT\necho line1 > /h.txt\necho line2 >> /h.txt\nEOT\n");
    assert_eq!(read(&root, "h.txt"), "line1\nline2\n");
}

#[test]
fn run_heredoc_quoted_and_unquoted_delimiters() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox\nRUN <<\"EOT\" sh\n#!/bin/sh\nset -e\nx=$((2+3))\necho \"$x\" > /calc\nEOT\nRUN <<EOT\necho \"unquoted $((1+1))\" > /expanded\nEOT\n",
    );
    assert_eq!(read(&root, "calc"), "5\n");
    assert_eq!(read(&root, "expanded"), "unquoted 2\n");
}

#[test]
fn shell_instruction_changes_run_and_history() {
    let e = env_or_skip!();
    let ctx =
        e.df("FROM busybox\nSHELL [\"/bin/busybox\", \"sh\", \"-c\"]\nRUN echo $0 > /shell\n");
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(
        e.history(&b.id)[0],
        "RUN /bin/busybox sh -c echo $0 > /shell # buildkit"
    );
    assert_eq!(
        e.config(&b.id)["Shell"],
        serde_json::json!(["/bin/busybox", "sh", "-c"])
    );
}

#[test]
fn network_none_has_only_loopback() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &e.df(
            "FROM busybox\nRUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /ifs\n",
        ),
        &["--network", "none"],
    );
    assert_eq!(read(&root, "ifs"), "lo\n");
}

#[test]
fn run_network_flag_none_overrides_default() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox\nRUN --network=none cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' > /ifs\n",
    );
    assert_eq!(read(&root, "ifs"), "lo\n");
}

#[test]
fn network_host_sees_host_interfaces() {
    let e = env_or_skip!();
    let host = std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .count()
        - 2;
    let root = e.rootfs(
        &e.df("FROM busybox\nRUN tail -n +3 /proc/net/dev | wc -l > /n\n"),
        &["--network", "host"],
    );
    assert_eq!(read(&root, "n").trim(), host.to_string());
}

#[test]
fn cache_mount_persists_across_builds_and_stays_out_of_layers() {
    let e = env_or_skip!();
    let ctx = e.df(
        "FROM busybox\nRUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /count\n",
    );
    let first = e.rootfs(&ctx, &[]);
    assert_eq!(read(&first, "count").trim(), "1");
    assert!(!exists(&first, "cache/log"));
    let second = e.rootfs(&ctx, &["--no-cache"]);
    assert_eq!(read(&second, "count").trim(), "2");
}

#[test]
fn cache_mount_shared_by_id_between_targets_and_owned() {
    let e = env_or_skip!();
    let a = e.df("FROM busybox\nRUN --mount=type=cache,id=shared,target=/a echo hi > /a/f\n");
    e.build_ok(&a, &[]);
    let b = e.df(
        "FROM busybox\nRUN --mount=type=cache,id=shared,target=/b,uid=65534,mode=0700 cat /b/f > /got\nRUN --mount=type=cache,id=fresh,target=/c,uid=65534,gid=65534,mode=0750 stat -c '%u:%g %a' /c > /st\n",
    );
    let root = e.rootfs(&b, &[]);
    assert_eq!(read(&root, "got"), "hi\n");
    assert_eq!(read(&root, "st"), "65534:65534 750\n");
}

#[test]
fn secret_file_is_readable_but_never_stored() {
    let e = env_or_skip!();
    let secret = e.path("secret");
    std::fs::write(&secret, "TOPSECRET-4711").unwrap();
    let ctx = e.df(
        "FROM busybox\nRUN --mount=type=secret,id=tok grep -q SECRET-47 /run/secrets/tok && test \"$(wc -c < /run/secrets/tok)\" -eq 14 && echo ok > /checked\n",
    );
    let spec = format!("id=tok,src={}", secret.display());
    let b = e.build_ok(&ctx, &["--secret", &spec, "-t", "sec:1"]);
    for layer in layers(&e, "sec:1") {
        assert!(!contains(&layer, b"TOPSECRET"), "secret in a layer");
        assert!(!tar_entries(&layer)
            .iter()
            .any(|(n, _)| n.contains("secrets/tok")));
    }
    let inspect = e.s.run(&["inspect", &b.id]).unwrap();
    assert!(!inspect.contains("TOPSECRET"));
    assert!(!e.history(&b.id).concat().contains("TOPSECRET"));
    let root = e.rootfs(&ctx, &["--secret", &spec]);
    assert_eq!(read(&root, "checked"), "ok\n");
}

#[test]
fn secret_from_env_as_file_and_env_var() {
    let e = env_or_skip!();
    let ctx = e.df(
        "FROM busybox\nRUN --mount=type=secret,id=api,target=/etc/api.key cat /etc/api.key > /dev/null && test \"$(cat /etc/api.key)\" = s3cr3t && touch /ok1\nRUN --mount=type=secret,id=api,env=API_KEY test \"$API_KEY\" = s3cr3t && touch /ok2\n",
    );
    let dest = e.path("out");
    let spec = format!("type=local,dest={}", dest.display());
    let b = e.build_env(
        &ctx,
        &["--secret", "id=api,env=MY_API_KEY", "-o", &spec],
        &[("MY_API_KEY", "s3cr3t")],
    );
    assert!(b.ok, "{}", b.stderr);
    assert!(exists(&dest, "ok1") && exists(&dest, "ok2"));
    assert!(!exists(&dest, "etc/api.key"));
}

#[test]
fn secret_required_but_missing_fails() {
    let e = env_or_skip!();
    let err = e.build_err(
        &e.df("FROM busybox\nRUN --mount=type=secret,id=nope,required=true true\n"),
        &[],
    );
    assert!(err.contains("nope"), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
}

#[test]
fn optional_secret_missing_is_skipped() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox\nRUN --mount=type=secret,id=maybe test ! -e /run/secrets/maybe && touch /absent\n",
    );
    assert!(exists(&root, "absent"));
}

#[test]
fn bind_mount_from_context_is_not_in_the_image() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        (
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=bind,source=data,target=/d cat /d/in.txt > /copied\n",
        ),
        ("data/in.txt", "bound"),
    ]);
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "copied"), "bound");
    assert!(!exists(&root, "d/in.txt"));
}

#[test]
fn bind_mount_is_read_only_unless_rw() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        (
            "Dockerfile",
            "FROM busybox\nRUN --mount=type=bind,target=/src (touch /src/new 2>/dev/null && echo writable || echo ro) > /ro\nRUN --mount=type=bind,target=/src,rw touch /src/new && echo rw > /rw\n",
        ),
        ("f", "x"),
    ]);
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "ro"), "ro\n");
    assert_eq!(read(&root, "rw"), "rw\n");
    assert!(
        !ctx.join("new").exists(),
        "rw bind must not write back to the context"
    );
}

#[test]
fn bind_mount_from_a_stage() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox AS src\nRUN echo from-stage > /s.txt\nFROM busybox\nRUN --mount=type=bind,from=src,source=/s.txt,target=/m cat /m > /r\n",
    );
    assert_eq!(read(&root, "r"), "from-stage\n");
    assert!(!exists(&root, "s.txt"));
}

#[test]
fn tmpfs_mount_is_tmpfs_and_discarded() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox\nRUN --mount=type=tmpfs,target=/scratch echo x > /scratch/f && grep ' /scratch ' /proc/mounts | cut -d' ' -f3 > /fstype\n",
    );
    assert_eq!(read(&root, "fstype"), "tmpfs\n");
    assert!(!exists(&root, "scratch/f"));
}

#[test]
fn ssh_mount_exposes_the_agent_socket() {
    let e = env_or_skip!();
    let sock = e.path("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let ctx = e.df(
        "FROM busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sockpath\nRUN --mount=type=ssh,id=other,target=/agent test -S /agent && touch /other-ok\n",
    );
    let a = format!("default={}", sock.display());
    let b = format!("other={}", sock.display());
    let root = e.rootfs(&ctx, &["--ssh", &a, "--ssh", &b]);
    assert!(
        read(&root, "sockpath").starts_with("/run/buildkit/ssh_agent"),
        "{}",
        read(&root, "sockpath")
    );
    assert!(exists(&root, "other-ok"));
}

#[test]
fn ssh_default_comes_from_ssh_auth_sock() {
    let e = env_or_skip!();
    let sock = e.path("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let dest = e.path("out");
    let spec = format!("type=local,dest={}", dest.display());
    let b = e.build_env(
        &e.df("FROM busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && touch /ok\n"),
        &["--ssh", "default", "-o", &spec],
        &[("SSH_AUTH_SOCK", sock.to_str().unwrap())],
    );
    assert!(b.ok, "{}", b.stderr);
    assert!(exists(&dest, "ok"));
}

#[test]
fn ssh_required_without_agent_fails() {
    let e = env_or_skip!();
    let err = e.build_err(
        &e.df("FROM busybox\nRUN --mount=type=ssh,required=true true\n"),
        &[],
    );
    assert!(err.contains("ssh"), "{err}");
}

#[test]
fn security_insecure_needs_allow() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status > /caps\n");
    let err = e.build_err(&ctx, &[]);
    assert!(err.contains("security.insecure"), "{err}");
    let root = e.rootfs(&ctx, &["--allow", "security.insecure"]);
    let caps = read(&root, "caps");
    let hex = caps.split_whitespace().nth(1).unwrap();
    let bits = u64::from_str_radix(hex, 16).unwrap();
    // CAP_SYS_ADMIN (21) is only granted to insecure steps.
    assert!(bits & (1 << 21) != 0, "{caps}");
}

#[test]
fn shm_size_and_ulimit_apply_to_run() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &e.df("FROM busybox\nRUN df -k /dev/shm | tail -n 1 | awk '{print $2}' > /shm && ulimit -n > /nofile\n"),
        &["--shm-size", "16m", "--ulimit", "nofile=512:1024"],
    );
    assert_eq!(read(&root, "shm").trim(), "16384");
    assert_eq!(read(&root, "nofile").trim(), "512");
}
