//! Replays the `lint` fuzz target's seed corpus (fuzz/corpus/lint) and the oracle corpus,
//! plus deterministic byte-level mutations of each, through the linter and the build
//! checks: nothing may panic, every finding has a line.

use std::path::PathBuf;

use strata_lint::buildcheck::{check, CheckOptions};
use strata_lint::shellcheck::{ShellChecker, ShellIssue, ShellScript};
use strata_lint::{lint_all, Config};

/// Exercises the SC path without the binary: claims one issue on every script line.
struct EveryLine;

impl ShellChecker for EveryLine {
    fn check_all(&self, scripts: &[ShellScript]) -> Vec<Vec<ShellIssue>> {
        scripts
            .iter()
            .map(|s| {
                (1..=s.text.lines().count() + 1)
                    .map(|line| ShellIssue {
                        code: 2086,
                        level: strata_lint::Level::Info,
                        message: "x".into(),
                        line,
                        column: 1,
                    })
                    .collect()
            })
            .collect()
    }
}

fn run_one(text: &str) {
    let config = Config {
        label_schema: [("a".to_string(), strata_lint::LabelType::Email)].into(),
        trusted_registries: vec!["*.example.com".into()],
        ..Config::default()
    };
    for f in lint_all(text, "Dockerfile", &config, Some(&EveryLine)) {
        assert!(f.line >= 1, "{f:?} in {text:?}");
    }
    let _ = check(text, &CheckOptions::default());
}

/// xorshift: reproducible mutations without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn mutate(text: &str, seed: u64) -> String {
    const PIECES: [&str; 12] = [
        "\\\n",
        "\n",
        "$",
        "${",
        "\"",
        "'",
        "<<EOF\n",
        "EOF\n",
        "&&",
        "|",
        "--mount=",
        "# hadolint ignore=DL3006\n",
    ];
    let mut chars: Vec<char> = text.chars().collect();
    let mut s = seed | 1;
    for _ in 0..1 + next(&mut s) % 4 {
        let at = if chars.is_empty() {
            0
        } else {
            (next(&mut s) as usize) % chars.len()
        };
        match next(&mut s) % 3 {
            0 if !chars.is_empty() => {
                chars.remove(at);
            }
            1 => {
                let p = PIECES[(next(&mut s) as usize) % PIECES.len()];
                for (i, c) in p.chars().enumerate() {
                    chars.insert(at + i, c);
                }
            }
            _ => {
                let end = (at + (next(&mut s) as usize % 20)).min(chars.len());
                let dup: Vec<char> = chars[at..end].to_vec();
                for (i, c) in dup.into_iter().enumerate() {
                    chars.insert(end + i, c);
                }
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn seed_corpora_and_their_mutations_never_panic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    for dir in [
        root.join("../../fuzz/corpus/lint"),
        root.join("tests/corpus"),
    ] {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.is_file() {
                inputs.push(String::from_utf8_lossy(&std::fs::read(&p).unwrap()).to_string());
            }
        }
    }
    assert!(inputs.len() >= 40, "{} seeds", inputs.len());
    let mut runs = 0;
    for (i, text) in inputs.iter().enumerate() {
        run_one(text);
        for m in 0..40u64 {
            run_one(&mutate(text, (i as u64) << 32 | m));
            runs += 1;
        }
    }
    eprintln!("fuzz replay: {} seeds, {runs} mutations", inputs.len());
}
