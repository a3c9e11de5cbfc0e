//! Property tests: the matcher never panics, and walking-style matching
//! with parent results agrees with whole-path matching.

use proptest::prelude::*;
use strata_dockerfile::dockerignore::{clean, IgnoreFile, MatchInfo, Matcher};

fn pattern() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("*".to_string()),
        Just("**".to_string()),
        Just("?".to_string()),
        Just("/".to_string()),
        Just("!".to_string()),
        Just("[a-c]".to_string()),
        Just("[^b]".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\\".to_string()),
        Just("\\*".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("^".to_string()),
        Just("a".to_string()),
        Just("b".to_string()),
        Just("c".to_string()),
        Just("#".to_string()),
        Just(" ".to_string()),
        any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

fn rel_path() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("c"), Just("ab"), Just(".x")],
        1..6,
    )
    .prop_map(|v| v.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matcher_never_panics(pats in proptest::collection::vec(pattern(), 0..6), path in any::<String>()) {
        if let Ok(m) = Matcher::new(&pats) {
            let _ = m.matches(&path);
            let _ = m.matches_or_parent_matches(&path);
            let _ = m.matches_exact(&path);
            let _ = m.could_include_under(&path);
        }
    }

    #[test]
    fn ignore_file_never_panics(text in any::<String>(), path in any::<String>()) {
        if let Ok(f) = IgnoreFile::parse(&text) {
            let _ = f.matcher().matches(&path);
        }
    }

    #[test]
    fn parent_results_agree(pats in proptest::collection::vec(pattern(), 1..6), path in rel_path()) {
        let Ok(m) = Matcher::new(&pats) else { return Ok(()) };
        let path = clean(&path);
        let mut info = MatchInfo::default();
        let mut result = false;
        let parts: Vec<&str> = path.split('/').collect();
        for k in 1..=parts.len() {
            (result, info) = m.matches_with_parent(&parts[..k].join("/"), &info);
        }
        prop_assert_eq!(result, m.matches(&path));
        // The one-pass parent check agrees with checking each parent.
        let slow = m.patterns().iter().rev().find(|p| {
            p.matches(&path) || (1..parts.len()).any(|k| p.matches(&parts[..k].join("/")))
        });
        prop_assert_eq!(m.matches(&path), slow.is_some_and(|p| !p.is_exclusion()));
    }

    #[test]
    fn pruning_never_hides_included_paths(pats in proptest::collection::vec(pattern(), 1..6), path in rel_path()) {
        // If a path is included but one of its ancestors is excluded, the
        // walker must enter that ancestor.
        let Ok(m) = Matcher::new(&pats) else { return Ok(()) };
        let path = clean(&path);
        if m.matches(&path) {
            return Ok(());
        }
        let parts: Vec<&str> = path.split('/').collect();
        for k in 1..parts.len() {
            let dir = parts[..k].join("/");
            if m.matches(&dir) {
                prop_assert!(m.could_include_under(&dir), "{dir} pruned but {path} is included");
            }
        }
    }
}

#[test]
fn huge_inputs_are_fine() {
    let deep = vec!["d"; 20_000].join("/");
    let m = Matcher::new(&["**/x", "d/**/d/*", "!d/d"]).unwrap();
    // The exception matches the parent `d/d`, and it comes last.
    assert!(!m.matches(&deep));
    let m = Matcher::new(&["!d/d", "**/x", "d/**/d/*"]).unwrap();
    assert!(m.matches(&deep));
    let pat = "*a".repeat(200);
    let m = Matcher::new(&[pat]).unwrap();
    assert!(!m.matches(&"a".repeat(10_000).replace("aa", "ab")));
}
