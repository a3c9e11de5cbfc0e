//! Hostile layers: every one must be refused with an error naming the entry, and nothing
//! outside the unpack root may change.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::{Raw, RawTar, Scratch};
use strata_layer::{apply_layer, ApplyOptions, DevicePolicy, ErrorKind, SymlinkPolicy};

fn refused(s: &Scratch, tar: &[u8], kind: ErrorKind, names: &str) {
    let err = s.apply(tar).expect_err("hostile layer was applied");
    assert_eq!(err.kind(), kind, "wrong kind: {err}");
    assert!(
        err.to_string().contains(names),
        "error {err:?} does not name {names:?}"
    );
    s.assert_outside_untouched();
}

#[test]
fn dot_dot_escape() {
    let s = Scratch::new();
    let tar = RawTar::new().add(b"../escape", Raw::File(b"x")).finish();
    refused(&s, &tar, ErrorKind::PathEscape, "../escape");
}

#[test]
fn nested_dot_dot_escape() {
    let s = Scratch::new();
    let tar = RawTar::new()
        .add(b"a/../../escape", Raw::File(b"x"))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "a/../../escape");
    let tar = RawTar::new().add(b"/../secret", Raw::File(b"x")).finish();
    refused(&s, &tar, ErrorKind::PathEscape, "/../secret");
}

#[test]
fn symlink_to_slash_then_write_through_it() {
    let s = Scratch::new();
    let tar = RawTar::new()
        .add(b"evil", Raw::Symlink(b"/"))
        .add(b"evil/etc/passwd", Raw::File(b"root::0:0::/:/bin/sh\n"))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "evil/etc/passwd");
}

#[test]
fn symlink_up_then_write_through_it() {
    let s = Scratch::new();
    let tar = RawTar::new()
        .add(b"evil", Raw::Symlink(b"../.."))
        .add(b"evil/pwned", Raw::File(b"x"))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "evil/pwned");
    // Absolute symlink straight at the directory next to the root.
    let outer = s.outer.as_os_str().as_encoded_bytes().to_vec();
    let tar = RawTar::new()
        .add(b"evil2", Raw::Symlink(&outer))
        .add(b"evil2/pwned", Raw::Dir)
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "evil2/pwned");
}

#[test]
fn symlink_planted_by_an_earlier_layer() {
    let s = Scratch::new();
    let outer = s.outer.as_os_str().as_encoded_bytes().to_vec();
    s.apply(
        &RawTar::new()
            .add(b"usr", Raw::Dir)
            .add(b"usr/link", Raw::Symlink(&outer))
            .finish(),
    )
    .unwrap();
    let next = RawTar::new()
        .add(b"usr/link/pwned", Raw::File(b"x"))
        .finish();
    refused(&s, &next, ErrorKind::PathEscape, "usr/link/pwned");
    // Replacing the symlink itself with a file must not write through it either.
    let next = RawTar::new()
        .add(b"usr/link", Raw::File(b"replaced"))
        .finish();
    s.apply(&next).unwrap();
    assert_eq!(fs::read(s.root.join("usr/link")).unwrap(), b"replaced");
    s.assert_outside_untouched();
}

#[test]
fn follow_in_root_keeps_symlinked_writes_inside() {
    let s = Scratch::new();
    let opts = ApplyOptions {
        symlinks: SymlinkPolicy::FollowInRoot,
        ..Default::default()
    };
    let tar = RawTar::new()
        .add(b"evil", Raw::Symlink(b"/"))
        .add(b"up", Raw::Symlink(b"../../.."))
        .add(b"evil/etc/passwd", Raw::File(b"inside"))
        .add(b"up/secret", Raw::File(b"inside too"))
        .finish();
    s.apply_with(&tar, &opts).unwrap();
    assert_eq!(fs::read(s.root.join("etc/passwd")).unwrap(), b"inside");
    assert_eq!(fs::read(s.root.join("secret")).unwrap(), b"inside too");
    s.assert_outside_untouched();
}

#[test]
fn hard_link_out_of_the_root() {
    let s = Scratch::new();
    let tar = RawTar::new()
        .add(b"passwd", Raw::Link(b"../../etc/passwd"))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "passwd");
    let tar = RawTar::new()
        .add(b"secret-link", Raw::Link(b"../secret"))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "secret-link");
    assert_eq!(fs::metadata(s.outer.join("secret")).unwrap().nlink(), 1);
}

