//! Property tests: the expander never panics, reports lookups consistently,
//! and rejects deep nesting with an error instead of overflowing the stack.

use std::collections::BTreeMap;

use proptest::prelude::*;
use strata_dockerfile::shell::{Lexer, ShellErrorKind, MAX_NESTING};

/// Words built from the characters the lexer treats specially, plus some
/// ordinary and non-ASCII ones.
fn word() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("$".to_string()),
        Just("${".to_string()),
        Just("}".to_string()),
        Just(":-".to_string()),
        Just(":+".to_string()),
        Just(":?".to_string()),
        Just("#".to_string()),
        Just("%%".to_string()),
        Just("/".to_string()),
        Just("//".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("`".to_string()),
        Just("*".to_string()),
        Just("?".to_string()),
        Just(" ".to_string()),
        Just("A".to_string()),
        Just("B".to_string()),
        Just("x".to_string()),
        Just("한".to_string()),
        "[a-z]{1,3}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn env() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(
        prop_oneof![Just("A".to_string()), Just("B".to_string()), "[a-z]{1,2}"],
        prop_oneof![Just(String::new()), "[ a-z*?/\\\\]{0,6}"],
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn expansion_never_panics(w in word(), e in env(), backtick in any::<bool>()) {
        let lexer = Lexer::new(if backtick { '`' } else { '\\' });
        if let Ok(r) = lexer.process_with_matches(&w, &e) {
            for name in &r.matched {
                prop_assert!(e.contains_key(name));
            }
            for name in &r.unmatched {
                prop_assert!(!e.contains_key(name));
            }
            // Splitting never invents text: the words are a subsequence of
            // the single-word value's characters.
            let joined: String = r.words.concat();
            prop_assert!(joined.chars().count() <= r.value.chars().count());
        }
        let _ = lexer.process_words(&w, &e);
    }

    #[test]
    fn arbitrary_strings_never_panic(w in any::<String>(), e in env()) {
        let _ = Lexer::new('\\').process_word(&w, &e);
        let _ = Lexer::new('\\').skip_unset_env(true).raw_quotes(true).raw_escapes(true).process_word(&w, &e);
    }

    #[test]
    fn plain_words_are_unchanged(w in "[a-zA-Z0-9_./:=-]{0,30}") {
        let r = Lexer::new('\\').process_word(&w, &BTreeMap::new()).unwrap();
        prop_assert_eq!(r.value, w);
        prop_assert!(r.used.is_empty());
    }
}

#[test]
fn deep_nesting_is_rejected() {
    let env = BTreeMap::<String, String>::new();
    for depth in [MAX_NESTING + 1, 10_000, 200_000] {
        let word = "${a:-".repeat(depth) + "x" + &"}".repeat(depth);
        let err = Lexer::new('\\').process_word(&word, &env).unwrap_err();
        assert_eq!(err.kind(), ShellErrorKind::TooDeep);
        // Nesting through double quotes recurses the same way.
        let word = "\"${a:-".repeat(depth) + "x" + &"}\"".repeat(depth);
        let err = Lexer::new('\\').process_word(&word, &env).unwrap_err();
        assert_eq!(err.kind(), ShellErrorKind::TooDeep);
    }
    let word = "${a:-".repeat(MAX_NESTING) + "x" + &"}".repeat(MAX_NESTING);
    assert_eq!(
        Lexer::new('\\').process_word(&word, &env).unwrap().value,
        "x"
    );
}

#[test]
fn backtick_escape() {
    let env = BTreeMap::from([("P".to_string(), "C:\\dir".to_string())]);
    let lexer = Lexer::new('`');
    assert_eq!(lexer.process_word("`$P", &env).unwrap().value, "$P");
    assert_eq!(
        lexer.process_word("$P\\x", &env).unwrap().value,
        "C:\\dir\\x"
    );
    let (words, _) = lexer.process_words("a` b c", &env).unwrap();
    assert_eq!(words, ["a b", "c"]);
    assert_eq!(lexer.process_word("\"a`\"b\"", &env).unwrap().value, "a\"b");
}

#[test]
fn pattern_operators() {
    let env = BTreeMap::from([
        ("F".to_string(), "archive.tar.gz".to_string()),
        ("P".to_string(), "/usr/local/bin".to_string()),
    ]);
    let l = Lexer::new('\\');
    let x = |w: &str| l.process_word(w, &env).unwrap().value;
    assert_eq!(x("${F%.*}"), "archive.tar");
    assert_eq!(x("${F%%.*}"), "archive");
    assert_eq!(x("${F#*.}"), "tar.gz");
    assert_eq!(x("${F##*.}"), "gz");
    assert_eq!(x("${P/\\//:}"), ":usr/local/bin");
    assert_eq!(x("${P//\\//:}"), ":usr:local:bin");
    assert_eq!(x("${P//l?c/L}"), "/usr/Lal/bin");
    let err = l.process_word("${F#\\x}", &env).unwrap_err();
    assert_eq!(err.kind(), ShellErrorKind::InvalidPattern);
}
