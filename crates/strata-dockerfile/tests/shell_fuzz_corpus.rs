//! Replays every input under `fuzz/corpus/<target>/` (and crash
//! reproducers under `fuzz/artifacts/<target>/`, if any) through the same
//! harness functions the cargo-fuzz targets call, so inputs found by
//! fuzzing stay covered on a stable toolchain.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["corpus", "artifacts"] {
        let dir = fuzz.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            assert!(kind != "corpus", "missing corpus {}", dir.display());
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{} panicked", file.display());
            count += 1;
        }
    }
    println!("{target}: replayed {count} inputs");
    count
}

#[test]
fn shell_expand_corpus() {
    assert!(replay("shell_expand", harness::shell_expand) >= 10);
}

#[test]
fn dockerignore_match_corpus() {
    assert!(replay("dockerignore_match", harness::dockerignore_match) >= 10);
}

#[test]
fn parse_corpus() {
    assert!(replay("parse", harness::parse) >= 4);
}
