//! BuildKit's parser golden cases: each `<case>/Dockerfile` dumps byte for byte to
//! `<case>/result`; the negative cases must fail to parse.

use std::path::PathBuf;

use strata_dockerfile::syntax::{dump, parse_syntax};

fn peer_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer-cases")
}

fn case_dirs(name: &str) -> Vec<PathBuf> {
    let dir = peer_root().join(name);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("peer cases missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

#[test]
fn golden_dumps_match() {
    let dirs = case_dirs("buildkit-parser");
    let mut failures = Vec::new();
    for dir in &dirs {
        let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(dir.join("result")).unwrap();
        match parse_syntax(&text) {
            Ok(tree) => {
                let got = dump(&tree);
                if got != expected {
                    failures.push(format!(
                        "{}:\n--- expected\n{expected}--- got\n{got}",
                        dir.display()
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", dir.display())),
        }
    }
    println!(
        "buildkit-parser golden: {}/{} passed",
        dirs.len() - failures.len(),
        dirs.len()
    );
    assert_eq!(dirs.len(), 33, "expected 33 golden cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn negative_cases_fail() {
    let dirs = case_dirs("buildkit-parser-negative");
    let mut passed = 0;
    for dir in &dirs {
        let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        // Some negative cases are only rejected by instruction validation.
        if strata_dockerfile::parse(&text, "Dockerfile").is_err() {
            passed += 1;
        } else {
            panic!("{} parsed but must fail", dir.display());
        }
    }
    println!("buildkit-parser-negative: {passed}/{} rejected", dirs.len());
    assert_eq!(dirs.len(), 4);
}
