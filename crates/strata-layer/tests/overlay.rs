//! Overlayfs upper dir → OCI diff, and OCI layers unpacked as overlay lower dirs. These
//! need root (mknod of whiteouts, trusted.* xattrs, mount).

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use common::{listing, Raw, RawTar};
use strata_layer::{
    apply_layer, write_overlay_diff, write_tree, ApplyOptions, TarKind, TarReader, WhiteoutMode,
    WriteOptions,
};

fn mount_overlay(lower: &str, upper_work: Option<(&Path, &Path)>, merged: &Path) {
    let mut opts = format!("lowerdir={lower},redirect_dir=off,metacopy=off,index=off");
    if let Some((u, w)) = upper_work {
        opts += &format!(",upperdir={},workdir={}", u.display(), w.display());
    }
    let st = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opts])
        .arg(merged)
        .status()
        .unwrap();
    assert!(st.success(), "mount -t overlay failed with {opts}");
}

/// Unmount, retrying while something briefly holds the mount busy; a lazy unmount as the
/// last resort so a failing test never leaves a mount behind.
fn umount(p: &Path) {
    for _ in 0..20 {
        if Command::new("umount").arg(p).status().unwrap().success() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let lazy = Command::new("umount").arg("-l").arg(p).status().unwrap();
    panic!(
        "{} stayed busy; lazy unmount {}",
        p.display(),
        if lazy.success() { "done" } else { "failed" }
    );
}

fn names_and_xattrs(tar: &[u8]) -> Vec<(String, TarKind, Vec<String>)> {
    let mut r = TarReader::new(tar);
    let mut out = Vec::new();
    while let Some(h) = r.next_header().unwrap() {
        out.push((
            String::from_utf8(h.path).unwrap(),
            h.kind,
            h.xattrs.keys().cloned().collect(),
        ));
    }
    out
}

#[test]
fn upper_dir_of_a_real_overlay_becomes_an_oci_diff() {
    if !common::have_root("upper_dir_of_a_real_overlay_becomes_an_oci_diff") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let [lower, upper, work, merged] = ["lower", "upper", "work", "merged"].map(|n| {
        let p = t.path().join(n);
        fs::create_dir(&p).unwrap();
        p
    });
    fs::write(lower.join("keep"), b"v1").unwrap();
    fs::write(lower.join("gone"), b"x").unwrap();
    fs::create_dir_all(lower.join("dir/sub")).unwrap();
    fs::write(lower.join("dir/a"), b"a").unwrap();
    fs::write(lower.join("dir/sub/b"), b"b").unwrap();
    fs::create_dir(lower.join("other")).unwrap();
    fs::write(lower.join("other/x"), b"x").unwrap();

    mount_overlay(lower.to_str().unwrap(), Some((&upper, &work)), &merged);
    let changed = (|| -> std::io::Result<()> {
        fs::remove_file(merged.join("gone"))?;
        fs::remove_dir_all(merged.join("dir"))?;
        fs::create_dir(merged.join("dir"))?;
        fs::write(merged.join("dir/new"), b"n")?;
        fs::write(merged.join("keep"), b"v2")?;
        fs::remove_file(merged.join("other/x"))?;
        fs::write(merged.join("added"), b"+")
    })();
    let expected = listing(&merged);
    umount(&merged);
    changed.unwrap();

    let mut diff = Vec::new();
    let stats = write_overlay_diff(&upper, &mut diff, &WriteOptions::default()).unwrap();
    assert_eq!((stats.whiteouts, stats.opaques), (2, 1));
    let entries = names_and_xattrs(&diff);
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        vec![
            ".wh.gone",
            "added",
            "dir/",
            "dir/.wh..wh..opq",
            "dir/new",
            "keep",
            "other/",
            "other/.wh.x"
        ]
    );
    for (name, _, xattrs) in &entries {
        assert!(
            xattrs.iter().all(|k| !k.contains("overlay")),
            "{name} carries {xattrs:?}"
        );
    }

    // Lower layer + diff, applied, give what the overlay showed.
    let mut base = Vec::new();
    write_tree(&lower, &mut base, &WriteOptions::default()).unwrap();
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    apply_layer(&base[..], &root, &ApplyOptions::default()).unwrap();
    apply_layer(&diff[..], &root, &ApplyOptions::default()).unwrap();
    assert_eq!(listing(&root), expected);
    assert_eq!(fs::read(root.join("keep")).unwrap(), b"v2");
}

