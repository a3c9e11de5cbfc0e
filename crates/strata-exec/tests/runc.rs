//! End-to-end runs through runc over a busybox root filesystem (needs root and runc).

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use common::{entries, prerequisites, run_with, Sandbox};
use strata_exec::{
    ExecErrorKind, Mount, MountKind, NetworkMode, ProcessArgs, SecurityMode, Ulimit,
};

#[test]
fn stdout_stderr_exit_code_and_tail() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let out = sb.sh("s", "echo hello; echo oops >&2; exit 3");
    assert_eq!(out.status.code, 3);
    assert!(!out.status.success());
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.stderr, "oops\n");
    let mut tail = out.status.tail.clone();
    tail.sort();
    assert_eq!(tail, ["hello", "oops"]);
    assert_eq!(sb.sh("t", "true").status.code, 0);
    sb.assert_clean();
}

#[test]
fn tail_is_bounded() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let spec = sb.spec(
        "s",
        ProcessArgs::shell("i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done"),
    );
    let mut out = Vec::new();
    let mut io = strata_exec::RunIo::new(&mut out, std::io::sink());
    io.tail_lines = 3;
    let status = strata_exec::Executor::run(&sb.exec, &spec, &mut io).unwrap();
    drop(io);
    assert_eq!(status.tail, ["line97", "line98", "line99"]);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 100);
}

#[test]
fn exec_form_env_cwd_and_stdin() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let mut spec = sb.spec(
        "s",
        ProcessArgs::Exec(vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo \"$FOO|$HOME|$PATH\"; pwd; cat".into(),
        ]),
    );
    spec.env = vec!["FOO=bar baz".into()];
    spec.cwd = "/app/src".into();
    let out = run_with(&sb.exec, &spec, Some(b"from stdin")).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "bar baz|/root|{}\n/app/src\nfrom stdin",
            strata_exec::DEFAULT_PATH
        )
    );
    // The created working directory is a real change of the step.
    assert!(spec.rootfs.upper.join("app/src").is_dir());
    sb.assert_clean();
}

#[test]
fn user_switching_numeric_and_by_name() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let cases = [
        (Some("1000"), "1000 1000 1000 50"),
        (Some("app"), "1000 1000 1000 50"),
        (Some("app:staff"), "1000 50 50"),
        (Some("4242:7"), "4242 7 7"),
        (None, "0 0 0"),
    ];
    for (i, (user, want)) in cases.iter().enumerate() {
        let mut spec = sb.spec(
            &format!("u{i}"),
            ProcessArgs::shell("echo $(id -u) $(id -g) $(id -G)"),
        );
        spec.user = user.map(str::to_string);
        let out = sb.run(&spec).unwrap();
        assert_eq!(out.stdout.trim(), *want, "user {user:?}: {}", out.stderr);
    }
    let mut spec = sb.spec("missing", ProcessArgs::shell("true"));
    spec.user = Some("ghost".into());
    let err = sb.run(&spec).unwrap_err();
    assert_eq!(err.kind(), ExecErrorKind::UserNotFound);
    assert!(err.to_string().contains("ghost"), "{err}");
    sb.assert_clean();
}

#[test]
fn network_none_has_only_loopback_and_host_sees_host() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let ifaces = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|s| s.trim().to_string())
            .collect();
        v.sort();
        v
    };
    let out = sb.sh("none", "cat /proc/net/dev");
    assert_eq!(ifaces(&out.stdout), ["lo"]);

    let mut spec = sb.spec(
        "host",
        ProcessArgs::shell("cat /proc/net/dev; cat /etc/resolv.conf"),
    );
    spec.network = NetworkMode::Host;
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    let host = std::fs::read_to_string("/proc/net/dev").unwrap();
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let (dev, resolv) = out.stdout.split_at(out.stdout.len() - host_resolv.len());
    assert_eq!(ifaces(dev), ifaces(&host));
    assert_eq!(resolv, host_resolv);
    sb.assert_clean();
}

