//! `strata build`: multi-stage builds, `--target`, ARG scoping across stages, ONBUILD.

mod build_common;

use build_common::*;

#[test]
fn target_skips_unneeded_stages() {
    let e = env_or_skip!();
    let ctx = e.df(
        "FROM busybox AS broken\nRUN exit 1\nFROM busybox AS good\nRUN echo good > /good\nFROM good AS final\nCOPY --from=broken /x /x\n",
    );
    let b = e.build_ok(&ctx, &["--target", "good"]);
    assert_eq!(b.step("RUN exit 1"), Step::Missing, "{}", b.stderr);
    let root = e.rootfs(&ctx, &["--target", "good"]);
    assert_eq!(read(&root, "good"), "good\n");
    // Without --target the last stage needs the broken one.
    let err = e.build_err(&ctx, &[]);
    assert!(err.contains("exit code: 1"), "{err}");
}

#[test]
fn target_stage_config_is_that_stage() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox AS builder\nENV ROLE=builder\nFROM busybox\nENV ROLE=final\n");
    let b = e.build_ok(&ctx, &["--target", "builder"]);
    let env = e.config(&b.id)["Env"].to_string();
    assert!(env.contains("ROLE=builder"), "{env}");
}

#[test]
fn unknown_target_is_an_error() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("FROM busybox AS a\n"), &["--target", "nope"]);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn stage_inherits_from_a_previous_stage() {
    let e = env_or_skip!();
    let ctx = e
        .df("FROM busybox AS base\nENV FROM_BASE=1\nRUN echo b > /b\nFROM base\nRUN cat /b > /c\n");
    let b = e.build_ok(&ctx, &[]);
    assert!(e.config(&b.id)["Env"].to_string().contains("FROM_BASE=1"));
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "c"), "b\n");
}

#[test]
fn global_arg_in_from_line() {
    let e = env_or_skip!();
    e.build_ok(
        &e.df("FROM busybox\nLABEL variant=v2\n"),
        &["-t", "base:v2"],
    );
    let ctx = e.df("ARG TAG=latest\nFROM base:${TAG}\n");
    let err = e.build_err(&ctx, &[]);
    assert!(err.contains("base:latest") || err.contains("base"), "{err}");
    let b = e.build_ok(&ctx, &["--build-arg", "TAG=v2"]);
    assert_eq!(e.config(&b.id)["Labels"]["variant"], "v2");
}

#[test]
fn global_arg_needs_redeclaring_inside_a_stage() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "ARG G=global\nFROM busybox\nRUN echo \"[$G]\" > /without\nARG G\nRUN echo \"[$G]\" > /with\n",
    );
    assert_eq!(read(&root, "without"), "[]\n");
    assert_eq!(read(&root, "with"), "[global]\n");
}

#[test]
fn args_do_not_leak_between_stages() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox AS one\nARG ONLY=one\nRUN echo $ONLY > /one\nFROM busybox\nCOPY --from=one /one /one\nRUN echo \"[$ONLY]\" > /two\n",
    );
    assert_eq!(read(&root, "one"), "one\n");
    assert_eq!(read(&root, "two"), "[]\n");
}

#[test]
fn automatic_platform_args() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox\nARG TARGETOS TARGETARCH BUILDPLATFORM\nRUN echo $TARGETOS/$TARGETARCH $BUILDPLATFORM > /p\n",
    );
    assert_eq!(read(&root, "p"), "linux/amd64 linux/amd64\n");
}

#[test]
fn onbuild_triggers_run_in_the_child() {
    let e = env_or_skip!();
    let parent = e.ctx(&[
        ("Dockerfile", "FROM busybox\nONBUILD COPY trigger.txt /from-child-context\nONBUILD RUN echo ran > /onbuild-ran\n"),
    ]);
    e.build_ok(&parent, &["-t", "onbuild-parent:1"]);
    let child = e.ctx(&[
        (
            "Dockerfile",
            "FROM onbuild-parent:1\nRUN test -f /onbuild-ran\n",
        ),
        ("trigger.txt", "child data"),
    ]);
    let b = e.build_ok(&child, &[]);
    let c = e.config(&b.id);
    assert!(
        c["OnBuild"].is_null() || c["OnBuild"] == serde_json::json!([]),
        "{c}"
    );
    let root = e.rootfs(&child, &[]);
    assert_eq!(read(&root, "from-child-context"), "child data");
    assert_eq!(read(&root, "onbuild-ran"), "ran\n");
}

#[test]
fn onbuild_triggers_do_not_run_in_the_parent() {
    let e = env_or_skip!();
    let root = e.rootfs_of("FROM busybox\nONBUILD RUN touch /should-not-exist\n");
    assert!(!exists(&root, "should-not-exist"));
}

#[test]
fn independent_stages_are_both_built() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox AS a\nRUN sleep 0.3 && echo a > /a\nFROM busybox AS b\nRUN sleep 0.3 && echo b > /b\nFROM busybox\nCOPY --from=a /a /\nCOPY --from=b /b /\n",
    );
    assert_eq!(read(&root, "a"), "a\n");
    assert_eq!(read(&root, "b"), "b\n");
}

#[test]
fn unused_stage_with_missing_base_is_not_resolved() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM does-not-exist:1 AS unused\nFROM busybox\nLABEL ok=1\n"),
        &[],
    );
    assert_eq!(e.config(&b.id)["Labels"]["ok"], "1");
}

#[test]
fn from_scratch_with_a_single_copy() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        ("Dockerfile", "FROM scratch\nCOPY hello /hello\n"),
        ("hello", "hi"),
    ]);
    let b = e.build_ok(&ctx, &[]);
    let i = e.inspect(&b.id);
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    let env = i["Config"]["Env"].to_string();
    assert!(env.contains("PATH=/usr/local/sbin"), "{env}");
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "hello"), "hi");
}

#[test]
fn stage_names_are_case_insensitive() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox AS Builder\nRUN echo x > /x\nFROM busybox\nCOPY --from=builder /x /y\n",
    );
    assert_eq!(read(&root, "y"), "x\n");
}

#[test]
fn from_platform_flag_uses_build_platform() {
    let e = env_or_skip!();
    let root = e.rootfs_of("FROM --platform=$BUILDPLATFORM busybox AS b\nRUN echo x > /x\nFROM busybox\nCOPY --from=b /x /x\n");
    assert_eq!(read(&root, "x"), "x\n");
}
