//! `strata build`: metadata instructions, their config fields and history, and the flags
//! that shape the image (`--label`, `--platform`, `-t`, `-q`, `--iidfile`,
//! `SOURCE_DATE_EPOCH`).

mod build_common;

use build_common::*;
use serde_json::json;

fn strs(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn env_forms_and_expansion() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\nENV A=1 B=\"two words\"\nENV C legacy form\nENV D=${A}-${MISSING:-dflt}\n"),
        &[],
    );
    let env = strs(&e.config(&b.id)["Env"]);
    assert!(env.contains(&"A=1".into()), "{env:?}");
    assert!(env.contains(&"B=two words".into()));
    assert!(env.contains(&"C=legacy form".into()));
    assert!(env.contains(&"D=1-dflt".into()));
}

#[test]
fn labels_from_dockerfile_and_flag_merge() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\nLABEL a=1 \"b c\"=\"d e\"\nLABEL over=file\n"),
        &["--label", "over=flag", "--label", "extra=x"],
    );
    let labels = &e.config(&b.id)["Labels"];
    assert_eq!(labels["a"], "1");
    assert_eq!(labels["b c"], "d e");
    assert_eq!(labels["over"], "flag");
    assert_eq!(labels["extra"], "x");
}

#[test]
fn expose_ports() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\nEXPOSE 80 443/udp\nEXPOSE 8080/tcp\n"),
        &[],
    );
    let ports = e.config(&b.id)["ExposedPorts"].clone();
    assert_eq!(ports, json!({"80/tcp": {}, "443/udp": {}, "8080/tcp": {}}));
}

#[test]
fn user_and_workdir() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nWORKDIR /a\nWORKDIR b\nUSER nobody:nogroup\n");
    let b = e.build_ok(&ctx, &[]);
    let c = e.config(&b.id);
    assert_eq!(c["WorkingDir"], "/a/b");
    assert_eq!(c["User"], "nobody:nogroup");
    let root = e.rootfs(&ctx, &[]);
    assert!(root.join("a/b").is_dir(), "WORKDIR creates the directory");
}

#[test]
fn entrypoint_and_cmd_exec_and_shell_forms() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\nENTRYPOINT [\"/bin/echo\", \"hi\"]\nCMD [\"there\"]\n"),
        &[],
    );
    let c = e.config(&b.id);
    assert_eq!(strs(&c["Entrypoint"]), ["/bin/echo", "hi"]);
    assert_eq!(strs(&c["Cmd"]), ["there"]);
    let b = e.build_ok(&e.df("FROM busybox\nCMD echo shell form\n"), &[]);
    assert_eq!(
        strs(&e.config(&b.id)["Cmd"]),
        ["/bin/sh", "-c", "echo shell form"]
    );
}

#[test]
fn entrypoint_resets_inherited_cmd() {
    let e = env_or_skip!();
    e.build_ok(
        &e.df("FROM busybox\nCMD [\"base-cmd\"]\n"),
        &["-t", "withcmd:1"],
    );
    let b = e.build_ok(&e.df("FROM withcmd:1\nENTRYPOINT [\"/bin/sh\"]\n"), &[]);
    let c = e.config(&b.id);
    assert_eq!(strs(&c["Entrypoint"]), ["/bin/sh"]);
    assert!(c["Cmd"].is_null() || c["Cmd"] == json!([]), "{c}");
}

#[test]
fn volume_stopsignal_and_healthcheck() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\nVOLUME [\"/data\", \"/logs\"]\nVOLUME /cache\nSTOPSIGNAL SIGTERM\nHEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q localhost || exit 1\n"),
        &[],
    );
    let c = e.config(&b.id);
    assert_eq!(
        c["Volumes"],
        json!({"/data": {}, "/logs": {}, "/cache": {}})
    );
    assert_eq!(c["StopSignal"], "SIGTERM");
    let hc = &c["Healthcheck"];
    assert_eq!(
        strs(&hc["Test"]),
        ["CMD-SHELL", "wget -q localhost || exit 1"]
    );
    assert_eq!(hc["Interval"], 5_000_000_000u64);
    assert_eq!(hc["Timeout"], 2_000_000_000u64);
    assert_eq!(hc["Retries"], 4);
}

