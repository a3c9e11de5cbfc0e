//! Replays every checked-in input of the `registry_requests` fuzz target
//! (`fuzz/corpus/registry_requests/*`) through the function the fuzzer runs, so CI on the
//! stable toolchain keeps every interesting input (and every crash once found) passing.

#[test]
fn every_registry_request_in_the_corpus_is_answered_without_a_server_error() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/registry_requests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "corpus {} has {} files",
        dir.display(),
        files.len()
    );
    for file in &files {
        let data = std::fs::read(file).unwrap();
        strata_registry::fuzzing::request_handlers(&data);
    }
}
