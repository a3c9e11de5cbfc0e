//! Derived blobs: a build layer kept as its snapshot and regenerated on read must behave like
//! any stored blob (presence, size, streaming, a file on demand, check, GC), and a snapshot
//! changed behind the store's back must be caught rather than served.

use std::io::Read;
use std::path::Path;

use strata_store::{snapshot_tar_digest, write_snapshot_tar, SnapshotForm, Store};

fn staged_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("app/src")).unwrap();
    std::fs::write(dir.join("app/src/main.py"), b"print('hi')\n").unwrap();
    std::fs::write(dir.join("app/big.bin"), vec![7u8; 3 << 20]).unwrap();
    std::os::unix::fs::symlink("src/main.py", dir.join("app/entry")).unwrap();
}

fn tar_of(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    write_snapshot_tar(dir, SnapshotForm::Tree, None, &mut out).unwrap();
    out
}

fn read_all(store: &Store, d: &strata_oci::Digest) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    store.open_blob(d).unwrap().read_to_end(&mut data)?;
    Ok(data)
}

#[test]
fn a_built_layer_is_a_blob_without_its_bytes_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let staged = store.snapshot_staging_dir().unwrap().join("fs");
    staged_tree(&staged);
    let expected = tar_of(&staged);
    let (want, want_size) = snapshot_tar_digest(&staged, SnapshotForm::Tree, None).unwrap();
    assert_eq!(want, strata_oci::Digest::sha256_of(&expected));

    let built = store
        .commit_built_layer(&staged, SnapshotForm::Tree, None, None)
        .unwrap();
    assert_eq!(
        (built.diff_id.clone(), built.size),
        (want.clone(), want_size)
    );
    assert_eq!(
        built.chain_id, built.diff_id,
        "a base layer's chain ID is its diffID"
    );
    assert!(!staged.exists(), "the staged directory became the snapshot");
    let blob_file = store
        .layout_dir()
        .join("blobs/sha256")
        .join(built.diff_id.hex());
    assert!(!blob_file.exists(), "no tar was written");
    assert!(store.has_blob(&built.diff_id));
    assert_eq!(
        store.blob_size(&built.diff_id).unwrap(),
        expected.len() as u64
    );
    assert_eq!(read_all(&store, &built.diff_id).unwrap(), expected);
    assert!(store.list_blobs().unwrap().contains(&built.diff_id));
    assert!(store.check().unwrap().is_empty());

    // A caller that needs a file gets one, with the same bytes.
    let path = store.blob_path(&built.diff_id).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), expected);
}

#[test]
fn gc_keeps_the_snapshot_of_a_held_derived_blob_and_sweeps_both_when_released() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let staged = store.snapshot_staging_dir().unwrap().join("fs");
    staged_tree(&staged);
    let built = store
        .commit_built_layer(&staged, SnapshotForm::Tree, Some(1_700_000_000), None)
        .unwrap();
    let lease = store
        .lease(Some(std::time::Duration::from_secs(600)))
        .unwrap();
    lease.add(std::slice::from_ref(&built.diff_id)).unwrap();
    store.gc().unwrap();
    assert!(store.snapshot_path(&built.chain_id).is_some());
    assert!(store.has_blob(&built.diff_id));
    assert_eq!(
        read_all(&store, &built.diff_id).unwrap().len() as u64,
        built.size
    );

    lease.release().unwrap();
    let report = store.gc().unwrap();
    assert!(report
        .blobs_removed
        .iter()
        .any(|(d, _)| *d == built.diff_id));
    assert!(store.snapshot_path(&built.chain_id).is_none());
    assert!(!store.has_blob(&built.diff_id));
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn a_snapshot_changed_behind_the_stores_back_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let staged = store.snapshot_staging_dir().unwrap().join("fs");
    staged_tree(&staged);
    let built = store
        .commit_built_layer(&staged, SnapshotForm::Tree, None, None)
        .unwrap();
    let snap = store.snapshot_path(&built.chain_id).unwrap();
    std::fs::write(snap.join("app/src/main.py"), b"print('tampered')\n").unwrap();

    let err = read_all(&store, &built.diff_id).unwrap_err();
    assert!(
        err.to_string().contains(&built.diff_id.to_string()),
        "{err}"
    );
    let problems = store.check().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].subject.contains(&built.diff_id.to_string()));
    // Nothing wrong was written out on demand either.
    assert!(store.blob_path(&built.diff_id).is_err());
}

#[test]
fn an_existing_snapshot_from_elsewhere_gets_the_layer_bytes_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("root")).unwrap();
    let first = store.snapshot_staging_dir().unwrap().join("fs");
    staged_tree(&first);
    // Both trees are made moments apart: clamping mtimes (SOURCE_DATE_EPOCH) makes them
    // the same layer even when a second boundary falls between them.
    let epoch = Some(1_700_000_000);
    let built = store
        .commit_built_layer(&first, SnapshotForm::Tree, epoch, None)
        .unwrap();
    // Forget the record, as if the snapshot had been unpacked from a pulled layer.
    let record = store
        .layout_dir()
        .join("derived/sha256")
        .join(built.diff_id.hex());
    std::fs::remove_file(&record).unwrap();
    assert!(!store.has_blob(&built.diff_id));

    let second = store.snapshot_staging_dir().unwrap().join("fs");
    staged_tree(&second);
    let again = store
        .commit_built_layer(&second, SnapshotForm::Tree, epoch, None)
        .unwrap();
    assert_eq!(again, built);
    assert!(!second.exists());
    let blob_file = store
        .layout_dir()
        .join("blobs/sha256")
        .join(built.diff_id.hex());
    assert!(
        blob_file.is_file(),
        "the bytes were stored as an ordinary blob"
    );
    assert!(store.check().unwrap().is_empty());
}