#[test]
fn hard_link_through_a_symlink() {
    let s = Scratch::new();
    let outer = s.outer.as_os_str().as_encoded_bytes().to_vec();
    let tar = RawTar::new()
        .add(b"s", Raw::Symlink(&outer))
        .add(b"hl", Raw::Link(b"s/secret"))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "hl");
    assert_eq!(fs::metadata(s.outer.join("secret")).unwrap().nlink(), 1);
    // The same in FollowInRoot mode resolves inside the root, where there is no secret.
    let opts = ApplyOptions {
        symlinks: SymlinkPolicy::FollowInRoot,
        ..Default::default()
    };
    let tar = RawTar::new().add(b"hl", Raw::Link(b"s/secret")).finish();
    assert!(s.apply_with(&tar, &opts).is_err());
    assert_eq!(fs::metadata(s.outer.join("secret")).unwrap().nlink(), 1);
    s.assert_outside_untouched();
}

#[test]
fn hard_link_then_overwrite_does_not_write_through() {
    let s = Scratch::new();
    let tar = RawTar::new()
        .add(b"orig", Raw::File(b"original"))
        .add(b"alias", Raw::Link(b"orig"))
        .add(b"alias", Raw::File(b"new"))
        .finish();
    s.apply(&tar).unwrap();
    assert_eq!(fs::read(s.root.join("orig")).unwrap(), b"original");
    assert_eq!(fs::read(s.root.join("alias")).unwrap(), b"new");
}

#[test]
fn whiteout_naming_dot_dot() {
    let s = Scratch::new();
    refused(
        &s,
        &RawTar::new().add(b".wh...", Raw::File(b"")).finish(),
        ErrorKind::PathEscape,
        ".wh...",
    );
    let tar = RawTar::new()
        .add(b"sub", Raw::Dir)
        .add(b"sub/.wh...", Raw::File(b""))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "sub/.wh...");
    assert!(s.outer.join("root").exists());
}

#[test]
fn whiteout_through_a_symlink_is_refused() {
    let s = Scratch::new();
    let outer = s.outer.as_os_str().as_encoded_bytes().to_vec();
    s.apply(&RawTar::new().add(b"link", Raw::Symlink(&outer)).finish())
        .unwrap();
    let tar = RawTar::new()
        .add(b"link/.wh.secret", Raw::File(b""))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "link/.wh.secret");
    let tar = RawTar::new()
        .add(b"link/.wh..wh..opq", Raw::File(b""))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "link/.wh..wh..opq");
}

#[test]
fn devices_when_not_permitted() {
    let s = Scratch::new();
    let tar = RawTar::new()
        .add(b"dev/sda", Raw::Block(8, 0))
        .add(b"dev/null", Raw::Char(1, 3))
        .finish();
    let refuse = ApplyOptions {
        devices: DevicePolicy::Refuse,
        ..Default::default()
    };
    let err = s.apply_with(&tar, &refuse).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotPermitted);
    assert!(err.to_string().contains("dev/sda"), "{err}");
    assert!(fs::symlink_metadata(s.root.join("dev/sda")).is_err());

    let skip = ApplyOptions {
        devices: DevicePolicy::Skip,
        ..Default::default()
    };
    let stats = s.apply_with(&tar, &skip).unwrap();
    assert_eq!((stats.skipped, stats.devices), (2, 0));
    assert!(fs::symlink_metadata(s.root.join("dev/null")).is_err());
    s.assert_outside_untouched();
}

#[test]
fn absurdly_long_names() {
    let s = Scratch::new();
    let long_component = vec![b'n'; 300];
    refused(
        &s,
        &RawTar::new().add(&long_component, Raw::File(b"x")).finish(),
        ErrorKind::InvalidTar,
        "nnnn",
    );
    let deep = b"abcdefghij/".repeat(1000);
    refused(
        &s,
        &RawTar::new().add(&deep, Raw::Dir).finish(),
        ErrorKind::InvalidTar,
        "abcdefghij/abc",
    );
    // A 4 MiB name: refused with a bounded message.
    let huge = b"x/".repeat(2 << 20);
    let err = s
        .apply(&RawTar::new().add(&huge, Raw::File(b"")).finish())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTar);
    assert!(err.to_string().len() < 1000);
    assert_eq!(common::listing(&s.root), Vec::<String>::new());
}

