//! hadolint 2.15.1 as an oracle: on every Dockerfile of tests/corpus, strata reports the
//! same (code, line) pairs for DL rules, except the differences listed with their reason
//! in tests/fixtures/hadolint-oracle-differences.tsv (a listed difference that no longer
//! occurs fails too). The SARIF output for the corpus is validated against the OASIS
//! SARIF 2.1.0 schema with Python's jsonschema.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use strata_lint::{lint, Config};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv_tool(name: &str) -> Option<PathBuf> {
    let p = workspace().join("target/venv/bin").join(name);
    p.exists().then_some(p)
}

fn corpus() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    files.sort();
    files
}

type Pairs = BTreeSet<(String, usize)>;

/// `NAME.hadolint.yaml` beside `NAME.Dockerfile`: a configuration both linters read.
fn sidecar_config(file: &Path) -> Option<PathBuf> {
    let p = file.with_extension("hadolint.yaml");
    p.exists().then_some(p)
}

fn hadolint_pairs(hadolint: &Path, file: &Path) -> Pairs {
    // An empty home and config dir: hadolint must not pick up a user's configuration.
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(hadolint);
    if let Some(c) = sidecar_config(file) {
        cmd.arg("--config").arg(c);
    }
    let out = cmd
        .args(["--no-fail", "--no-color", "-f", "json"])
        .arg(file)
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .output()
        .expect("run hadolint");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("hadolint output for {}: {e}", file.display()));
    v.as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("DL"))
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

fn strata_pairs(file: &Path) -> Pairs {
    let text = std::fs::read_to_string(file).unwrap();
    let config = sidecar_config(file).map_or_else(Config::default, |c| {
        Config::from_yaml(&std::fs::read_to_string(c).unwrap()).unwrap()
    });
    lint(&text, "Dockerfile", &config)
        .into_iter()
        .filter(|f| f.code.starts_with("DL"))
        .map(|f| (f.code, f.line))
        .collect()
}

#[test]
fn corpus_agrees_with_hadolint() {
    let Some(hadolint) = venv_tool("hadolint") else {
        assert!(
            !common::in_ci(),
            "target/venv/bin/hadolint missing under STRATA_CI=1 (run scripts/setup.sh)"
        );
        eprintln!("skipping: hadolint not installed in target/venv");
        return;
    };
    // file -> {(side, code, line) -> reason}
    let mut listed: BTreeMap<(String, String, String, usize), String> = BTreeMap::new();
    for line in include_str!("fixtures/hadolint-oracle-differences.tsv").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.splitn(5, '\t').collect();
        assert_eq!(cols.len(), 5, "bad fixture line: {line}");
        listed.insert(
            (
                cols[0].into(),
                cols[1].into(),
                cols[2].into(),
                cols[3].parse().unwrap(),
            ),
            cols[4].into(),
        );
    }
    let files = corpus();
    assert!(files.len() >= 30, "corpus has {} files", files.len());
    let (mut matches, mut seen, mut unexpected) = (0, BTreeSet::new(), Vec::new());
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let h = hadolint_pairs(&hadolint, file);
        let s = strata_pairs(file);
        matches += h.intersection(&s).count();
        for (side, code, line) in h
            .difference(&s)
            .map(|(c, l)| ("hadolint-only", c, *l))
            .chain(s.difference(&h).map(|(c, l)| ("strata-only", c, *l)))
        {
            let key = (name.clone(), side.to_string(), code.clone(), line);
            if listed.contains_key(&key) {
                seen.insert(key);
            } else {
                unexpected.push(format!("{name}\t{side}\t{code}\t{line}"));
            }
        }
    }
    let stale: Vec<_> = listed.keys().filter(|k| !seen.contains(*k)).collect();
    eprintln!(
        "hadolint oracle: {} files, {matches} matching (code, line) pairs, {} documented differences",
        files.len(),
        seen.len()
    );
    for k in &seen {
        eprintln!("  {} {} {}:{}  {}", k.0, k.1, k.2, k.3, listed[k]);
    }
    assert!(
        unexpected.is_empty(),
        "undocumented differences:\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed differences that no longer occur: {stale:?}"
    );
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let Some(python) = venv_tool("python") else {
        assert!(
            !common::in_ci(),
            "target/venv missing under STRATA_CI=1 (run scripts/setup.sh)"
        );
        return;
    };
    let mut findings = Vec::new();
    let mut sources = BTreeMap::new();
    for file in corpus() {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        findings.extend(lint(&text, &name, &Config::default()));
        sources.insert(name, text);
    }
    assert!(findings.len() > 50);
    let sarif = strata_lint::format::render(
        strata_lint::format::Format::Sarif,
        &findings,
        &sources,
        false,
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lint.sarif");
    std::fs::write(&log, &sarif).unwrap();
    let schema =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json");
    let script = "import json,sys,jsonschema\n\
        schema=json.load(open(sys.argv[1])); doc=json.load(open(sys.argv[2]))\n\
        errors=list(jsonschema.Draft4Validator(schema).iter_errors(doc))\n\
        [print(e.message, list(e.path)) for e in errors[:10]]\n\
        sys.exit(1 if errors else 0)\n";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(&schema)
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SARIF invalid:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The schema check is not vacuous: a log without `version` must fail it.
    let mut broken: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    broken.as_object_mut().unwrap().remove("version");
    std::fs::write(&log, broken.to_string()).unwrap();
    let out = Command::new(venv_tool("python").unwrap())
        .args(["-c", script])
        .arg(&schema)
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "schema accepted a log without version"
    );
}
