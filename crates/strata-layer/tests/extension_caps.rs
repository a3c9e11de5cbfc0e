//! Regression tests for issue 11, defects 5 and 6: extension headers cannot make the one tar
//! reader allocate or copy without bound, and GNU headers are never read as ustar prefixes.

use std::io::{self, Read};

use strata_layer::{apply_layer, ApplyOptions, ErrorKind, TarReader, WhiteoutMode};
use strata_testkit::hostile_tar::{self, claimed_extension, pax_record, Format, HostileTar, Kind};

/// Counts the bytes the reader pulled: a refusal must come before the claimed payload.
struct Counting<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

fn refuse_claim(flag: u8, claimed: u64) {
    let mut input = Counting {
        inner: claimed_extension(flag, claimed),
        read: 0,
    };
    let err = TarReader::new(&mut input).next_header().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTar, "{err}");
    assert!(err.to_string().contains("MiB cap"), "{err}");
    // Refused at the header: the claimed bytes were never read, let alone held.
    assert!(input.read <= 4096, "read {} bytes of the claim", input.read);
}

#[test]
fn defect_5_pax_header_claiming_1_5_gib_is_refused_unread() {
    refuse_claim(b'x', 3 << 29);
}

#[test]
fn defect_5_gnu_long_name_of_1_gib_is_refused_unread() {
    refuse_claim(b'L', 1 << 30);
    refuse_claim(b'K', 1 << 30);
}

#[test]
fn defect_5_forty_consecutive_pax_headers_accumulate_into_the_entry_cap() {
    let mut record = Vec::new();
    pax_record(&mut record, b"comment", &vec![b'c'; 1 << 20]);
    let mut t = HostileTar::new();
    for _ in 0..40 {
        t = t.extension(b'x', &record);
    }
    let tar = t
        .member(Format::Ustar, b"f", Kind::File(b"x".to_vec()))
        .finish();
    let mut input = Counting {
        inner: &tar[..],
        read: 0,
    };
    let err = TarReader::new(&mut input).next_header().unwrap_err();
    assert!(
        err.to_string().contains("one entry's extension headers"),
        "{err}"
    );
    // Stopped at the header that crossed 16 MiB, not after all 40.
    assert!(input.read < 18 << 20, "read {} bytes", input.read);
}

#[test]
fn defect_5_global_header_is_shared_by_every_entry_not_copied() {
    // A 15 MiB global header before 4,000 entries: copied per entry this is 60 GB of
    // copying; looked up, it is one parse. Its mtime applies to every entry.
    let mut global = Vec::new();
    pax_record(&mut global, b"comment", &vec![b'g'; 15 << 20]);
    pax_record(&mut global, b"mtime", b"12345");
    let mut t = HostileTar::new().extension(b'g', &global);
    for i in 0..4_000 {
        t = t.member(Format::Ustar, format!("f{i}").as_bytes(), Kind::Dir);
    }
    let tar = t.finish();
    let mut r = TarReader::new(&tar[..]);
    let mut n = 0;
    while let Some(h) = r.next_header().unwrap() {
        assert_eq!(h.mtime, 12345);
        assert!(h.xattrs.is_empty());
        n += 1;
    }
    assert_eq!(n, 4_000);
}

#[test]
fn defect_5_global_headers_accumulate_into_their_cap() {
    let mut global = Vec::new();
    pax_record(&mut global, b"comment", &vec![b'g'; 9 << 20]);
    let tar = HostileTar::new()
        .extension(b'g', &global)
        .extension(b'g', &global)
        .member(Format::Ustar, b"f", Kind::Dir)
        .finish();
    let err = TarReader::new(&tar[..]).next_header().unwrap_err();
    assert!(err.to_string().contains("global headers"), "{err}");
}

#[test]
fn defect_5_global_records_that_would_rename_every_entry_are_refused() {
    for key in [&b"path"[..], b"linkpath", b"size", b"SCHILY.xattr.user.x"] {
        let mut global = Vec::new();
        pax_record(&mut global, key, b"1");
        let tar = HostileTar::new()
            .extension(b'g', &global)
            .member(Format::Ustar, b"f", Kind::Dir)
            .finish();
        let err = TarReader::new(&tar[..]).next_header().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(
            err.to_string().contains(&*String::from_utf8_lossy(key)),
            "{err}"
        );
    }
}

#[test]
fn defect_6_gnu_header_time_fields_are_not_a_path_prefix() {
    // GNU keeps atime and ctime (octal text) where ustar has its prefix.
    let tar = HostileTar::new()
        .member_with_prefix(
            Format::Gnu,
            b"15305151006\x0015305151006",
            b"dir/file",
            Kind::File(b"x".to_vec()),
            &[],
        )
        .member_with_prefix(Format::Ustar, b"pre/fix", b"file", Kind::Dir, &[])
        .finish();
    let mut r = TarReader::new(&tar[..]);
    assert_eq!(r.next_header().unwrap().unwrap().path, b"dir/file");
    assert_eq!(r.next_header().unwrap().unwrap().path, b"pre/fix/file");
}

#[test]
fn defect_6_gnu_incremental_archive_from_gnu_tar_reads_its_real_paths() {
    let Some(tar_bin) = strata_testkit::require_tool("tar").unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("file"), b"one").unwrap();
    std::fs::write(src.join("sub/deep"), b"two").unwrap();
    let archive = dir.path().join("gnu.tar");
    let status = std::process::Command::new(tar_bin)
        .args(["--format=gnu", "-G", "-cf"])
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg("src")
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&archive).unwrap();
    let mut r = TarReader::new(&bytes[..]);
    let mut paths = Vec::new();
    while let Some(h) = r.next_header().unwrap() {
        paths.push(String::from_utf8(h.path).unwrap());
    }
    paths.sort();
    assert_eq!(paths, ["src/", "src/file", "src/sub/", "src/sub/deep"]);
    // And it unpacks where it says (dumpdir entries are directories).
    let root = tempfile::tempdir().unwrap();
    apply_layer(&bytes[..], root.path(), &ApplyOptions::default()).unwrap();
    assert_eq!(
        std::fs::read(root.path().join("src/sub/deep")).unwrap(),
        b"two"
    );
}

#[test]
fn hostile_corpus_is_refused_by_the_applier_in_every_mode() {
    let modes = [WhiteoutMode::Delete, WhiteoutMode::Literal];
    let mut ran = 0;
    for case in hostile_tar::corpus() {
        let hostile_tar::Expect::Refused(needle) = case.expect;
        for mode in modes {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("root");
            std::fs::create_dir(&root).unwrap();
            let opts = ApplyOptions {
                whiteouts: mode,
                ..Default::default()
            };
            let err = apply_layer(&case.tar[..], &root, &opts)
                .expect_err(&format!("case {:?} was applied", case.name));
            assert!(
                err.to_string().contains(needle),
                "case {:?}: {err} does not name {needle:?}",
                case.name
            );
            let outside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
            assert_eq!(
                outside.len(),
                1,
                "case {:?} wrote beside the root",
                case.name
            );
            ran += 1;
        }
    }
    assert!(ran >= 20, "{ran} cases");
}
