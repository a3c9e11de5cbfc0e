//! `strata build` flags docker users and CI scripts pass: `--pull`, `--rm`, `--force-rm`,
//! `--compress`, `--add-host`, `--build-arg NAME` without a value, and the `# syntax=`
//! directive.

mod build_common;

use build_common::*;

#[test]
fn build_arg_unset_in_the_environment_is_empty() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nARG STRATA_UNSET_ARG=default\nLABEL v=\"[$STRATA_UNSET_ARG]\"\n");
    let b = e.build_env(&ctx, &["--build-arg", "STRATA_UNSET_ARG"], &[]);
    assert!(b.ok, "{}", b.stderr);
    assert_eq!(e.config(&b.id)["Labels"]["v"], "[]");
}

#[test]
fn rm_force_rm_and_compress_are_accepted() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo ok > /ok\n");
    for flags in [
        &["--rm"][..],
        &["--rm=false", "--force-rm"],
        &["--force-rm=true", "--compress"],
    ] {
        let b = e.build(&ctx, flags);
        assert!(b.ok, "{flags:?}: {}", b.stderr);
    }
}

#[test]
fn add_host_is_written_into_run_steps_etc_hosts() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN cat /etc/hosts > /hosts-seen\n");
    let root = e.rootfs(
        &ctx,
        &["--add-host", "db.internal:10.1.2.3", "--add-host", "v6=::1"],
    );
    let hosts = read(&root, "hosts-seen");
    assert!(hosts.contains("10.1.2.3\tdb.internal"), "{hosts}");
    assert!(hosts.contains("::1\tv6"), "{hosts}");
    // The hosts file is not part of the image, and the step reruns when the hosts change.
    assert!(!exists(&root, "etc/hosts") || !read(&root, "etc/hosts").contains("db.internal"));
    let b = e.build_ok(&ctx, &["--add-host", "db.internal:10.9.9.9"]);
    assert_eq!(b.step("RUN cat"), Step::Ran);
    let err = e.build_err(&ctx, &["--add-host", "nohost"]);
    assert!(err.contains("--add-host"), "{err}");
}

#[test]
fn syntax_directive_naming_another_frontend_is_refused() {
    let e = env_or_skip!();
    for ok in [
        "docker/dockerfile:1",
        "docker/dockerfile:1.7",
        "docker.io/docker/dockerfile:1.4.3",
    ] {
        let b = e.build(
            &e.df(&format!("# syntax={ok}\nFROM busybox\nENV A=1\n")),
            &[],
        );
        assert!(b.ok, "{ok}: {}", b.stderr);
    }
    for bad in [
        "docker/dockerfile:1-labs",
        "example.com/custom/frontend:2",
        "docker/dockerfile:2",
    ] {
        let err = e.build_err(
            &e.df(&format!("# syntax={bad}\nFROM busybox\nENV A=1\n")),
            &[],
        );
        assert!(
            err.contains("strata has its Dockerfile frontend built in") && err.contains(bad),
            "{bad}: {err}"
        );
    }
}

#[test]
fn pull_with_a_local_only_base_says_so_and_builds() {
    let e = env_or_skip!();
    let b = e.build(&e.df("FROM busybox\nENV A=1\n"), &["--pull"]);
    assert!(b.ok, "{}", b.stderr);
    assert!(
        b.stderr.contains("busybox") && b.stderr.contains("using the local image"),
        "{}",
        b.stderr
    );
}

#[test]
fn memory_and_cpu_limits_reach_run_steps_cgroups() {
    let e = env_or_skip!();
    let ctx = e.df(
        "FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /mem && cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares > /cpu\n",
    );
    let root = e.rootfs(
        &ctx,
        &[
            "--memory",
            "64m",
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "100000",
            "--cpu-shares",
            "512",
        ],
    );
    assert_eq!(read(&root, "mem").trim(), (64u64 << 20).to_string());
    assert_eq!(read(&root, "cpu"), "50000\n100000\n512\n");
    let err = e.build_err(&ctx, &["--memory", "1k"]);
    assert!(err.contains("minimum memory limit"), "{err}");
}
