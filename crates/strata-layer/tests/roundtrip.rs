//! Writer → applier round trips, determinism, clamping and the whiteout semantics of apply.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{listing, Raw, RawTar, Scratch};
use strata_layer::{
    apply_layer, write_entries, write_tree, ApplyOptions, CompressOptions, Compression, Entry,
    EntryKind, ErrorKind, FileData, LayerWriter, TarReader, WriteOptions,
};

fn set_mtime(p: &Path, secs: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let ts = rustix::fs::Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &ts,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A tree with every kind a rootless test can make, with fixed mtimes.
fn sample_tree(dir: &Path) {
    fs::create_dir_all(dir.join("usr/bin")).unwrap();
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(dir.join("etc/hostname"), b"strata\n").unwrap();
    fs::write(dir.join("usr/bin/tool"), vec![0x5a; 300_000]).unwrap();
    fs::set_permissions(dir.join("usr/bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::hard_link(dir.join("usr/bin/tool"), dir.join("usr/bin/tool-alias")).unwrap();
    std::os::unix::fs::symlink("usr/bin", dir.join("bin")).unwrap();
    std::os::unix::fs::symlink("/".to_owned() + &"long/".repeat(40), dir.join("far")).unwrap();
    let deep = dir.join("d".repeat(60)).join("e".repeat(60));
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("f".repeat(60)), b"long path").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    xattr::set(dir.join("etc/hostname"), "user.strata.test", b"bin\n\0ary").unwrap();
    for p in listing(dir) {
        set_mtime(&dir.join(p), 1_600_000_000);
    }
}

fn layer(dir: &Path, c: Compression, opts: &WriteOptions) -> (Vec<u8>, strata_layer::LayerDigests) {
    let mut w = LayerWriter::new(Vec::new(), &CompressOptions::new(c)).unwrap();
    write_tree(dir, &mut w, opts).unwrap();
    w.finish().unwrap()
}

fn headers(tar: &[u8]) -> Vec<strata_layer::TarHeader> {
    let mut r = TarReader::new(tar);
    let mut out = Vec::new();
    while let Some(h) = r.next_header().unwrap() {
        out.push(h);
    }
    out
}

#[test]
fn deterministic_across_runs_and_thread_counts() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let (a, da) = layer(src.path(), c, &WriteOptions::default());
        let (b, db) = layer(src.path(), c, &WriteOptions::default());
        assert_eq!(a, b, "{c:?} output differs between runs");
        assert_eq!(da, db);
        let mut w = LayerWriter::new(
            Vec::new(),
            &CompressOptions {
                compression: c,
                level: None,
                threads: 1,
            },
        )
        .unwrap();
        write_tree(src.path(), &mut w, &WriteOptions::default()).unwrap();
        let (_, one_thread) = w.finish().unwrap();
        assert_eq!(
            one_thread.digest, da.digest,
            "{c:?} digest depends on thread count"
        );
    }
}

#[test]
fn entries_are_ordered_and_stamped_from_the_filesystem() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let (tar, d) = layer(src.path(), Compression::None, &WriteOptions::default());
    assert_eq!(d.diff_id, d.digest);
    let hs = headers(&tar);
    let names: Vec<String> = hs
        .iter()
        .map(|h| String::from_utf8_lossy(&h.path).into_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| {
        strata_layer::entry::path_order(
            a.trim_end_matches('/').as_bytes(),
            b.trim_end_matches('/').as_bytes(),
        )
    });
    assert_eq!(names, sorted);
    assert_eq!(names[0], "bin");
    let tool = hs.iter().find(|h| h.path == b"usr/bin/tool").unwrap();
    assert_eq!(
        (tool.mode, tool.size, tool.mtime),
        (0o4755, 300_000, 1_600_000_000)
    );
    let alias = hs.iter().find(|h| h.path == b"usr/bin/tool-alias").unwrap();
    assert_eq!(
        (alias.kind, alias.link.as_slice()),
        (strata_layer::TarKind::HardLink, &b"usr/bin/tool"[..])
    );
    let host = hs.iter().find(|h| h.path == b"etc/hostname").unwrap();
    assert_eq!(host.xattrs["user.strata.test"], b"bin\n\0ary");
    assert!(hs.iter().any(|h| h.path.len() > 100), "long path missing");
    // No uname/gname, no atime/ctime: the raw header bytes for user names are empty.
    assert!(tar[265..329].iter().all(|&b| b == 0));
}

