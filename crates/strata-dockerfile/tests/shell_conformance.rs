//! BuildKit's shell lexer test tables, replayed against [`Lexer`].
//!
//! The tables live in `/work/shared/peer-cases/buildkit-shell/` (or the
//! directory named by `STRATA_PEER_CASES`); see the README there for formats.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use strata_dockerfile::shell::{env_from_list, Env, Lexer, ShellErrorKind};

fn peer_dir() -> Option<PathBuf> {
    let base = std::env::var_os("STRATA_PEER_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/peer-cases"));
    let dir = base.join("buildkit-shell");
    if dir.is_dir() {
        Some(dir)
    } else {
        assert!(
            std::env::var("STRATA_CI").as_deref() != Ok("1"),
            "peer cases missing at {}",
            dir.display()
        );
        eprintln!("skipping: peer cases not found at {}", dir.display());
        None
    }
}

fn env_var_test_env() -> BTreeMap<String, String> {
    env_from_list(["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="])
}

#[test]
fn env_var_test_table() {
    let Some(dir) = peer_dir() else { return };
    let text = std::fs::read_to_string(dir.join("envVarTest")).unwrap();
    let env = env_var_test_env();
    let lexer = Lexer::new('\\');
    let (mut passed, mut failed) = (0, Vec::new());
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.splitn(3, '|').collect();
        assert_eq!(fields.len(), 3, "line {}: {line:?}", n + 1);
        let platform = fields[0].trim();
        if platform == "W" {
            continue;
        }
        let (input, expected) = (fields[1].trim(), fields[2].trim());
        let got = lexer.process_word(input, &env);
        let ok = match (&got, expected) {
            (Err(_), "error") => true,
            (Ok(e), exp) => exp != "error" && e.value == exp,
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failed.push(format!(
                "line {}: {input:?} -> {got:?}, want {expected:?}",
                n + 1
            ));
        }
    }
    println!("envVarTest: {passed} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(passed > 200);
}

#[test]
fn words_test_table() {
    let Some(dir) = peer_dir() else { return };
    let text = std::fs::read_to_string(dir.join("wordsTest")).unwrap();
    let lexer = Lexer::new('\\');
    let mut env: Vec<(String, String)> = Vec::new();
    let (mut passed, mut failed) = (0, Vec::new());
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(assign) = line.strip_prefix("ENV ") {
            let (k, v) = assign.split_once('=').unwrap();
            env.push((k.to_string(), v.to_string()));
            continue;
        }
        let (input, expected) = line.split_once('|').unwrap();
        let (input, expected) = (input.trim(), expected.trim_start_matches(' '));
        let got = lexer.process_words(input, &env);
        let ok = match &got {
            Err(_) => expected == "error",
            Ok((words, _)) => {
                expected != "error" && *words == expected.split(',').collect::<Vec<_>>()
            }
        };
        if ok {
            passed += 1;
        } else {
            failed.push(format!(
                "line {}: {input:?} -> {got:?}, want {expected:?}",
                n + 1
            ));
        }
    }
    println!("wordsTest: {passed} passed, {} failed", failed.len());
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert_eq!(passed, 24);
}

#[derive(serde::Deserialize)]
struct MatchCase {
    input: String,
    envs: BTreeMap<String, String>,
    expect_error: bool,
    expected: Option<String>,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

#[test]
fn process_with_matches_table() {
    let Some(dir) = peer_dir() else { return };
    let text = std::fs::read_to_string(dir.join("process_with_matches.json")).unwrap();
    let cases: Vec<MatchCase> = serde_json::from_str(&text).unwrap();
    let lexer = Lexer::new('\\');
    let (mut passed, mut failed) = (0, Vec::new());
    for c in &cases {
        let got = lexer.process_with_matches(&c.input, &c.envs);
        // The table records lookups only for successful expansions.
        let ok = match &got {
            Err(_) => c.expect_error,
            Ok(r) => {
                !c.expect_error
                    && Some(&r.value) == c.expected.as_ref()
                    && r.matched == c.matched
                    && r.unmatched == c.unmatched
            }
        };
        if ok {
            passed += 1;
        } else {
            failed.push(format!(
                "{:?} env {:?} -> {got:?}, want {:?} matched {:?} unmatched {:?}",
                c.input, c.envs, c.expected, c.matched, c.unmatched
            ));
        }
    }
    println!(
        "process_with_matches: {passed} passed, {} failed",
        failed.len()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert_eq!(passed, cases.len());
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn mandatory_variables() {
    let lexer = Lexer::new('\\');
    let word = "${VAR:?message here$ARG}";
    let plain = map(&[("VAR", "plain"), ("ARG", "x")]);
    assert_eq!(lexer.process_word(word, &plain).unwrap().value, "plain");
    for env in [map(&[("VAR", ""), ("ARG", "x")]), map(&[("ARG", "x")])] {
        let err = lexer.process_word(word, &env).unwrap_err();
        assert_eq!(err.kind(), ShellErrorKind::RequiredVariable);
        assert!(err.to_string().contains("message herex"), "{err}");
    }
    let word = "${VAR?message here$ARG}";
    assert_eq!(lexer.process_word(word, &plain).unwrap().value, "plain");
    let empty = map(&[("VAR", ""), ("ARG", "x")]);
    assert_eq!(lexer.process_word(word, &empty).unwrap().value, "");
    let err = lexer.process_word(word, &map(&[("ARG", "x")])).unwrap_err();
    assert!(err.to_string().contains("message herex"), "{err}");
    let err = lexer
        .process_word("${VAR:?}", &map(&[("VAR", "")]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to process \"${VAR:?}\": VAR: is not allowed to be empty"
    );
    let err = lexer.process_word("${VAR?}", &map(&[])).unwrap_err();
    assert_eq!(err.message(), "VAR: is not allowed to be unset");
}

#[test]
fn platform_words() {
    let lexer = Lexer::new('\\');
    let word =
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    let base = [("VERSION", "v1.2.3"), ("TARGETOS", "linux")];
    let mut env = map(&base);
    env.extend(map(&[("TARGETARCH", "arm"), ("TARGETVARIANT", "v7")]));
    assert_eq!(
        lexer.process_word(word, &env).unwrap().value,
        "something-v1.2.3.linux-arm-v7.tar.gz"
    );
    let mut env = map(&base);
    env.extend(map(&[("TARGETARCH", "arm64"), ("TARGETVARIANT", "")]));
    assert_eq!(
        lexer.process_word(word, &env).unwrap().value,
        "something-v1.2.3.linux-arm64.tar.gz"
    );
    env.remove("TARGETVARIANT");
    let out = lexer.process_word(word, &env).unwrap();
    assert_eq!(out.value, "something-v1.2.3.linux-arm64.tar.gz");
    assert!(out.unmatched.contains("TARGETVARIANT"));
    assert!(out.used.contains("VERSION") && out.used.contains("TARGETVARIANT"));
}

#[test]
fn env_list_last_wins() {
    let env = env_from_list(["foo=bar", "car=hat", "car=bike", "solo"]);
    assert_eq!(Env::get(&env, "car").as_deref(), Some("bike"));
    assert_eq!(Env::get(&env, "solo").as_deref(), Some(""));
    let list = vec![
        ("car".to_string(), "hat".to_string()),
        ("car".to_string(), "bike".to_string()),
    ];
    assert_eq!(Env::get(&list, "car").as_deref(), Some("bike"));
}