#[test]
fn hostname_and_extra_hosts() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let mut spec = sb.spec(
        "s",
        ProcessArgs::shell("hostname; cat /etc/hosts; echo junk >> /etc/hosts"),
    );
    spec.hostname = "builder-7".into();
    spec.extra_hosts = vec![("db.internal".into(), "10.1.2.3".into())];
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("builder-7\n"));
    assert!(out.stdout.contains("10.1.2.3\tdb.internal"));
    // The private hosts copy took the write; the image's /etc is untouched.
    assert!(
        entries(&spec.rootfs.upper).is_empty(),
        "{:?}",
        entries(&spec.rootfs.upper)
    );
}

#[test]
fn overlay_changes_land_in_upper_with_whiteouts_and_no_stubs() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let spec = sb.spec(
        "s",
        ProcessArgs::shell("echo new > /new.txt && rm /data/old.txt"),
    );
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    let upper = &spec.rootfs.upper;
    // Only the step's changes: no /proc, /dev, /sys or /etc/hosts mount stubs.
    assert_eq!(entries(upper), ["data", "new.txt"]);
    assert_eq!(
        std::fs::read_to_string(upper.join("new.txt")).unwrap(),
        "new\n"
    );
    let wh = std::fs::symlink_metadata(upper.join("data/old.txt")).unwrap();
    assert!(
        wh.file_type().is_char_device(),
        "deletion must leave a whiteout"
    );
    assert_eq!(wh.rdev(), 0);
    assert_eq!(entries(&upper.join("data")), ["old.txt"]);
    // The lower dir is untouched.
    assert!(sb.lower.join("data/old.txt").is_file());
    sb.assert_clean();
}

#[test]
fn stacked_lowers_top_first() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let top = sb.dir.path().join("top");
    std::fs::create_dir_all(top.join("data")).unwrap();
    std::fs::write(top.join("data/keep.txt"), "from top\n").unwrap();
    let mut spec = sb.spec("s", ProcessArgs::shell("cat /data/keep.txt"));
    spec.rootfs.lowers.insert(0, top);
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.stdout, "from top\n");
}

#[test]
fn cache_mount_persists_between_runs() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let cache = sb.dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let script = "n=$(cat /root/.cache/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /root/.cache/n; echo $n";
    let mut last = String::new();
    for i in 0..2 {
        let mut spec = sb.spec(&format!("r{i}"), ProcessArgs::shell(script));
        spec.mounts = vec![Mount {
            target: "/root/.cache".into(),
            kind: MountKind::Cache {
                source: cache.clone(),
                readonly: false,
            },
        }];
        let out = sb.run(&spec).unwrap();
        assert_eq!(out.status.code, 0, "{}", out.stderr);
        last = out.stdout;
        // The cache is not part of the step's changes.
        assert!(entries(&spec.rootfs.upper).is_empty());
    }
    assert_eq!(last, "2\n");
    assert_eq!(std::fs::read_to_string(cache.join("n")).unwrap(), "2\n");
    sb.assert_clean();
}

#[test]
fn secret_is_readable_with_mode_and_absent_from_upper() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let secret = sb.dir.path().join("token");
    std::fs::write(&secret, "s3cr3t").unwrap();
    let mut spec = sb.spec(
        "s",
        ProcessArgs::shell(
            "cat /run/secrets/token; echo; stat -c '%a %u' /run/secrets/token; cat /etc/key; \
             echo done > /out.txt",
        ),
    );
    let mut custom = Mount::secret("key", &secret);
    custom.target = "/etc/key".into();
    if let MountKind::Secret { mode, uid, .. } = &mut custom.kind {
        *mode = 0o440;
        *uid = 1000;
    }
    spec.mounts = vec![Mount::secret("token", &secret), custom];
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "s3cr3t\n400 0\ns3cr3t");
    let upper = &spec.rootfs.upper;
    assert_eq!(
        entries(upper),
        ["out.txt"],
        "secret stubs must not reach the upper dir"
    );
    // The caller's file keeps its own mode.
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_ne!(mode, 0o400);
    sb.assert_clean();
}

