//! The functions the fuzzers in `fuzz/` drive, one per input boundary. They live in a
//! workspace crate so the stable test suite replays every checked-in corpus file through
//! exactly the code the fuzzers run (`tests/replay.rs`), on the stable toolchain, in CI.
//!
//! Each function must return (error or not) for any input: a panic, a hang or unbounded
//! memory is the bug a fuzzer reports.

use std::io::Read;

/// The one tar reader: every header, every byte of data, and the entry checks `import`
/// applies.
pub fn tar_reader(data: &[u8]) {
    let mut tar = strata_layer::TarReader::new(data);
    let mut sink = [0u8; 4096];
    while let Ok(Some(header)) = tar.next_header() {
        let _ = strata_layer::check_entry(&header);
        let mut entry = tar.data();
        while matches!(entry.read(&mut sink), Ok(n) if n > 0) {}
    }
}

/// `load` of an archive stream (docker-archive or OCI layout tar, maybe compressed), into
/// memory.
pub fn archive_loader(data: &[u8]) {
    let mut blobs = strata_archive::MemoryBlobs::default();
    let _ = strata_archive::load_reader(data, &mut blobs);
}

/// Manifest and index documents (any media type) and image configs.
pub fn manifest_and_config(data: &[u8]) {
    if let Ok(raw) = strata_oci::RawManifest::parse(data.to_vec(), None) {
        // A parsed document re-validates under its own media type.
        let _ = strata_oci::validate(raw.media_type.as_str(), &raw.bytes);
    }
    let _ = strata_oci::RawConfig::parse(data.to_vec());
}

/// A fuzz target: any bytes in, nothing out.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/corpus/<name>/` names them.
pub const TARGETS: &[(&str, Target)] = &[
    ("tar_reader", tar_reader),
    ("archive_loader", archive_loader),
    ("manifest_and_config", manifest_and_config),
];
