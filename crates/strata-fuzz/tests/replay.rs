//! Replays every checked-in corpus file (`fuzz/corpus/<target>/*`) through the target
//! functions the fuzzers run, so CI on the stable toolchain keeps every input a fuzzer
//! found interesting (and every crash it once found) passing.

use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn every_corpus_file_replays_through_its_target() {
    let mut total = 0;
    for (name, target) in strata_fuzz::TARGETS {
        let dir = corpus_dir(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "corpus {} is empty", dir.display());
        for file in &files {
            let data = std::fs::read(file).unwrap();
            target(&data);
        }
        eprintln!("{name}: {} corpus files", files.len());
        total += files.len();
    }
    assert!(total >= 3 * 5, "{total} corpus files");
}
