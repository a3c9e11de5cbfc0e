//! `strata build`: a COPY from the context that reruns after a few files changed hard-links
//! the unchanged files from its previous snapshot instead of copying them, and the layer it
//! produces (kept as that snapshot, regenerated on read) is exactly what a full copy gives.

mod build_common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use build_common::*;

const DF: &str = "FROM busybox\nCOPY . /app/\n";

/// Every snapshot of the store holding `app/<rel>`, with that file's inode.
fn copies_of(e: &Env, rel: &str) -> Vec<(PathBuf, u64)> {
    let snaps = e.tmp.store().join("store-v1/snapshots");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(snaps).unwrap().flatten() {
        let f = entry.path().join("fs/app").join(rel);
        if let Ok(m) = std::fs::symlink_metadata(&f) {
            out.push((f, m.ino()));
        }
    }
    out
}

fn layer_file(layer: &[u8], rel: &str) -> Option<(Vec<u8>, u32)> {
    let mut a = tar::Archive::new(layer);
    for entry in a.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap() == Path::new("app").join(rel) {
            let mode = entry.header().mode().unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            return Some((data, mode));
        }
    }
    None
}

#[test]
fn unchanged_files_are_linked_from_the_previous_snapshot() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        ("Dockerfile", DF),
        ("same.txt", "unchanged"),
        ("edit.txt", "before"),
        ("sub/mode.sh", "#!/bin/sh\n"),
    ]);
    set_mode(&ctx.join("sub/mode.sh"), 0o755);
    e.build_ok(&ctx, &["-t", "reuse:1"]);

    write(&ctx, "edit.txt", "after, and longer");
    set_mode(&ctx.join("sub/mode.sh"), 0o700);
    let b = e.build_ok(&ctx, &["-t", "reuse:2"]);
    assert_eq!(b.step("COPY . /app/"), Step::Ran);

    let same = copies_of(&e, "same.txt");
    assert_eq!(same.len(), 2, "{same:?}");
    assert_eq!(same[0].1, same[1].1, "an unchanged file shares its inode");
    for changed in ["edit.txt", "sub/mode.sh"] {
        let c = copies_of(&e, changed);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_ne!(c[0].1, c[1].1, "{changed} changed and was copied");
    }

    // The new layer holds the new content and modes, the old one is untouched.
    let new = layers(&e, "reuse:2").pop().unwrap();
    assert_eq!(
        layer_file(&new, "edit.txt").unwrap().0,
        b"after, and longer"
    );
    assert_eq!(layer_file(&new, "sub/mode.sh").unwrap().1, 0o700);
    assert_eq!(layer_file(&new, "same.txt").unwrap().0, b"unchanged");
    let old = layers(&e, "reuse:1").pop().unwrap();
    assert_eq!(layer_file(&old, "edit.txt").unwrap().0, b"before");
    assert_eq!(layer_file(&old, "sub/mode.sh").unwrap().1, 0o755);

    let check = e.strata(&["system", "check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn a_reused_build_gives_the_same_image_as_a_fresh_store() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[("Dockerfile", DF), ("a.txt", "1"), ("d/b.txt", "2")]);
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    e.build_env(&ctx, &[], &env);
    write(&ctx, "a.txt", "one");
    let here = e.build_env(&ctx, &[], &env);
    assert!(here.ok, "{}", here.stderr);
    // The same context built by a store that never saw the first version.
    let other = e.other_store();
    let there = build_in(&other, &e.path("iid"), &ctx, &[], &env);
    assert!(there.ok, "{}", there.stderr);
    assert_eq!(here.id, there.id);
}

#[test]
fn a_snapshot_edited_behind_the_stores_back_is_reported_not_served() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[("Dockerfile", DF), ("keep.txt", "keep")]);
    e.build_ok(&ctx, &["-t", "t:1"]);
    // Same size and mtime: only the content differs from what the layer digest covers.
    let (old, _) = copies_of(&e, "keep.txt").pop().unwrap();
    let mtime = std::fs::metadata(&old).unwrap().modified().unwrap();
    std::fs::write(&old, "KEEP").unwrap();
    let f = std::fs::File::options().write(true).open(&old).unwrap();
    f.set_modified(mtime).unwrap();

    let check = e.strata(&["system", "check"]);
    assert!(!check.status.success());
    let report = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(report.contains("derived from a snapshot"), "{report}");
    let out = e.path("save").with_extension("tar");
    let save = e.strata(&["save", "-o", out.to_str().unwrap(), "t:1"]);
    assert!(
        !save.status.success(),
        "a layer that no longer matches its digest is not saved"
    );
    assert!(!out.exists(), "nothing half-written");
}