#[test]
fn secret_for_non_root_user() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let secret = sb.dir.path().join("token");
    std::fs::write(&secret, "abc").unwrap();
    let mut spec = sb.spec("s", ProcessArgs::shell("cat /run/secrets/t"));
    spec.user = Some("app".into());
    let mut m = Mount::secret("t", &secret);
    if let MountKind::Secret { uid, .. } = &mut m.kind {
        *uid = 1000;
    }
    spec.mounts = vec![m];
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.stdout, "abc");
    // Root-owned 0400 is unreadable for uid 1000.
    let mut spec = sb.spec("t", ProcessArgs::shell("cat /run/secrets/t"));
    spec.user = Some("app".into());
    spec.mounts = vec![Mount::secret("t", &secret)];
    assert_ne!(sb.run(&spec).unwrap().status.code, 0);
}

#[test]
fn tmpfs_mount_has_size_and_is_not_in_upper() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let mut spec = sb.spec(
        "s",
        ProcessArgs::shell("echo x > /scratch/f && grep ' /scratch ' /proc/mounts"),
    );
    spec.mounts = vec![Mount {
        target: "/scratch".into(),
        kind: MountKind::Tmpfs {
            size: Some(1024 * 1024),
        },
    }];
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("tmpfs /scratch tmpfs"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("size=1024k"), "{}", out.stdout);
    assert!(entries(&spec.rootfs.upper).is_empty());
    sb.assert_clean();
}

#[test]
fn bind_readonly_refuses_writes_and_rw_discards_them() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let src = sb.dir.path().join("ctx");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "content\n").unwrap();
    let bind = |readonly| Mount {
        target: "/src".into(),
        kind: MountKind::Bind {
            source: src.clone(),
            readonly,
        },
    };
    let mut spec = sb.spec("ro", ProcessArgs::shell("cat /src/f; touch /src/x"));
    spec.mounts = vec![bind(true)];
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.stdout, "content\n");
    assert_ne!(out.status.code, 0);
    assert!(out.stderr.contains("Read-only"), "{}", out.stderr);

    let mut spec = sb.spec(
        "rw",
        ProcessArgs::shell("echo changed > /src/f && touch /src/x && cat /src/f"),
    );
    spec.mounts = vec![bind(false)];
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "changed\n");
    assert_eq!(std::fs::read_to_string(src.join("f")).unwrap(), "content\n");
    assert_eq!(entries(&src), ["f"]);
    assert!(entries(&spec.rootfs.upper).is_empty());
    sb.assert_clean();
}

#[test]
fn ulimit_and_shm_size() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let mut spec = sb.spec(
        "s",
        ProcessArgs::shell("ulimit -n; ulimit -Hn; grep ' /dev/shm ' /proc/mounts"),
    );
    spec.ulimits = vec![Ulimit::parse("nofile=256:512").unwrap()];
    spec.shm_size = 8 * 1024 * 1024;
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..2], ["256", "512"]);
    assert!(lines[2].contains("size=8192k"), "{}", lines[2]);
}

