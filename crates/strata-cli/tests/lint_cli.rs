//! `strata lint`: hadolint's configuration, flags, pragmas, formats and exit codes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_strata");

fn lint(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("lint")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> Vec<(String, String, u64)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

const DOCKERFILE: &str =
    "FROM debian\n# hadolint ignore=DL3003\nRUN cd /tmp && apt-get update\nUSER root\n";

#[test]
fn json_findings_exit_codes_and_threshold() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    let out = lint(dir.path(), &["--format", "json"], None);
    assert_eq!(out.status.code(), Some(1));
    let f = json(&out);
    assert!(f.contains(&("DL3006".into(), "warning".into(), 1)), "{f:?}");
    assert!(f.contains(&("DL3002".into(), "warning".into(), 4)), "{f:?}");
    assert!(
        !f.iter().any(|(c, _, _)| c == "DL3003"),
        "pragma ignored DL3003: {f:?}"
    );
    // DL1001 and DL3057 are off by default.
    assert!(!f.iter().any(|(c, _, _)| c == "DL1001" || c == "DL3057"));

    let out = lint(
        dir.path(),
        &["--format", "json", "--failure-threshold", "error"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "only warnings and infos");
    let out = lint(dir.path(), &["--format", "json", "--no-fail"], None);
    assert_eq!(out.status.code(), Some(0));
    let out = lint(
        dir.path(),
        &["--format", "json", "--disable-ignore-pragma"],
        None,
    );
    assert!(json(&out).iter().any(|(c, _, l)| c == "DL3003" && *l == 3));
    let out = lint(
        dir.path(),
        &[
            "--format", "json", "--ignore", "DL3006", "--error", "DL3002",
        ],
        None,
    );
    let f = json(&out);
    assert!(!f.iter().any(|(c, _, _)| c == "DL3006"));
    assert!(f.contains(&("DL3002".into(), "error".into(), 4)));
}

#[test]
fn configuration_file_and_its_search_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::create_dir_all(dir.path().join("xdg")).unwrap();
    std::fs::write(dir.path().join("xdg/hadolint.yaml"), "ignored: [DL3006]\n").unwrap();
    let f = json(&lint(dir.path(), &["--format", "json"], None));
    assert!(
        !f.iter().any(|(c, _, _)| c == "DL3006"),
        "XDG config read: {f:?}"
    );

    // ./.hadolint.yaml wins over the XDG file.
    std::fs::write(
        dir.path().join(".hadolint.yaml"),
        "override:\n  error: [DL3002]\ntrustedRegistries: [my.registry]\nlabel-schema:\n  owner: email\nfailure-threshold: error\nformat: json\n",
    )
    .unwrap();
    let out = lint(dir.path(), &[], None);
    let f = json(&out);
    assert!(f.contains(&("DL3006".into(), "warning".into(), 1)));
    assert!(f.contains(&("DL3002".into(), "error".into(), 4)));
    assert!(f.contains(&("DL3026".into(), "error".into(), 1)));
    assert!(f.iter().any(|(c, _, _)| c == "DL3049"));
    assert_eq!(out.status.code(), Some(1));

    std::fs::write(dir.path().join("bad.yaml"), "ignord: [DL3006]\n").unwrap();
    let out = lint(dir.path(), &["--config", "bad.yaml"], None);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml") && err.contains("ignord"), "{err}");
}