#[test]
fn synthetic_whiteouts_and_opaque_xattrs() {
    if !common::have_root("synthetic_whiteouts_and_opaque_xattrs") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let up = t.path();
    fs::create_dir(up.join("opq")).unwrap();
    xattr::set(up.join("opq"), "trusted.overlay.opaque", b"y").unwrap();
    fs::create_dir(up.join("uopq")).unwrap();
    fs::write(up.join("uopq/-sorts-before-the-marker"), b"").unwrap();
    xattr::set(up.join("uopq"), "user.overlay.opaque", b"y").unwrap();
    xattr::set(up.join("uopq"), "user.kept", b"1").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        up.join("wh"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    )
    .unwrap();
    fs::write(up.join("xwh"), b"").unwrap();
    xattr::set(up.join("xwh"), "user.overlay.whiteout", b"").unwrap();
    let mut diff = Vec::new();
    write_overlay_diff(up, &mut diff, &WriteOptions::default()).unwrap();
    let entries = names_and_xattrs(&diff);
    // Siblings sorted by their names in the layer: whiteouts as `.wh.<name>`.
    let got: Vec<(&str, Vec<String>)> = entries
        .iter()
        .map(|e| (e.0.as_str(), e.2.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (".wh.wh", vec![]),
            (".wh.xwh", vec![]),
            ("opq/", vec![]),
            ("opq/.wh..wh..opq", vec![]),
            ("uopq/", vec!["user.kept".to_owned()]),
            ("uopq/-sorts-before-the-marker", vec![]),
            ("uopq/.wh..wh..opq", vec![]),
        ]
    );

    // redirect_dir metadata cannot be represented: refused, not dropped.
    xattr::set(up.join("opq"), "trusted.overlay.redirect", b"/elsewhere").unwrap();
    let err = write_overlay_diff(up, &mut Vec::new(), &WriteOptions::default()).unwrap_err();
    assert_eq!(err.kind(), strata_layer::ErrorKind::Unsupported);
}

#[test]
fn layers_unpacked_in_overlay_mode_stack_as_lower_dirs() {
    if !common::have_root("layers_unpacked_in_overlay_mode_stack_as_lower_dirs") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let [l1, l2, merged] = ["l1", "l2", "merged"].map(|n| {
        let p = t.path().join(n);
        fs::create_dir(&p).unwrap();
        p
    });
    let base = RawTar::new()
        .add(b"etc/a", Raw::File(b"a"))
        .add(b"etc/b", Raw::File(b"b"))
        .add(b"var/old/1", Raw::File(b"1"))
        .finish();
    let top = RawTar::new()
        .add(b"etc/.wh.a", Raw::File(b""))
        .add(b"var/old", Raw::Dir)
        .add(b"var/old/.wh..wh..opq", Raw::File(b""))
        .add(b"var/old/2", Raw::File(b"2"))
        .finish();
    let overlay = ApplyOptions {
        whiteouts: WhiteoutMode::Overlay { user_xattr: false },
        ..Default::default()
    };
    apply_layer(&base[..], &l1, &overlay).unwrap();
    apply_layer(&top[..], &l2, &overlay).unwrap();
    let wh = fs::symlink_metadata(l2.join("etc/a")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert_eq!(
        xattr::get(l2.join("var/old"), "trusted.overlay.opaque")
            .unwrap()
            .unwrap(),
        b"y"
    );

    mount_overlay(&format!("{}:{}", l2.display(), l1.display()), None, &merged);
    let seen = listing(&merged);
    umount(&merged);
    assert_eq!(seen, vec!["etc", "etc/b", "var", "var/old", "var/old/2"]);
}