#[test]
fn insecure_gets_all_capabilities_and_no_seccomp() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    // (CapEff mask, seccomp mode) as the process sees them.
    let status = |security| {
        let mut spec = sb.spec(
            &format!("{security:?}"),
            ProcessArgs::shell("grep -E '^(CapEff|Seccomp):' /proc/self/status"),
        );
        spec.security = security;
        let out = sb.run(&spec).unwrap();
        let fields: Vec<&str> = out.stdout.split_whitespace().collect();
        assert_eq!(fields.len(), 4, "{}", out.stdout);
        (
            u64::from_str_radix(fields[1], 16).unwrap(),
            fields[3].to_string(),
        )
    };
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_CHOWN: u32 = 0;
    let (sandbox, sandbox_seccomp) = status(SecurityMode::Sandbox);
    let (insecure, insecure_seccomp) = status(SecurityMode::Insecure);
    assert_eq!(sandbox_seccomp, "2", "sandbox runs under a seccomp filter");
    assert_eq!(insecure_seccomp, "0", "insecure runs without seccomp");
    assert_eq!(
        sandbox.count_ones() as usize,
        strata_exec::DEFAULT_CAPABILITIES.len()
    );
    assert_eq!(sandbox & (1 << CAP_SYS_ADMIN), 0);
    assert_ne!(sandbox & (1 << CAP_CHOWN), 0);
    assert_ne!(insecure & (1 << CAP_SYS_ADMIN), 0);
}

#[test]
fn runtime_failure_is_an_error_naming_the_binary() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let spec = sb.spec("s", ProcessArgs::Exec(vec!["/no/such/tool".into()]));
    let err = sb.run(&spec).unwrap_err();
    assert_eq!(err.kind(), ExecErrorKind::Runtime);
    assert!(err.to_string().contains("/no/such/tool"), "{err}");
    sb.assert_clean();
}

#[test]
fn panicking_sink_still_cleans_up() {
    if !prerequisites() {
        return;
    }
    struct Boom;
    impl std::io::Write for Boom {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            panic!("sink exploded");
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sb = Sandbox::new();
    // Far more than a pipe buffer: the run only ends if output is drained after the panic.
    let spec = sb.spec("s", ProcessArgs::shell("head -c 4194304 /dev/zero"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut io = strata_exec::RunIo::new(Boom, std::io::sink());
        let _ = strata_exec::Executor::run(&sb.exec, &spec, &mut io);
    }));
    assert!(result.is_err());
    sb.assert_clean();
}

#[test]
fn concurrent_runs_share_one_executor() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let sb = &sb;
                s.spawn(move || sb.sh(&format!("c{i}"), &format!("echo {i} > /f; cat /f")))
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join().unwrap().stdout, format!("{i}\n"));
        }
    });
    sb.assert_clean();
}

#[test]
fn ssh_socket_is_bound_and_advertised() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let sock = sb.dir.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut spec = sb.spec(
        "s",
        ProcessArgs::shell("test -S \"$SSH_AUTH_SOCK\" && echo $SSH_AUTH_SOCK"),
    );
    spec.mounts = vec![Mount::ssh(0, &sock)];
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "/run/buildkit/ssh_agent.0\n");
    assert!(entries(&spec.rootfs.upper).is_empty());
    // A regular file is refused as a socket.
    let mut spec = sb.spec("f", ProcessArgs::shell("true"));
    spec.mounts = vec![Mount::ssh(0, sb.lower.join("data/keep.txt"))];
    assert_eq!(
        sb.run(&spec).unwrap_err().kind(),
        ExecErrorKind::InvalidSpec
    );
    sb.assert_clean();
}

#[test]
fn many_long_lower_dirs_use_the_new_mount_api() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    // 100 lowers with ~100-byte paths exceed one page of classic mount options.
    let mut lowers = Vec::new();
    for i in 0..100 {
        let dir = sb
            .dir
            .path()
            .join(format!("layer-{i:03}-{}", "x".repeat(80)));
        std::fs::create_dir_all(dir.join("layers")).unwrap();
        std::fs::write(dir.join("layers").join(i.to_string()), "").unwrap();
        lowers.push(dir);
    }
    let mut spec = sb.spec("s", ProcessArgs::shell("ls /layers | wc -l"));
    lowers.push(sb.lower.clone());
    spec.rootfs.lowers = lowers;
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "100");
    sb.assert_clean();
}

