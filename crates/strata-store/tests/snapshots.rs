//! Snapshots: each layer unpacked alone, whiteouts in overlay form, published by chain ID,
//! swept by GC when no image references them.

mod common;

use std::os::unix::fs::FileTypeExt;

use strata_oci::{Digest, MediaType};
use strata_store::{Store, UnpackOptions};

fn tar_layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                b.append_data(&mut h, path, *d).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn is_root() -> bool {
    rustix_uid() == 0
}

fn rustix_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(1)
}

#[test]
fn ensure_unpacked_stacks_layers_by_chain_id() {
    if !is_root() {
        assert!(
            std::env::var("STRATA_CI").as_deref() != Ok("1"),
            "overlay whiteouts need root in CI"
        );
        eprintln!("skipping: overlay whiteouts (char devices) need root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let l1 = tar_layer(&[
        ("etc/", None),
        ("etc/a", Some(b"one")),
        ("etc/b", Some(b"bee")),
    ]);
    let l2 = tar_layer(&[
        ("etc/", None),
        ("etc/.wh.b", Some(b"")),
        ("etc/c", Some(b"sea")),
    ]);
    let diff_ids = [Digest::sha256_of(&l1), Digest::sha256_of(&l2)];
    let blobs = [gzip(&l1), l2.clone()];
    let types = [
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar",
    ];
    let mut descs = Vec::new();
    for (b, t) in blobs.iter().zip(types) {
        let d = s.put_bytes(b).unwrap();
        descs.push(serde_json::json!({"mediaType": t, "digest": d.to_string(), "size": b.len()}));
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()}
    }))
    .unwrap();
    let cd = s.put_bytes(&config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": config.len()},
        "layers": descs
    }))
    .unwrap();
    let r = s
        .add_image(&manifest, &MediaType::new(common::MANIFEST))
        .unwrap();
    let snaps = s
        .ensure_unpacked(&r.manifest_digest, &UnpackOptions::default())
        .unwrap();
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[0].chain_id, diff_ids[0]);
    assert_eq!(snaps[1].chain_id, r.chain_ids()[1]);
    assert_eq!(
        std::fs::read(snaps[0].fs_path.join("etc/b")).unwrap(),
        b"bee"
    );
    let wh = std::fs::symlink_metadata(snaps[1].fs_path.join("etc/b")).unwrap();
    assert!(
        wh.file_type().is_char_device(),
        "whiteout is not an overlay char device"
    );
    assert!(
        !snaps[1].fs_path.join("etc/a").exists(),
        "layer 2 snapshot contains layer 1 files"
    );
    // Idempotent: a second call reuses the published snapshots.
    assert_eq!(
        s.ensure_unpacked(&r.manifest_digest, &UnpackOptions::default())
            .unwrap(),
        snaps
    );
    assert!(s.check().unwrap().is_empty());
    // A snapshot whose metadata was damaged is reported by check.
    let diffid = snaps[1].fs_path.with_file_name("diffid");
    std::fs::write(&diffid, "junk").unwrap();
    let problems = s.check().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].subject.contains(snaps[1].chain_id.hex()));
    std::fs::write(&diffid, r.diff_ids[1].to_string()).unwrap();
    assert!(s.gc().unwrap().snapshots_removed.is_empty());
    s.remove_image(&r.manifest_digest).unwrap();
    let report = s.gc().unwrap();
    assert_eq!(report.snapshots_removed.len(), 2);
    assert!(s.list_snapshots().unwrap().is_empty());
}

#[test]
fn corrupt_layer_leaves_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let l1 = tar_layer(&[("a", Some(b"1"))]);
    let wrong_diff = Digest::sha256_of(b"not the tar");
    let d = s.put_bytes(&l1).unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "rootfs": {"type": "layers", "diff_ids": [wrong_diff.to_string()]}
    }))
    .unwrap();
    let cd = s.put_bytes(&config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"digest": cd.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": l1.len()}]
    }))
    .unwrap();
    let r = s
        .add_image(&manifest, &MediaType::new(common::MANIFEST))
        .unwrap();
    let err = s
        .ensure_unpacked(&r.manifest_digest, &UnpackOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), strata_store::ErrorKind::Layer, "{err}");
    assert!(s.list_snapshots().unwrap().is_empty());
    let leftovers = std::fs::read_dir(s.layout_dir().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "temporary unpack directory left behind");
}
