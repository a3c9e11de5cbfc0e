//! Interoperability with other tar implementations: GNU tar reads what strata writes, and
//! strata applies what GNU tar and the `tar` crate write (GNU long names, POSIX xattrs).

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use strata_layer::{apply_layer, write_tree, ApplyOptions, WriteOptions};

fn gnu_tar() -> bool {
    let ok = Command::new("tar")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("STRATA_CI").as_deref() != Ok("1"),
            "GNU tar missing and STRATA_CI=1"
        );
        eprintln!("skipping: GNU tar not installed");
    }
    ok
}

fn tree_with_long_names(dir: &std::path::Path) -> String {
    let long = format!("{}/{}", "a".repeat(90), "b".repeat(90));
    fs::create_dir_all(dir.join(&long)).unwrap();
    fs::write(dir.join(&long).join("file.txt"), b"deep").unwrap();
    fs::write(dir.join("top"), b"top").unwrap();
    fs::hard_link(dir.join("top"), dir.join("top-link")).unwrap();
    std::os::unix::fs::symlink("x/".repeat(60), dir.join("sym")).unwrap();
    xattr::set(dir.join("top"), "user.note", b"line1\nline2").unwrap();
    long
}

#[test]
fn gnu_tar_lists_and_extracts_our_layers() {
    if !gnu_tar() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let long = tree_with_long_names(src.path());
    let mut tar = Vec::new();
    write_tree(src.path(), &mut tar, &WriteOptions::default()).unwrap();

    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=user.*", "-xf", "-", "-C"])
        .arg(out.path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&tar).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "GNU tar rejected the layer"
    );
    assert_eq!(
        fs::read(out.path().join(&long).join("file.txt")).unwrap(),
        b"deep"
    );
    let (a, b) = (
        fs::metadata(out.path().join("top")).unwrap(),
        fs::metadata(out.path().join("top-link")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
    assert_eq!(
        fs::read_link(out.path().join("sym"))
            .unwrap()
            .to_str()
            .unwrap(),
        "x/".repeat(60)
    );
    assert_eq!(
        xattr::get(out.path().join("top"), "user.note")
            .unwrap()
            .unwrap(),
        b"line1\nline2"
    );
}

#[test]
fn we_apply_gnu_tar_archives() {
    if !gnu_tar() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let long = tree_with_long_names(src.path());
    for format in ["gnu", "posix", "ustar"] {
        let mut args = vec!["-c", "-f", "-", "--format", format, "-C"];
        if format == "posix" {
            args.insert(0, "--xattrs");
        }
        if format == "ustar" {
            // ustar holds neither the long names nor the 120-byte symlink target: GNU tar
            // refuses them, so archive only the short entries.
            let out = Command::new("tar")
                .args(&args)
                .arg(src.path())
                .args(["top", "top-link"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dst = tempfile::tempdir().unwrap();
            apply_layer(&out.stdout[..], dst.path(), &ApplyOptions::default()).unwrap();
            assert_eq!(fs::read(dst.path().join("top-link")).unwrap(), b"top");
            continue;
        }
        let out = Command::new("tar")
            .args(&args)
            .arg(src.path())
            .arg(".")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dst = tempfile::tempdir().unwrap();
        let stats = apply_layer(&out.stdout[..], dst.path(), &ApplyOptions::default()).unwrap();
        assert_eq!(stats.hardlinks, 1, "{format}");
        assert_eq!(
            fs::read(dst.path().join(&long).join("file.txt")).unwrap(),
            b"deep",
            "{format}"
        );
        let (a, b) = (
            fs::metadata(dst.path().join("top")).unwrap(),
            fs::metadata(dst.path().join("top-link")).unwrap(),
        );
        assert_eq!(a.ino(), b.ino(), "{format}");
        if format == "posix" {
            assert_eq!(
                xattr::get(dst.path().join("top"), "user.note")
                    .unwrap()
                    .unwrap(),
                b"line1\nline2"
            );
        }
        assert_eq!(
            common::listing(dst.path()),
            common::listing(src.path()),
            "{format}"
        );
    }
}

#[test]
fn we_apply_tar_crate_archives() {
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("{}/{}", "c".repeat(120), "d".repeat(120));
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o600);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, &long, &b"hello"[..]).unwrap();
    let bytes = b.into_inner().unwrap();
    let dst = tempfile::tempdir().unwrap();
    apply_layer(&bytes[..], dst.path(), &ApplyOptions::default()).unwrap();
    let m = fs::metadata(dst.path().join(&long)).unwrap();
    assert_eq!((m.len(), m.mode() & 0o777), (5, 0o600));
}