#[test]
fn every_format_renders_and_stdin_works() {
    let dir = tempfile::tempdir().unwrap();
    for (format, needle) in [
        ("tty", "Dockerfile:1 DL3006 warning"),
        ("gnu", "-:1:1: warning: DL3006"),
        ("checkstyle", "<checkstyle"),
        ("junit", "<testsuites"),
        ("codeclimate", "\"check_name\":\"DL3006\""),
        ("gitlab_codeclimate", "\"fingerprint\""),
        ("sarif", "\"version\": \"2.1.0\""),
    ] {
        let out = lint(
            dir.path(),
            &["--format", format, "-"],
            Some("FROM debian\n"),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let needle = if format == "tty" {
            needle.replace("Dockerfile", "-")
        } else {
            needle.to_string()
        };
        assert!(text.contains(&needle), "{format}: {text}");
    }
    // tty shows the offending source line.
    let out = lint(dir.path(), &["-"], Some("FROM debian\n"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("| FROM debian"));
    let out = lint(
        dir.path(),
        &["--format", "yaml", "-"],
        Some("FROM debian\n"),
    );
    assert_ne!(out.status.code(), Some(0));
    let out = lint(dir.path(), &["-f", "missing.Dockerfile"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.Dockerfile"));
}

#[test]
fn shellcheck_findings_map_to_run_lines() {
    let dir = tempfile::tempdir().unwrap();
    let shellcheck = Command::new("shellcheck").arg("--version").output().is_ok();
    let out = lint(
        dir.path(),
        &["--format", "json", "-"],
        Some("FROM debian:12\nARG name\nRUN echo \"$name\" \"$other\"\nRUN echo $RANDOM\n"),
    );
    let f = json(&out);
    if !shellcheck {
        assert!(
            std::env::var("STRATA_CI").map_or(true, |v| v != "1"),
            "shellcheck missing in CI"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("SC checks"));
        return;
    }
    // `other` is unassigned; `name` is a declared ARG.
    let sc2154: Vec<_> = f.iter().filter(|(c, _, _)| c == "SC2154").collect();
    assert_eq!(sc2154.len(), 1, "{f:?}");
    assert_eq!(sc2154[0].2, 3);
    assert!(f.iter().any(|(c, _, l)| c == "SC3028" && *l == 4), "{f:?}");
}

fn build(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--root")
        .arg(dir.join("store"))
        .arg("build")
        .args(args)
        .arg(dir.join("ctx"))
        .output()
        .unwrap()
}

fn context(dir: &Path, dockerfile: &str) {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(ctx.join("a.txt"), "a").unwrap();
    std::fs::write(ctx.join(".dockerignore"), "secret.txt\n").unwrap();
    std::fs::write(ctx.join("secret.txt"), "s").unwrap();
}

#[test]
fn build_check_lints_without_building() {
    let dir = tempfile::tempdir().unwrap();
    context(
        dir.path(),
        "FROM scratch as Base\nCOPY a.txt /a\nCMD echo hi\n",
    );
    let out = build(dir.path(), &["--check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(" 3 warnings found:"), "{err}");
    assert!(
        err.contains(" - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"),
        "{err}"
    );
    assert!(
        err.contains(" - StageNameCasing: Stage name 'Base' should be lowercase (line 1)"),
        "{err}"
    );
    assert!(
        err.contains(" - JSONArgsRecommended: JSON arguments recommended for CMD"),
        "{err}"
    );
    assert!(err.contains("   3 | >>> CMD echo hi"), "{err}");
    assert!(
        err.contains("Check complete, 3 warnings have been found!"),
        "{err}"
    );

    context(
        dir.path(),
        "# check=skip=all\nFROM scratch\nCOPY a.txt /a\n",
    );
    let out = build(dir.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Check complete, no warnings found."));
}

#[test]
fn build_prints_warnings_and_check_error_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    context(dir.path(), "FROM scratch\nCOPY a.txt /app/\nCMD echo hi\n");
    let out = build(dir.path(), &["--progress", "plain", "-t", "checked:1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(" 1 warning found:\n - JSONArgsRecommended"),
        "{err}"
    );

    // A failing build still shows the warning that explains it.
    context(dir.path(), "FROM scratch\nCOPY a.txt secret.txt /app/\n");
    let out = build(dir.path(), &["--progress", "plain"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("CopyIgnoredFile: Attempting to Copy file \"secret.txt\" that is excluded by .dockerignore (line 2)"), "{err}");

    context(
        dir.path(),
        "# check=error=true\nFROM scratch\nCOPY a.txt /a\nCMD echo hi\n",
    );
    let out = build(dir.path(), &["-t", "checked:2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("lint violation found for rules: JSONArgsRecommended"),
        "{err}"
    );
    // The build did not run: nothing was tagged.
    let images = Command::new(BIN)
        .arg("--root")
        .arg(dir.path().join("store"))
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&images.stdout);
    assert!(
        listed.contains("checked:1") && !listed.contains("checked:2"),
        "{listed}"
    );
}