#[test]
fn healthcheck_none_disables() {
    let e = env_or_skip!();
    let b = e.build_ok(&e.df("FROM busybox\nHEALTHCHECK NONE\n"), &[]);
    assert_eq!(strs(&e.config(&b.id)["Healthcheck"]["Test"]), ["NONE"]);
}

#[test]
fn onbuild_is_recorded_in_config() {
    let e = env_or_skip!();
    let b = e.build_ok(&e.df("FROM busybox\nONBUILD RUN echo triggered\n"), &[]);
    assert_eq!(strs(&e.config(&b.id)["OnBuild"]), ["RUN echo triggered"]);
}

#[test]
fn maintainer_sets_author() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\nMAINTAINER Jane <jane@example.com>\n"),
        &[],
    );
    assert_eq!(e.inspect(&b.id)["Author"], "Jane <jane@example.com>");
}

#[test]
fn history_lists_every_instruction_with_empty_layers() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\nENV K=V\nLABEL l=1\nRUN echo x > /x\nEXPOSE 80\nUSER nobody\nCMD [\"sh\"]\n"),
        &[],
    );
    let h = e.history(&b.id);
    assert_eq!(
        &h[..6],
        [
            "CMD [\"sh\"]",
            "USER nobody",
            "EXPOSE map[80/tcp:{}]",
            "RUN /bin/sh -c echo x > /x # buildkit",
            "LABEL l=1",
            "ENV K=V",
        ]
    );
    let json =
        e.s.run(&["history", "--no-trunc", "--format", "json", &b.id])
            .unwrap();
    assert!(json.contains("buildkit.dockerfile.v0"));
    // Only the RUN added a layer on top of the base.
    assert_eq!(
        e.inspect(&b.id)["RootFS"]["Layers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn platform_flag_single_ok_multiple_rejected() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nARG TARGETPLATFORM\nRUN echo $TARGETPLATFORM > /tp\n");
    let b = e.build_ok(&ctx, &["--platform", "linux/amd64"]);
    let i = e.inspect(&b.id);
    assert_eq!(i["Architecture"], "amd64");
    assert_eq!(i["Os"], "linux");
    let root = e.rootfs(&ctx, &["--platform", "linux/amd64"]);
    assert_eq!(read(&root, "tp"), "linux/amd64\n");
    let err = e.build_err(&ctx, &["--platform", "linux/amd64,linux/arm64"]);
    assert!(err.contains("more than one platform"), "{err}");
    // The store's busybox is amd64: another platform's build must not use it silently.
    let err = e.build_err(&ctx, &["--platform", "linux/arm64"]);
    assert!(
        err.contains(
            "does not match the specified platform: wanted linux/arm64, actual: linux/amd64"
        ),
        "{err}"
    );
    let err = e.build_err(&e.df("FROM --platform=linux/s390x busybox\n"), &[]);
    assert!(err.contains("wanted linux/s390x"), "{err}");
}

#[test]
fn source_date_epoch_gives_identical_images_in_two_stores() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        (
            "Dockerfile",
            "FROM busybox\nCOPY f /f\nRUN echo built > /b\nENV X=1\n",
        ),
        ("f", "data"),
    ]);
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let one = e.build_env(&ctx, &[], &env);
    assert!(one.ok, "{}", one.stderr);
    let other = e.other_store();
    let two = build_in(&other, &e.path("iid"), &ctx, &[], &env);
    assert!(two.ok, "{}", two.stderr);
    assert_eq!(one.id, two.id);
    assert_eq!(e.inspect(&one.id)["Created"], "2023-11-14T22:13:20Z");
}

#[test]
fn source_date_epoch_as_build_arg() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo x > /x\n");
    let a = e.build_ok(&ctx, &["--build-arg", "SOURCE_DATE_EPOCH=1600000000"]);
    let created = e.inspect(&a.id)["Created"].as_str().unwrap().to_owned();
    assert!(created.starts_with("2020-09-13T12:26:40"), "{created}");
    let b = e.build_ok(
        &ctx,
        &["--build-arg", "SOURCE_DATE_EPOCH=1600000000", "--no-cache"],
    );
    assert_eq!(a.id, b.id, "a rebuild from scratch is reproducible");
}

