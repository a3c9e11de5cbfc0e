//! `strata analyze` (CI gate, `.dive-ci`, base exclusion, reports) and `strata image diff`
//! on images strata built.

mod build_common;

use std::process::Command;

use build_common::*;
use serde_json::Value;

fn run_in(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.env_remove("CI").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// busybox plus a layer that writes 300 kB and one that deletes it (all of it wasted).
fn wasteful(e: &Env) {
    e.build_ok(
        &e.df("FROM busybox\n\
               RUN mkdir /w && head -c 300000 /bin/busybox > /w/big && echo hi > /w/small\n\
               RUN rm /w/big\n"),
        &["-t", "waste:1"],
    );
}

#[test]
fn ci_gate_reads_dive_ci_flags_win_and_exit_codes_follow_the_result() {
    let e = env_or_skip!();
    wasteful(&e);
    let dir = e.path("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".dive-ci"),
        "rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 100kB\n  highestUserWastedPercent: disabled\n",
    )
    .unwrap();
    let (code, out, err) = run_in(
        e.s.command()
            .current_dir(&dir)
            .args(["analyze", "--ci", "waste:1"]),
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("  Using CI config: .dive-ci"), "{out}");
    assert!(
        out.contains("  wastedBytes: 300000 bytes (300 kB)"),
        "{out}"
    );
    assert!(
        out.contains("  FAIL: highestWastedBytes: too many bytes wasted (wasted-bytes=300000 > threshold=100000)"),
        "{out}"
    );
    assert!(
        out.contains("  SKIP: highestUserWastedPercent: rule disabled"),
        "{out}"
    );
    assert!(out.contains("    2        300 kB  /w/big"), "{out}");
    assert!(
        out.contains("Result:FAIL [Total:3] [Passed:1] [Failed:1] [Warn:0] [Skipped:1]"),
        "{out}"
    );
    // A flag overrides the file.
    let (code, out, _) = run_in(e.s.command().current_dir(&dir).args([
        "analyze",
        "--ci",
        "--highestWastedBytes",
        "1MB",
        "waste:1",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Result:PASS [Total:3] [Passed:2] [Failed:0] [Warn:0] [Skipped:1]"),
        "{out}"
    );
    // A bad value is reported as dive does, and fails.
    let (code, out, _) = run_in(e.s.command().current_dir(&dir).args([
        "analyze",
        "--ci",
        "--lowestEfficiency",
        "2",
        "waste:1",
    ]));
    assert_eq!(code, 1);
    assert!(out.contains("MISCONFIGURED: lowestEfficiency"), "{out}");
    assert!(out.contains("CI Misconfigured"), "{out}");
    // A malformed .dive-ci names the file.
    std::fs::write(dir.join("bad.yaml"), "rules:\n  lowestEffciency: 0.5\n").unwrap();
    let (code, _, err) = run_in(e.s.command().current_dir(&dir).args([
        "analyze",
        "--ci",
        "--ci-config",
        "bad.yaml",
        "waste:1",
    ]));
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.yaml") && err.contains("lowestEffciency"),
        "{err}"
    );
    // Rule flags without --ci are refused rather than ignored.
    let (code, _, err) =
        run_in(
            e.s.command()
                .args(["analyze", "--lowestEfficiency", "0.5", "waste:1"]),
        );
    assert_ne!(code, 0);
    assert!(err.contains("need --ci"), "{err}");
}

#[test]
fn reports_name_layers_changes_biggest_files_and_who_wasted_what() {
    let e = env_or_skip!();
    wasteful(&e);
    let (code, out, err) = run_in(e.s.command().args(["analyze", "waste:1"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Wasted bytes:         300000 (300 kB)"),
        "{out}"
    );
    assert!(
        out.contains("Wasted bytes (N-1):   300000 (300 kB)"),
        "{out}"
    );
    assert!(out.contains("/w/big"), "{out}");
    assert!(out.contains("added in 1, deleted in 2"), "{out}");
    assert!(out.contains("/w/big 300 kB"), "biggest files: {out}");
    // CI=true (dive's switch to the gate) does not override an explicit --format.
    let out =
        e.s.command()
            .env("CI", "true")
            .args(["analyze", "--format", "json", "waste:1"])
            .output()
            .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[1]["changes"]["added"], 3, "{}", layers[1]);
    assert_eq!(layers[2]["changes"]["removed"], 1, "{}", layers[2]);
    assert!(layers[1]["created_by"]
        .as_str()
        .unwrap()
        .contains("head -c 300000"));
    assert_eq!(v["wastedBytes"], 300000);
    let touches = &v["inefficientFiles"][0]["touches"];
    assert_eq!(touches[0]["action"], "added");
    assert_eq!(touches[1]["action"], "deleted");
}

#[test]
fn base_layers_can_be_left_out_of_the_score() {
    let e = env_or_skip!();
    e.build_ok(
        &e.df("FROM busybox\nRUN head -c 200000 /bin/busybox > /base-blob && echo 1 > /v\n"),
        &["-t", "mybase:1"],
    );
    e.build_ok(
        &e.df("FROM mybase:1\nRUN echo 2 > /v\n"),
        &["-t", "child:1"],
    );
    let all: Value = serde_json::from_str(
        &e.s.run(&["analyze", "--format", "json", "child:1"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(all["baseLayers"], 0);
    assert_eq!(all["wastedBytes"], 4, "/v twice: {all}");
    for args in [
        vec![
            "analyze", "--format", "json", "--base", "mybase:1", "child:1",
        ],
        vec!["analyze", "--format", "json", "--exclude-base", "child:1"],
    ] {
        let v: Value = serde_json::from_str(&e.s.run(&args).unwrap()).unwrap();
        assert_eq!(v["baseLayers"], 2, "{args:?}");
        assert_eq!(v["wastedBytes"], 0, "{args:?}");
        assert_eq!(v["userSizeBytes"], 2, "{args:?}");
    }
    let err =
        e.s.run_err(&["analyze", "--base", "child:1", "mybase:1"])
            .unwrap();
    assert!(err.contains("is not a base of"), "{err}");
}

#[test]
fn image_diff_lists_what_changed_from_any_source_with_exit_codes() {
    let e = env_or_skip!();
    e.build_ok(
        &e.df("FROM busybox\nRUN mkdir /app && echo 1 > /app/v && echo same > /app/s && echo gone > /app/g\n"),
        &["-t", "diff-a:1"],
    );
    e.build_ok(
        &e.df("FROM busybox\nRUN mkdir /app && echo 22 > /app/v && echo same > /app/s && chmod 600 /app/s \
               && echo new > /app/n && chown 7:7 /app/n\n"),
        &["-t", "diff-b:1"],
    );
    let (code, out, err) = run_in(
        e.s.command()
            .args(["image", "diff", "--format", "json", "diff-a:1", "diff-b:1"]),
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let changes: Vec<(String, String, Vec<String>)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["path"].as_str().unwrap().starts_with("app/"))
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_owned(),
                c["kind"].as_str().unwrap().to_owned(),
                c["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let s = |x: &str| x.to_owned();
    assert_eq!(
        changes,
        vec![
            (s("app/g"), s("removed"), vec![]),
            (s("app/n"), s("added"), vec![]),
            (s("app/s"), s("changed"), vec![s("mode")]),
            (s("app/v"), s("changed"), vec![s("size"), s("content")]),
        ]
    );
    let app = v["directories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dir"] == "/app")
        .unwrap();
    assert_eq!(
        (
            app["added"].as_u64(),
            app["removed"].as_u64(),
            app["changed"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    let (code, table, _) =
        run_in(
            e.s.command()
                .args(["image", "diff", "--exit-code", "diff-a:1", "diff-b:1"]),
        );
    assert_eq!(code, 1, "{table}");
    assert!(
        table.contains("M  /app/v  -0644 0:0 2 B -> -0644 0:0 3 B  (size, content)"),
        "{table}"
    );
    assert!(table.contains("A  /app/n  -0644 7:7 4 B"), "{table}");
    // The same image from a docker-archive and from the store: no differences.
    let archive = e.path("a").with_extension("tar");
    e.s.run(&["save", "-o", archive.to_str().unwrap(), "diff-a:1"])
        .unwrap();
    let src = format!("docker-archive:{}", archive.display());
    let (code, out, err) =
        run_in(
            e.s.command()
                .args(["image", "diff", "--exit-code", &src, "diff-a:1"]),
        );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "No differences.\n");
    let (code, _, err) =
        run_in(
            e.s.command()
                .args(["image", "diff", "--exit-code", "diff-a:1", "nope:1"]),
        );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope:1"), "{err}");
}