#[test]
fn cancel_kills_the_container_and_cleans_up() {
    if !prerequisites() {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    let sb = Sandbox::new();
    let spec = sb.spec(
        "s",
        ProcessArgs::shell("echo started; sleep 60; echo finished"),
    );
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        flag.store(true, Ordering::Release);
    });
    let mut out = Vec::new();
    let mut io = strata_exec::RunIo::new(&mut out, std::io::sink());
    io.cancel = Some(cancel);
    let err = strata_exec::Executor::run(&sb.exec, &spec, &mut io).unwrap_err();
    drop(io);
    setter.join().unwrap();
    assert_eq!(err.kind(), ExecErrorKind::Cancelled, "{err}");
    // Killed, not waited for: the command never got to its last line.
    assert_eq!(out, b"started\n");
    sb.assert_clean();
}

#[test]
fn renamed_lower_dir_is_copied_not_redirected() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let spec = sb.spec("s", ProcessArgs::shell("mv /data /moved && ls /moved"));
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "keep.txt\nold.txt\n");
    let upper = &spec.rootfs.upper;
    assert_eq!(entries(upper), ["data", "moved"]);
    assert!(std::fs::symlink_metadata(upper.join("data"))
        .unwrap()
        .file_type()
        .is_char_device());
    // Full copies, not a redirect xattr pointing at the lower dir.
    assert_eq!(entries(&upper.join("moved")), ["keep.txt", "old.txt"]);
    assert_eq!(
        std::fs::read_to_string(upper.join("moved/keep.txt")).unwrap(),
        "keep\n"
    );
}

#[test]
fn recreated_lower_dir_is_opaque() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let spec = sb.spec(
        "s",
        ProcessArgs::shell("rm -rf /data && mkdir /data && echo n > /data/n"),
    );
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    let data = spec.rootfs.upper.join("data");
    assert_eq!(entries(&data), ["n"]);
    let mut buf = [0u8; 4];
    let n = rustix::fs::lgetxattr(&data, "trusted.overlay.opaque", &mut buf).unwrap();
    assert_eq!(&buf[..n], b"y");
}

#[test]
fn recover_stale_removes_dead_owners_bundles_only() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let bundles = sb.state_dir().join("bundles");
    // pid_max is at most 2^22, so this owner cannot be alive.
    let dead = bundles.join("strata-999999999-0-00000000");
    let mine = bundles.join(format!("strata-{}-999-00000000", std::process::id()));
    std::fs::create_dir_all(dead.join("secrets")).unwrap();
    std::fs::create_dir_all(&mine).unwrap();
    rustix::mount::mount(
        "tmpfs",
        dead.join("secrets"),
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .unwrap();
    std::fs::write(dead.join("secrets/0"), "x").unwrap();
    assert_eq!(sb.exec.recover_stale().unwrap(), 1);
    assert!(!dead.exists());
    assert!(mine.exists());
    std::fs::remove_dir(&mine).unwrap();
    sb.assert_clean();
}

#[test]
fn single_file_binds_and_readonly_cache() {
    if !prerequisites() {
        return;
    }
    let sb = Sandbox::new();
    let file = sb.dir.path().join("app.conf");
    std::fs::write(&file, "v1\n").unwrap();
    let cache = sb.dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut spec = sb.spec(
        "s",
        ProcessArgs::shell(
            "echo v2 > /etc/app.conf && cat /etc/app.conf && ! touch /cache/x 2>/dev/null && echo ro",
        ),
    );
    spec.mounts = vec![
        Mount {
            target: "/etc/app.conf".into(),
            kind: MountKind::Bind {
                source: file.clone(),
                readonly: false,
            },
        },
        Mount {
            target: "/cache".into(),
            kind: MountKind::Cache {
                source: cache.clone(),
                readonly: true,
            },
        },
    ];
    let out = sb.run(&spec).unwrap();
    assert_eq!(out.status.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "v2\nro\n");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "v1\n");
    assert!(entries(&cache).is_empty());
    assert!(
        entries(&spec.rootfs.upper).is_empty(),
        "{:?}",
        entries(&spec.rootfs.upper)
    );
    sb.assert_clean();
}