#[test]
fn oversized_pax_header_is_refused() {
    let s = Scratch::new();
    let big = vec![b'v'; 17 << 20];
    let tar = RawTar::new()
        .add_with_pax(b"f", Raw::File(b""), &[("comment", &big)])
        .finish();
    let err = s.apply(&tar).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTar, "{err}");
}

#[test]
fn overlay_xattrs_in_a_layer_are_refused() {
    let s = Scratch::new();
    let tar = RawTar::new()
        .add_with_pax(
            b"d",
            Raw::Dir,
            &[("SCHILY.xattr.trusted.overlay.redirect", b"/etc")],
        )
        .finish();
    refused(&s, &tar, ErrorKind::InvalidTar, "d");
}

#[test]
fn corrupt_and_truncated_archives() {
    let s = Scratch::new();
    let mut tar = RawTar::new().add(b"f", Raw::File(&[7u8; 2000])).finish();
    let truncated = &tar[..1200];
    assert_eq!(
        s.apply(truncated).unwrap_err().kind(),
        ErrorKind::InvalidTar
    );
    tar[10] ^= 0xff; // breaks the header checksum
    assert_eq!(s.apply(&tar).unwrap_err().kind(), ErrorKind::InvalidTar);
    s.assert_outside_untouched();
}

#[test]
fn absolute_paths_are_rooted() {
    let s = Scratch::new();
    let tar = RawTar::new()
        .add(b"/etc/x", Raw::File(b"ok"))
        .add(b"./etc/y/", Raw::Dir)
        .finish();
    apply_layer(&tar[..], &s.root, &ApplyOptions::default()).unwrap();
    assert_eq!(fs::read(s.root.join("etc/x")).unwrap(), b"ok");
    assert!(s.root.join("etc/y").is_dir());
    s.assert_outside_untouched();
}

/// Runs as an unprivileged child of `devices_fail_clearly_when_unprivileged`: a device
/// entry must give NotPermitted naming the entry, not a bare EPERM.
#[test]
fn unprivileged_child() {
    let Ok(root) = std::env::var("STRATA_LAYER_UNPRIV_ROOT") else {
        return; // Only meaningful when spawned by the test below.
    };
    let tar = RawTar::new().add(b"dev/kmsg", Raw::Char(1, 11)).finish();
    let err = apply_layer(&tar[..], root.as_ref(), &ApplyOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotPermitted, "{err}");
    assert!(err.to_string().contains("dev/kmsg"), "{err}");
    let skip = ApplyOptions {
        devices: DevicePolicy::Skip,
        ..Default::default()
    };
    assert_eq!(
        apply_layer(&tar[..], root.as_ref(), &skip).unwrap().skipped,
        1
    );
}

#[test]
fn devices_fail_clearly_when_unprivileged() {
    use std::os::unix::process::CommandExt;
    if !common::have_root("devices_fail_clearly_when_unprivileged") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    rustix::fs::chown(
        dir.path(),
        Some(rustix::fs::Uid::from_raw(65534)),
        Some(rustix::fs::Gid::from_raw(65534)),
    )
    .unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "unprivileged_child", "--test-threads=1"])
        .env("STRATA_LAYER_UNPRIV_ROOT", dir.path())
        .uid(65534)
        .gid(65534)
        .status()
        .unwrap();
    assert!(status.success(), "unprivileged child failed");
    assert!(std::fs::symlink_metadata(dir.path().join("dev/kmsg")).is_err());
}

#[test]
fn directory_replaced_by_a_symlink_mid_layer() {
    let s = Scratch::new();
    let outer = s.outer.as_os_str().as_encoded_bytes().to_vec();
    let tar = RawTar::new()
        .add(b"d/f1", Raw::File(b"1"))
        .add(b"d", Raw::Symlink(&outer))
        .add(b"d/pwned", Raw::File(b"x"))
        .finish();
    refused(&s, &tar, ErrorKind::PathEscape, "d/pwned");
}
