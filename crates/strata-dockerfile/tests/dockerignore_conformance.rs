//! Docker's pattern-matcher test table, replayed against [`Matcher`].
//!
//! The table is `/work/shared/peer-cases/dockerignore-cases.tsv` (or under
//! `STRATA_PEER_CASES`); its README describes the columns.

use std::path::PathBuf;

use strata_dockerfile::dockerignore::{read_patterns, IgnoreErrorKind, IgnoreFile, Matcher};

fn table() -> Option<String> {
    let base = std::env::var_os("STRATA_PEER_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/peer-cases"));
    let file = base.join("dockerignore-cases.tsv");
    match std::fs::read_to_string(&file) {
        Ok(t) => Some(t),
        Err(e) => {
            assert!(
                std::env::var("STRATA_CI").as_deref() != Ok("1"),
                "peer cases missing at {}: {e}",
                file.display()
            );
            eprintln!("skipping: {}: {e}", file.display());
            None
        }
    }
}

#[test]
fn pattern_matcher_table() {
    let Some(text) = table() else { return };
    let (mut passed, mut failed) = (0, Vec::new());
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 5, "line {}: {line:?}", n + 1);
        let (method, patterns, path, expected) = (cols[1], cols[2], cols[3], cols[4]);
        let patterns: Vec<String> = serde_json::from_str(patterns).unwrap();
        let got: Result<bool, String> = match Matcher::new(&patterns) {
            Err(e) => Err(e.to_string()),
            Ok(m) => match method {
                "Matches(deprecated)" => Ok(m.matches(path)),
                "MatchesOrParentMatches" => Ok(m.matches_or_parent_matches(path)),
                "New" => Ok(false),
                other => panic!("line {}: unknown method {other}", n + 1),
            },
        };
        let ok = match (expected, &got) {
            ("error", Err(_)) => true,
            ("match", Ok(true)) => method != "New",
            ("nomatch", Ok(false)) => method != "New",
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failed.push(format!(
                "line {}: {method} {patterns:?} {path:?} -> {got:?}, want {expected}",
                n + 1
            ));
        }
    }
    println!(
        "dockerignore-cases: {passed} passed, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert_eq!(passed, 139);
}

#[test]
fn read_all_example() {
    let text = "\u{FEFF}test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! \n";
    let got: Vec<String> = read_patterns(text).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        got,
        [
            "test1",
            "test2",
            "a/file/here",
            "lastfile",
            "!inverted/abs/path",
            "!",
            "!"
        ]
    );
    assert!(read_patterns("").is_empty());
    // The lone `!` is rejected when compiled, naming the line.
    let err = IgnoreFile::parse(text).unwrap_err();
    assert_eq!(err.kind(), IgnoreErrorKind::IllegalExclusion);
    assert_eq!(
        err.to_string(),
        ".dockerignore line 8: illegal exclusion pattern: \"!\""
    );
}

#[test]
fn comments_only_at_column_one_and_crlf() {
    let file = IgnoreFile::parse("  # not a comment\r\n#comment\r\n*.log\r\n").unwrap();
    assert_eq!(file.patterns(), ["# not a comment", "*.log"]);
    assert!(file.matcher().matches("# not a comment"));
    assert!(file.matcher().matches("x.log"));
    assert!(!file.matcher().matches("comment"));
}

#[test]
fn buildkit_end_to_end_rules() {
    let file = IgnoreFile::parse("ba*\nDockerfile\n!bay\n.dockerignore\n").unwrap();
    let m = file.matcher();
    let kept: Vec<&str> = ["foo", "bar", "baz", "bay", "Dockerfile", ".dockerignore"]
        .into_iter()
        .filter(|p| !m.matches(p))
        .collect();
    assert_eq!(kept, ["foo", "bay"]);
    assert!(IgnoreFile::parse("!\n").is_err());
}

#[test]
fn cleaning_and_parents() {
    let m = Matcher::new(&["docs/", "!docs/keep.md", "./build/../out"]).unwrap();
    assert!(m.matches("docs"));
    assert!(m.matches("docs/a/b.txt"));
    assert!(!m.matches("docs/keep.md"));
    assert!(m.matches("out/x"));
    assert!(m.matches("./out//x/"));
    assert!(!m.matches("."));
    assert!(!m.matches("outside"));
    // Leading slash is removed only when reading a file.
    let f = IgnoreFile::parse("/abs\n").unwrap();
    assert!(f.matcher().matches("abs/x"));
}

#[test]
fn order_of_exceptions() {
    let m = Matcher::new(&["*.md", "!README*.md", "README-secret.md"]).unwrap();
    assert!(m.matches("notes.md"));
    assert!(!m.matches("README.md"));
    assert!(m.matches("README-secret.md"));
    let m = Matcher::new(&["!keep", "*"]).unwrap();
    assert!(
        m.matches("keep"),
        "an exception before the rule it would undo has no effect"
    );
}

#[test]
fn parent_results_agree_with_parent_matching() {
    use strata_dockerfile::dockerignore::MatchInfo;
    let sets: &[&[&str]] = &[
        &["a", "!a/b", "a/b/c"],
        &["**", "!util/docker/web", "util/docker/web/foo"],
        &["*/b", "!a/b/*.go", "**/x"],
        &["a/**", "!a/b/**", "a/b/c"],
    ];
    let paths = [
        "a",
        "a/b",
        "a/b/c",
        "a/b/c/d",
        "a/b/x.go",
        "a/x",
        "util/docker/web/foo/z",
    ];
    for pats in sets {
        let m = Matcher::new(pats).unwrap();
        for path in paths {
            let mut info = MatchInfo::default();
            let mut result = false;
            let parts: Vec<&str> = path.split('/').collect();
            for k in 1..=parts.len() {
                let prefix = parts[..k].join("/");
                (result, info) = m.matches_with_parent(&prefix, &info);
            }
            assert_eq!(result, m.matches(path), "{pats:?} {path}");
        }
    }
}
