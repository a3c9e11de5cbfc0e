#![allow(dead_code)] // each fuzz target uses one of these functions

//! Fuzz harness functions, shared by the cargo-fuzz targets and by the
//! corpus replay test (`tests/shell_fuzz_corpus.rs`), so both run the same
//! checks. Each takes raw bytes and panics only on a broken invariant.

use std::collections::BTreeSet;

use strata_dockerfile::dockerignore::{clean, IgnoreFile, MatchInfo};
use strata_dockerfile::shell::Lexer;

/// Input: the word on the first line (a leading `` ` `` selects the
/// backtick escape), then `NAME=value` lines for the environment.
pub fn shell_expand(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (word, rest) = text.split_once('\n').unwrap_or((text, ""));
    let escape = if word.starts_with('`') { '`' } else { '\\' };
    let env: Vec<(String, String)> = rest
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let names: BTreeSet<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    let plain = Lexer::new(escape);
    let raw = plain
        .raw_quotes(true)
        .raw_escapes(true)
        .skip_unset_env(true);
    for lexer in [plain, raw] {
        if let Ok(r) = lexer.process_with_matches(word, &env) {
            assert!(r.matched.iter().all(|n| names.contains(n.as_str())));
            assert!(r.unmatched.iter().all(|n| !names.contains(n.as_str())));
        }
        let _ = lexer.process_words(word, &env);
    }
}

/// Input: `.dockerignore` text, a line `---`, then one path per line.
pub fn dockerignore_match(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rules, paths) = text.split_once("\n---\n").unwrap_or((text, ""));
    let Ok(file) = IgnoreFile::parse(rules) else {
        return;
    };
    let m = file.matcher();
    for path in paths.lines() {
        let excluded = m.matches(path);
        let _ = m.matches_or_parent_matches(path);
        let _ = m.matches_exact(path);
        let cleaned = clean(path);
        if cleaned.starts_with('/') || cleaned.starts_with("..") || cleaned == "." {
            continue;
        }
        // Walking-style matching agrees with whole-path matching, and an
        // excluded directory holding an included path is never pruned.
        let parts: Vec<&str> = cleaned.split('/').collect();
        let mut info = MatchInfo::default();
        let mut result = false;
        for k in 1..=parts.len() {
            let prefix = parts[..k].join("/");
            (result, info) = m.matches_with_parent(&prefix, &info);
            if k < parts.len() && result && !excluded {
                assert!(
                    m.could_include_under(&prefix),
                    "{prefix} pruned above {cleaned}"
                );
            }
        }
        assert_eq!(result, excluded, "{cleaned}");
    }
}

/// Input: a Dockerfile.
pub fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = strata_dockerfile::parse(text, "Dockerfile");
}