#[test]
fn source_date_epoch_clamps_only_newer_mtimes() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("old"), b"o").unwrap();
    fs::write(src.path().join("new"), b"n").unwrap();
    set_mtime(&src.path().join("old"), 500);
    set_mtime(&src.path().join("new"), 2_000_000_000);
    let opts = WriteOptions {
        source_date_epoch: Some(1000),
        owner: Some((7, 8)),
        ..Default::default()
    };
    let (tar, _) = layer(src.path(), Compression::None, &opts);
    let hs = headers(&tar);
    let get = |n: &[u8]| hs.iter().find(|h| h.path == n).unwrap().clone();
    assert_eq!(get(b"old").mtime, 500);
    assert_eq!(get(b"new").mtime, 1000);
    assert_eq!((get(b"new").uid, get(b"new").gid), (7, 8));

    let forced = WriteOptions {
        mtime: Some(42),
        ..Default::default()
    };
    let (tar, _) = layer(src.path(), Compression::None, &forced);
    assert!(headers(&tar).iter().all(|h| h.mtime == 42));
}

#[test]
fn round_trip_reproduces_the_tree_byte_for_byte() {
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    for c in [Compression::Gzip, Compression::Zstd] {
        let (blob, d) = layer(src.path(), c, &WriteOptions::default());
        let dst = tempfile::tempdir().unwrap();
        let opts = ApplyOptions {
            expected_diff_id: Some(d.diff_id.clone()),
            ..Default::default()
        };
        let stats = apply_layer(&blob[..], dst.path(), &opts).unwrap();
        assert_eq!(
            (stats.diff_id.clone(), stats.tar_size),
            (d.diff_id.clone(), d.diff_size)
        );
        assert_eq!((stats.hardlinks, stats.symlinks, stats.devices), (1, 2, 1));
        let tool = fs::metadata(dst.path().join("usr/bin/tool")).unwrap();
        let alias = fs::metadata(dst.path().join("usr/bin/tool-alias")).unwrap();
        assert_eq!(tool.ino(), alias.ino());
        assert_eq!(tool.mode() & 0o7777, 0o4755);
        assert_eq!(
            fs::read_link(dst.path().join("bin")).unwrap(),
            Path::new("usr/bin")
        );
        assert_eq!(
            xattr::get(dst.path().join("etc/hostname"), "user.strata.test")
                .unwrap()
                .unwrap(),
            b"bin\n\0ary"
        );
        assert_eq!(
            fs::metadata(dst.path().join("usr")).unwrap().mtime(),
            1_600_000_000
        );
        // Writing the unpacked tree again gives the very same tar.
        let (_, again) = layer(dst.path(), c, &WriteOptions::default());
        assert_eq!(
            again.diff_id, d.diff_id,
            "{c:?}: tree changed in the round trip"
        );
    }
}

#[test]
fn wrong_diff_id_is_reported() {
    let tar = RawTar::new().add(b"f", Raw::File(b"x")).finish();
    let s = Scratch::new();
    let opts = ApplyOptions {
        expected_diff_id: Some(strata_oci::Digest::sha256_of(b"something else")),
        ..Default::default()
    };
    assert_eq!(
        s.apply_with(&tar, &opts).unwrap_err().kind(),
        ErrorKind::DigestMismatch
    );
}

#[test]
fn whiteouts_remove_lower_content_only() {
    let s = Scratch::new();
    let lower = RawTar::new()
        .add(b"a/x", Raw::File(b"1"))
        .add(b"a/y", Raw::File(b"2"))
        .add(b"b/z", Raw::File(b"3"))
        .finish();
    s.apply(&lower).unwrap();
    let upper = RawTar::new()
        .add(b"a/.wh.x", Raw::File(b""))
        .add(b".wh.b", Raw::File(b""))
        .add(b"c", Raw::File(b"mine"))
        .add(b".wh.c", Raw::File(b"")) // names this layer's own entry: no effect
        .add(b".wh.missing", Raw::File(b""))
        .finish();
    let stats = s.apply(&upper).unwrap();
    assert_eq!(stats.whiteouts, 4);
    assert_eq!(listing(&s.root), vec!["a", "a/y", "c"]);
}

