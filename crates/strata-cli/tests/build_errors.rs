//! `strata build`: errors exit 1 with a message naming the Dockerfile location, the
//! failing command's output, or the unsupported flag.

mod build_common;

#[test]
fn unknown_instruction_names_file_and_line() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("FROM busybox\nRUN true\nFROBNICATE now\n"), &[]);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.to_lowercase().contains("frobnicate"), "{err}");
}

#[test]
fn failing_run_shows_exit_code_output_and_caret() {
    let e = env_or_skip!();
    let b = e.build(
        &e.df("FROM busybox\nRUN echo about-to-fail && exit 3\n"),
        &[],
    );
    assert_eq!(b.code, Some(1));
    let err = b.stderr;
    assert!(err.contains("exit code: 3"), "{err}");
    assert!(err.contains("about-to-fail"), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.trim_start().starts_with('|') && l.contains('^')),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with('#') && l.contains("ERROR:")),
        "{err}"
    );
    assert!(b.id.is_empty(), "no image id on failure");
}

#[test]
fn custom_dockerfile_name_appears_in_errors() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[("build.df", "FROM busybox\nRUN exit 2\n")]);
    let f = ctx.join("build.df");
    let err = e.build_err(&ctx, &["-f", f.to_str().unwrap()]);
    assert!(err.contains("build.df:2"), "{err}");
}

#[test]
fn missing_base_image_is_named() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("FROM nosuchimage:9\n"), &[]);
    assert!(err.contains("nosuchimage"), "{err}");
}

#[test]
fn copy_missing_source_is_named() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("FROM busybox\nCOPY missing.txt /\n"), &[]);
    assert!(err.contains("missing.txt"), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
}

#[test]
fn copy_from_unknown_stage_fails() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("FROM busybox\nCOPY --from=nostage /x /x\n"), &[]);
    assert!(err.contains("nostage"), "{err}");
}

#[test]
fn empty_dockerfile_fails() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("# only a comment\n"), &[]);
    assert!(!err.is_empty());
}

#[test]
fn instruction_before_from_fails() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("RUN true\nFROM busybox\n"), &[]);
    assert!(err.contains("Dockerfile:1"), "{err}");
}

#[test]
fn unsupported_docker_flags_are_named() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\n");
    for (flag, args) in [
        ("--cgroup-parent", vec!["--cgroup-parent", "x"]),
        ("--squash", vec!["--squash"]),
    ] {
        let err = e.build_err(&ctx, &args);
        assert!(
            err.contains(&format!("{flag} is not supported")),
            "{flag}: {err}"
        );
    }
}

#[test]
fn bad_flag_values_are_rejected() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\n");
    let out = e.strata(&["build", "--progress", "fancy", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--progress fancy is not supported"));
    for (args, needle) in [
        (vec!["--network", "bridge"], "--network bridge"),
        (vec!["--secret", "src=/etc/hostname"], "id= is required"),
        (vec!["--build-arg", "=x"], "empty name"),
        (vec!["--shm-size", "lots"], "invalid size"),
        (vec!["--ulimit", "bogus"], "--ulimit"),
        (vec!["--allow", "device"], "--allow device"),
        (vec!["-o", "type=registry"], "type=registry"),
        (vec!["-t", "Bad Tag"], "invalid tag"),
    ] {
        let err = e.build_err(&ctx, &args);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn missing_context_and_dockerfile() {
    let e = env_or_skip!();
    let gone = e.path("nothing-here");
    let err = e.build_err(&gone, &[]);
    assert!(err.contains("not found"), "{err}");
    let empty = e.ctx(&[("readme", "no dockerfile")]);
    let err = e.build_err(&empty, &[]);
    assert!(err.contains("Dockerfile"), "{err}");
}

#[test]
fn remote_context_is_unsupported() {
    let e = env_or_skip!();
    let out = e.strata(&["build", "https://github.com/example/repo.git"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("remote build contexts are not supported"),
        "{err}"
    );
}

#[test]
fn failed_build_leaves_no_tag_and_a_clean_store() {
    let e = env_or_skip!();
    e.build_err(
        &e.df("FROM busybox\nRUN echo x > /x\nRUN false\n"),
        &["-t", "never:1"],
    );
    let out = e.strata(&["inspect", "never:1"]);
    assert!(!out.status.success());
    let check = e.strata(&["system", "check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn insecure_run_without_allow_names_the_entitlement() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("FROM busybox\nRUN --security=insecure true\n"), &[]);
    assert!(err.contains("security.insecure"), "{err}");
}

#[test]
fn unknown_mount_type_is_an_error() {
    let e = env_or_skip!();
    let err = e.build_err(
        &e.df("FROM busybox\nRUN --mount=type=weird,target=/x true\n"),
        &[],
    );
    assert!(err.contains("weird"), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
}

#[test]
fn a_missing_executable_is_named_once_with_the_dockerfile_line() {
    let e = env_or_skip!();
    let err = e.build_err(&e.df("FROM busybox\nRUN [\"/nope\"]\n"), &[]);
    // The final error names it once (the progress lines above it show the step's output).
    let last = err.rsplit("Error: ").next().unwrap();
    assert_eq!(last.matches("stat /nope").count(), 1, "{err}");
    assert!(last.contains("Dockerfile:2"), "{err}");
}
