//! Regression tests for issue 11, defect 1: a garbage collection killed while deleting a
//! snapshot must never leave a partial snapshot that later unpacks silently reuse.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use strata_store::{ProblemKind, Store, UnpackOptions};

/// Files in the layer of the half-deletion test, and in the killed collection's (enough that
/// deleting them takes a while, so the kill lands mid-delete).
const FILES: usize = 400;
const KILL_FILES: usize = 1_500;

/// An uncompressed layer of `n` small files spread over a few directories.
fn many_files_layer(n: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..n {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(8);
        b.append_data(
            &mut h,
            format!("data/d{}/f{i:05}", i % 16),
            &b"content\n"[..],
        )
        .unwrap();
    }
    b.into_inner().unwrap()
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            n += count_files(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

/// What an interrupted in-place deletion (the old collector's) leaves: the marker and the
/// diffid file gone, part of the files gone.
fn half_delete(snapshot_fs: &Path) {
    let dir = snapshot_fs.parent().unwrap();
    for name in ["complete", "diffid"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    for i in (0..FILES).step_by(2) {
        std::fs::remove_file(snapshot_fs.join(format!("data/d{}/f{i:05}", i % 16))).unwrap();
    }
}

#[test]
fn defect_1_half_deleted_snapshot_is_rebuilt_reported_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let layer = many_files_layer(FILES);
    let r = common::add_image(&s, "many", &[&layer]);
    let opts = UnpackOptions::default();
    let snaps = s.ensure_unpacked(&r.manifest_digest, &opts).unwrap();
    assert_eq!(count_files(&snaps[0].fs_path), FILES);
    assert!(s.check().unwrap().is_empty());

    // Never used: the next unpack rebuilds it whole.
    half_delete(&snaps[0].fs_path);
    assert_eq!(s.snapshot_path(&snaps[0].chain_id), None);
    assert!(s.list_snapshots().unwrap().is_empty());
    let again = s.ensure_unpacked(&r.manifest_digest, &opts).unwrap();
    assert_eq!(count_files(&again[0].fs_path), FILES);
    assert!(s.check().unwrap().is_empty());

    // Reported precisely, and `check --repair` removes it.
    half_delete(&snaps[0].fs_path);
    let problems = s.check().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p.kind, ProblemKind::IncompleteSnapshot);
    assert!(p.repairable());
    assert!(p.subject.contains(snaps[0].chain_id.hex()), "{p}");
    assert!(p.message.contains("incomplete"), "{p}");
    assert!(
        p.message
            .contains(&format!("{} files left", FILES / 2 + 17)),
        "{p}"
    );
    assert!(p.message.contains(&r.manifest_digest.to_string()), "{p}");
    let fixed = s.repair().unwrap();
    assert_eq!(fixed.len(), 1, "{fixed:?}");
    assert!(s.check().unwrap().is_empty());
    assert!(!snaps[0].fs_path.parent().unwrap().exists());

    // The next collection removes one too, even while an image still uses it.
    let again = s.ensure_unpacked(&r.manifest_digest, &opts).unwrap();
    half_delete(&again[0].fs_path);
    let report = s.gc().unwrap();
    assert_eq!(
        report.snapshots_removed,
        vec![snaps[0].chain_id.hex().to_owned()]
    );
    assert!(s.check().unwrap().is_empty());
    let again = s.ensure_unpacked(&r.manifest_digest, &opts).unwrap();
    assert_eq!(count_files(&again[0].fs_path), FILES);
}

/// Child half: run one garbage collection on the store in the environment.
#[test]
#[ignore = "run as a child process by the test below"]
fn gc_child() {
    let Some(root) = std::env::var_os("STRATA_GC_ROOT") else {
        return;
    };
    Store::open(Path::new(&root)).unwrap().gc().unwrap();
}

#[test]
fn defect_1_prune_killed_mid_delete_leaves_no_partial_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let layer = many_files_layer(KILL_FILES);
    let opts = UnpackOptions::default();
    let snapshots = s.layout_dir().join("snapshots");
    let mut killed_mid_delete = 0;
    for round in 0..3 {
        let t0 = std::time::Instant::now();
        let r = common::add_image(&s, "many", &[&layer]);
        let chain = s.ensure_unpacked(&r.manifest_digest, &opts).unwrap()[0].clone();
        assert_eq!(count_files(&chain.fs_path), KILL_FILES);
        // Unreferenced now: the child's collection deletes the snapshot.
        s.remove_image(&r.manifest_digest).unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "gc_child", "--test-threads=1"])
            .env("STRATA_GC_ROOT", dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Kill it as soon as the snapshot starts going away (or a little later each round).
        loop {
            let deleting = std::fs::read_dir(&snapshots)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".del-"));
            if deleting || child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        std::thread::sleep(std::time::Duration::from_millis(20 * round));
        let _ = child.kill();
        let status = child.wait().unwrap();
        eprintln!("round {round}: killed after {:?}, {status}", t0.elapsed());
        if !status.success() {
            killed_mid_delete += 1;
        }
        // Whatever the moment, the snapshot is whole or absent, never partial.
        let chain_dir = chain.fs_path.parent().unwrap();
        if chain_dir.exists() {
            assert!(chain_dir.join("complete").is_file());
            assert_eq!(count_files(&chain.fs_path), KILL_FILES);
        }
        assert!(
            s.incomplete_snapshots().unwrap().is_empty(),
            "round {round}: a partial snapshot is left under its chain ID"
        );
        // Loading the image again and using it gives every file.
        let r = common::add_image(&s, "many", &[&layer]);
        let snaps = s.ensure_unpacked(&r.manifest_digest, &opts).unwrap();
        assert_eq!(count_files(&snaps[0].fs_path), KILL_FILES, "round {round}");
        assert!(s.check().unwrap().is_empty(), "round {round}");
        s.remove_image(&r.manifest_digest).unwrap();
        s.gc().unwrap();
        let left: Vec<_> = std::fs::read_dir(&snapshots).unwrap().flatten().collect();
        assert!(
            left.is_empty(),
            "round {round}: {left:?} left after a full collection"
        );
    }
    assert!(
        killed_mid_delete > 0,
        "no child was killed before it finished"
    );
}