#[test]
fn quiet_prints_only_the_image_id() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo noisy\n");
    let out = e.strata(&["build", "-q", ctx.to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.trim().starts_with("sha256:") && stdout.trim().len() == 71,
        "{stdout}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("noisy"));
}

#[test]
fn iidfile_and_multiple_tags() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("FROM busybox\nLABEL t=1\n"),
        &["-t", "one:a", "-t", "two"],
    );
    assert!(b.id.starts_with("sha256:"));
    let i = e.inspect("one:a");
    assert_eq!(i["Id"], b.id.as_str());
    assert_eq!(e.inspect("two:latest")["Id"], b.id.as_str());
    assert!(
        b.stderr.contains("naming to docker.io/library/one:a done"),
        "{}",
        b.stderr
    );
    assert!(
        b.stderr.contains(&format!("writing image {} done", b.id)),
        "{}",
        b.stderr
    );
}

#[test]
fn escape_directive_and_line_continuation() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &e.df("# escape=`\nFROM busybox\nLABEL one=1 `\n  two=2\nLABEL path=C:\\dir\n"),
        &[],
    );
    let c = e.config(&b.id);
    assert_eq!(c["Labels"]["one"], "1");
    assert_eq!(c["Labels"]["two"], "2");
    assert_eq!(c["Labels"]["path"], "C:\\dir");
}

#[test]
fn base_config_is_inherited_and_overridden() {
    let e = env_or_skip!();
    e.build_ok(
        &e.df("FROM busybox\nENV KEEP=1 OVER=base\nWORKDIR /base\nLABEL from=base\n"),
        &["-t", "parent:1"],
    );
    let b = e.build_ok(&e.df("FROM parent:1\nENV OVER=child\n"), &[]);
    let c = e.config(&b.id);
    let env = strs(&c["Env"]);
    assert!(
        env.contains(&"KEEP=1".into()) && env.contains(&"OVER=child".into()),
        "{env:?}"
    );
    assert!(!env.contains(&"OVER=base".into()));
    assert_eq!(c["WorkingDir"], "/base");
    assert_eq!(c["Labels"]["from"], "base");
}

#[test]
fn arg_default_build_arg_override_and_env_precedence() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nARG V=default\nARG W\nENV W=from-env\nLABEL v=$V w=$W\n");
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(e.config(&b.id)["Labels"]["v"], "default");
    let b = e.build_ok(&ctx, &["--build-arg", "V=given", "--build-arg", "W=arg"]);
    let l = &e.config(&b.id)["Labels"];
    assert_eq!(l["v"], "given");
    assert_eq!(l["w"], "from-env", "ENV wins over ARG of the same name");
}

#[test]
fn build_arg_from_environment() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nARG FROMENV=unset\nLABEL v=$FROMENV\n");
    let b = e.build_env(&ctx, &["--build-arg", "FROMENV"], &[("FROMENV", "yes")]);
    assert!(b.ok, "{}", b.stderr);
    assert_eq!(e.config(&b.id)["Labels"]["v"], "yes");
    let b = e.build_env(&ctx, &["--build-arg", "NOT_SET_ANYWHERE"], &[]);
    assert!(b.ok, "{}", b.stderr);
    assert_eq!(e.config(&b.id)["Labels"]["v"], "unset");
}

#[test]
fn base_without_path_gets_the_default_path() {
    let e = env_or_skip!();
    // The busybox fixture is an imported root filesystem: its config has no Env at all.
    assert!(e.config("busybox:latest")["Env"].is_null());
    let b = e.build_ok(&e.df("FROM busybox\nENV A=1\n"), &[]);
    assert_eq!(
        strs(&e.config(&b.id)["Env"]),
        [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "A=1"
        ]
    );
}

#[test]
fn expose_range_and_workdir_owned_by_user() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nEXPOSE 7000-7002/udp\nUSER nobody\nWORKDIR /home/nobody/app\n");
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(
        e.config(&b.id)["ExposedPorts"],
        json!({"7000/udp": {}, "7001/udp": {}, "7002/udp": {}})
    );
    assert_eq!(
        e.history(&b.id)[2],
        "EXPOSE map[7000/udp:{} 7001/udp:{} 7002/udp:{}]"
    );
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(owner(&root, "home/nobody/app"), (65534, 65534));
    assert_eq!(owner(&root, "home/nobody"), (65534, 65534));
    assert_eq!(
        owner(&root, "home"),
        (0, 0),
        "existing directories keep their owner"
    );
}