#[test]
fn opaque_directories_keep_this_layers_entries() {
    let s = Scratch::new();
    let lower = RawTar::new()
        .add(b"d/old", Raw::File(b"1"))
        .add(b"d/sub/old2", Raw::File(b"2"))
        .add(b"d/keep/old3", Raw::File(b"3"))
        .add(b"e/untouched", Raw::File(b"4"))
        .finish();
    s.apply(&lower).unwrap();
    // The marker comes after some of this layer's entries: they must survive.
    let upper = RawTar::new()
        .add(b"d", Raw::Dir)
        .add(b"d/-first", Raw::File(b"new"))
        .add(b"d/keep/new3", Raw::File(b"new"))
        .add(b"d/.wh..wh..opq", Raw::File(b""))
        .add(b"d/new", Raw::File(b"new"))
        .finish();
    let stats = s.apply(&upper).unwrap();
    assert_eq!(stats.opaques, 1);
    assert_eq!(
        listing(&s.root),
        vec![
            "d",
            "d/-first",
            "d/keep",
            "d/keep/new3",
            "d/new",
            "e",
            "e/untouched"
        ]
    );
}

#[test]
fn entries_replace_what_is_there() {
    let s = Scratch::new();
    s.apply(
        &RawTar::new()
            .add(b"x/inner", Raw::File(b"1"))
            .add(b"y", Raw::File(b"2"))
            .finish(),
    )
    .unwrap();
    // A file replaces a directory tree, a directory replaces a file.
    s.apply(
        &RawTar::new()
            .add(b"x", Raw::File(b"now a file"))
            .add(b"y", Raw::Dir)
            .finish(),
    )
    .unwrap();
    assert_eq!(fs::read(s.root.join("x")).unwrap(), b"now a file");
    assert!(s.root.join("y").is_dir());
}

#[test]
fn ownership_is_applied_as_root() {
    if !common::have_root("ownership_is_applied_as_root") {
        return;
    }
    let entries = vec![
        {
            let mut e = Entry::new(
                "owned",
                EntryKind::File(FileData::Bytes(b"x".to_vec())),
                0o6711,
            );
            (e.uid, e.gid) = (1234, 5678);
            e
        },
        {
            let mut e = Entry::new("dir", EntryKind::Dir, 0o750);
            (e.uid, e.gid, e.mtime) = (42, 43, 1234);
            e
        },
        {
            let mut e = Entry::new("dir/link", EntryKind::Symlink(b"../owned".to_vec()), 0o777);
            (e.uid, e.gid) = (99, 98);
            e
        },
        Entry::new(
            "dir/null",
            EntryKind::CharDevice { major: 1, minor: 3 },
            0o666,
        ),
    ];
    let mut tar = Vec::new();
    write_entries(entries, &mut tar, &WriteOptions::default()).unwrap();
    let s = Scratch::new();
    s.apply(&tar).unwrap();
    let m = fs::metadata(s.root.join("owned")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o6711));
    let d = fs::metadata(s.root.join("dir")).unwrap();
    assert_eq!(
        (d.uid(), d.gid(), d.mode() & 0o7777, d.mtime()),
        (42, 43, 0o750, 1234)
    );
    let l = fs::symlink_metadata(s.root.join("dir/link")).unwrap();
    assert_eq!((l.uid(), l.gid()), (99, 98));
    let n = fs::symlink_metadata(s.root.join("dir/null")).unwrap();
    assert_eq!(n.rdev(), rustix::fs::makedev(1, 3));
}

#[test]
fn file_capabilities_survive_chown() {
    if !common::have_root("file_capabilities_survive_chown") {
        return;
    }
    // VFS_CAP_REVISION_2 | effective, permitted = CAP_NET_RAW (bit 13).
    let mut cap = Vec::new();
    for word in [0x0200_0001u32, 1 << 13, 0, 0, 0] {
        cap.extend_from_slice(&word.to_le_bytes());
    }
    let mut e = Entry::new(
        "bin/ping",
        EntryKind::File(FileData::Bytes(b"\x7fELF".to_vec())),
        0o4755,
    );
    (e.uid, e.gid) = (1000, 1000);
    e.xattrs.insert("security.capability".into(), cap.clone());
    let mut tar = Vec::new();
    write_entries(vec![e], &mut tar, &WriteOptions::default()).unwrap();
    let s = Scratch::new();
    s.apply(&tar).unwrap();
    let path = s.root.join("bin/ping");
    assert_eq!(xattr::get(&path, "security.capability").unwrap(), Some(cap));
    let m = fs::metadata(&path).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (1000, 0o4755));
}
