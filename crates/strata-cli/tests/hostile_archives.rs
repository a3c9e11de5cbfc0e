//! Issue 11: the hostile-archive corpus (strata-testkit `hostile_tar`) through every entry
//! point that reads a tar — `import`, `load`, `ADD`, a build context on stdin — plus FIFOs
//! and devices where a path comes from input. Every case is refused with the entry named,
//! nothing is stored, and the store stays consistent.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use strata_testkit::hostile_tar::{self, Expect, Format, HostileTar, Kind};
use strata_testkit::{Strata, TempRoot};

fn strata(root: &Path) -> Strata {
    Strata::new(env!("CARGO_BIN_EXE_strata"), root)
}

fn image_count(root: &Path) -> usize {
    strata_store::Store::open(root)
        .unwrap()
        .list_images()
        .unwrap()
        .len()
}

/// Wait for `child`, failing the test (after killing it) if it runs past `limit`: a hang is
/// the defect being tested, not a reason to hang the suite.
fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("strata still running after {limit:?}: it hangs on the input");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn build_with_stdin(s: &Strata, args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = s
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The reader may stop early on a refusal: a broken pipe here is expected.
    let _ = input.write_all(stdin);
    drop(input);
    wait_bounded(child, Duration::from_secs(120))
}

fn assert_refused(what: &str, case: &str, stderr: &str, needle: &str) {
    assert!(
        stderr.contains(needle),
        "{what} of case {case:?}: error does not name {needle:?}:\n{stderr}"
    );
}

#[test]
fn hostile_corpus_is_refused_by_import_load_add_and_stdin_context() {
    if !strata_testkit::require_root().unwrap() {
        return; // ADD and stdin-context builds publish snapshots with overlay whiteouts.
    }
    let tmp = TempRoot::new().unwrap();
    let s = strata(&tmp.store());
    let mut runs = 0;
    for case in hostile_tar::corpus() {
        let Expect::Refused(needle) = case.expect;
        let file = tmp.path().join("evil.tar");
        std::fs::write(&file, &case.tar).unwrap();
        let f = file.to_str().unwrap();

        let err = s.run_err(&["import", f, "evil:latest"]).unwrap();
        assert_refused("import", case.name, &err, needle);

        let err = s.run_err(&["load", "-i", f]).unwrap();
        assert_refused("load", case.name, &err, needle);

        let ctx = tmp.path().join("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("evil.tar"), &case.tar).unwrap();
        std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nADD evil.tar /dst/\n").unwrap();
        let err = s
            .run_err(&["build", "-t", "evil:add", ctx.to_str().unwrap()])
            .unwrap();
        assert_refused("ADD", case.name, &err, needle);

        let out = build_with_stdin(&s, &["build", "-t", "evil:ctx", "-"], &case.tar);
        assert!(
            !out.status.success(),
            "stdin context of {:?} accepted",
            case.name
        );
        assert_refused(
            "stdin context",
            case.name,
            &String::from_utf8_lossy(&out.stderr),
            needle,
        );
        runs += 4;
        assert_eq!(
            image_count(&tmp.store()),
            0,
            "case {:?} stored an image",
            case.name
        );
    }
    s.run(&["system", "check"]).unwrap();
    eprintln!("{runs} hostile-archive runs refused");
    assert!(runs >= 40);
}

#[test]
fn defect_9_add_refuses_dot_dot_entries_naming_them() {
    if !strata_testkit::require_root().unwrap() {
        return;
    }
    let tmp = TempRoot::new().unwrap();
    let s = strata(&tmp.store());
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let tar = HostileTar::new()
        .member(Format::Ustar, b"ok", Kind::File(b"fine".to_vec()))
        .member(Format::Ustar, b"../../outside", Kind::File(b"x".to_vec()))
        .finish();
    std::fs::write(ctx.join("evil.tar"), tar).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nADD evil.tar /dst/\n").unwrap();
    let err = s
        .run_err(&["build", "-t", "x", ctx.to_str().unwrap()])
        .unwrap();
    assert!(err.contains("../../outside"), "{err}");
    assert!(err.contains("evil.tar"), "{err}");
    assert_eq!(image_count(&tmp.store()), 0);
}

#[test]
fn defect_6_import_accepts_gnu_incremental_paths_as_written() {
    let Some(tar_bin) = strata_testkit::require_tool("tar").unwrap() else {
        return;
    };
    let tmp = TempRoot::new().unwrap();
    let src = tmp.path().join("rootfs");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/hostname"), "gnu\n").unwrap();
    let archive = tmp.path().join("gnu.tar");
    let ok = std::process::Command::new(tar_bin)
        .args(["--format=gnu", "-G", "-cf"])
        .arg(&archive)
        .arg("-C")
        .arg(&src)
        .arg("etc")
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let s = strata(&tmp.store());
    s.run(&["import", archive.to_str().unwrap(), "gnu:latest"])
        .unwrap();
    let store = strata_store::Store::open(&tmp.store()).unwrap();
    let image = store.resolve("gnu:latest").unwrap();
    let snaps = store
        .ensure_unpacked(&image.record.manifest_digest, &Default::default())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(snaps[0].fs_path.join("etc/hostname")).unwrap(),
        "gnu\n"
    );
}

/// An OCI layout whose manifest blob is a FIFO (or a device): `load -i DIR` must refuse it
/// promptly, naming the file.
#[test]
fn defect_8_load_refuses_fifo_and_device_blobs_in_a_layout() {
    let tmp = TempRoot::new().unwrap();
    let s = strata(&tmp.store());
    for special in ["fifo", "device"] {
        let layout = tmp.path().join(format!("layout-{special}"));
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let hex = "a".repeat(64);
        std::fs::write(
            layout.join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        std::fs::write(
            layout.join("index.json"),
            format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{hex}","size":300}}]}}"#
            ),
        )
        .unwrap();
        let blob = blobs.join(&hex);
        if special == "fifo" {
            let made = std::process::Command::new("mkfifo")
                .arg(&blob)
                .status()
                .unwrap();
            assert!(made.success());
        } else {
            // /dev/zero's numbers: a reader would never see its end.
            if !strata_testkit::require_root().unwrap() {
                continue;
            }
            let made = std::process::Command::new("mknod")
                .arg(&blob)
                .args(["c", "1", "5"])
                .status()
                .unwrap();
            assert!(made.success());
        }
        let child = s
            .command()
            .args(["load", "-i", layout.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_bounded(child, Duration::from_secs(60));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{special} blob loaded");
        assert!(err.contains(&hex), "{special}: {err}");
        assert!(err.contains("regular file"), "{special}: {err}");
    }
    assert_eq!(image_count(&tmp.store()), 0);
}

#[test]
fn defect_8_load_refuses_fifo_and_device_entries_in_an_archive() {
    let tmp = TempRoot::new().unwrap();
    let s = strata(&tmp.store());
    for (name, kind) in [("fifo", Kind::Fifo), ("device", Kind::Char(1, 5))] {
        let tar = HostileTar::new()
            .member(
                Format::Ustar,
                b"oci-layout",
                Kind::File(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            )
            .member(
                Format::Ustar,
                format!("blobs/sha256/{}", "b".repeat(64)).as_bytes(),
                kind,
            )
            .finish();
        let file = tmp.path().join(format!("{name}.tar"));
        std::fs::write(&file, tar).unwrap();
        let err = s.run_err(&["load", "-i", file.to_str().unwrap()]).unwrap();
        assert!(err.contains(&"b".repeat(64)), "{name}: {err}");
        assert!(err.contains("not a regular file"), "{name}: {err}");
    }
}

#[test]
fn giant_json_documents_are_refused_not_read() {
    let tmp = TempRoot::new().unwrap();
    let s = strata(&tmp.store());
    // A 64 MiB manifest.json: more than any document strata keeps in memory.
    let mut giant = b"[".to_vec();
    giant.resize(64 << 20, b' ');
    giant.push(b']');
    let tar = HostileTar::new()
        .member(Format::Ustar, b"manifest.json", Kind::File(giant))
        .finish();
    let file = tmp.path().join("giant.tar");
    std::fs::write(&file, tar).unwrap();
    let err = s.run_err(&["load", "-i", file.to_str().unwrap()]).unwrap();
    assert!(err.contains("manifest.json"), "{err}");
    assert!(err.contains("too large"), "{err}");
}

/// Issue 11, defect 5: a PAX header claiming 1.5 GiB and a GNU long name of 1 GiB, streamed
/// to `import` and `load`, are refused at their header with memory bounded (peak RSS is
/// measured with GNU time) and without the claimed bytes being read.
#[test]
fn defect_5_import_and_load_refuse_giant_extension_claims_in_bounded_memory() {
    let Some(time) = strata_testkit::require_tool("time").unwrap() else {
        return;
    };
    let tmp = TempRoot::new().unwrap();
    for (flag, claimed) in [(b'x', 3u64 << 29), (b'L', 1u64 << 30)] {
        for args in [&["import", "-", "claim:latest"][..], &["load"][..]] {
            let mut child = std::process::Command::new(&time)
                .args(["-f", "peak-rss-kib=%M", env!("CARGO_BIN_EXE_strata")])
                .arg("--root")
                .arg(tmp.store())
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut input = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || {
                use std::io::Read;
                let mut claim = hostile_tar::claimed_extension(flag, claimed);
                let mut buf = vec![0u8; 64 << 10];
                let mut sent = 0u64;
                // Stops at the broken pipe once strata refuses the header.
                while let Ok(n) = claim.read(&mut buf) {
                    if n == 0 || input.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n as u64;
                }
                sent
            });
            let out = wait_bounded(child, Duration::from_secs(120));
            let written = writer.join().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} accepted the claim");
            assert!(err.contains("MiB cap"), "{args:?}: {err}");
            let rss_kib: u64 = err
                .lines()
                .find_map(|l| l.strip_prefix("peak-rss-kib="))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no peak RSS in {err}"));
            eprintln!(
                "{args:?} {} claim of {claimed} bytes: refused, peak RSS {rss_kib} KiB, {written} bytes sent",
                flag as char
            );
            assert!(rss_kib < 64 << 10, "{args:?}: peak RSS {rss_kib} KiB");
            assert!(
                written < 16 << 20,
                "{args:?} read {written} bytes of the claim"
            );
        }
    }
    assert_eq!(image_count(&tmp.store()), 0);
}

/// ADD tells a tar by its header, as docker does: a v7 tar (no magic) is unpacked, and a
/// gzip file that holds no tar is copied as it is.
#[test]
fn add_unpacks_any_tar_dialect_and_copies_other_compressed_files() {
    if !strata_testkit::require_root().unwrap() {
        return;
    }
    let tmp = TempRoot::new().unwrap();
    let s = strata(&tmp.store());
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let v7 = HostileTar::new()
        .member(Format::V7, b"old/file", Kind::File(b"v7\n".to_vec()))
        .finish();
    std::fs::write(ctx.join("v7.tar"), v7).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"just text, not a tar\n").unwrap();
    std::fs::write(ctx.join("notes.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nADD v7.tar /v7/\nADD notes.gz /gz/\n",
    )
    .unwrap();
    let dest = tmp.path().join("out");
    let spec = format!("type=local,dest={}", dest.display());
    s.run(&["build", "-o", &spec, ctx.to_str().unwrap()])
        .unwrap();
    assert_eq!(std::fs::read(dest.join("v7/old/file")).unwrap(), b"v7\n");
    assert!(
        dest.join("gz/notes.gz").is_file(),
        "the gzip file was not copied"
    );
}

/// `import` keeps the tar as it is, so it refuses what every later unpack of the image
/// would: here a write through a symlink the archive itself planted.
#[test]
fn import_refuses_a_write_through_a_symlink_the_archive_plants() {
    let tmp = TempRoot::new().unwrap();
    let s = strata(&tmp.store());
    for (name, tar) in [
        (
            "evil/etc/passwd",
            HostileTar::new()
                .member(Format::Ustar, b"evil", Kind::Symlink(b"/".to_vec()))
                .member(Format::Ustar, b"evil/etc/passwd", Kind::File(b"x".to_vec()))
                .finish(),
        ),
        (
            "up/etc/shadow",
            HostileTar::new()
                .member(Format::Gnu, b"up", Kind::Symlink(b"../..".to_vec()))
                .member(
                    Format::Gnu,
                    b"shadow",
                    Kind::HardLink(b"up/etc/shadow".to_vec()),
                )
                .finish(),
        ),
    ] {
        let file = tmp.path().join("link.tar");
        std::fs::write(&file, tar).unwrap();
        let err = s
            .run_err(&["import", file.to_str().unwrap(), "link:latest"])
            .unwrap();
        assert!(err.contains(name) || err.contains("shadow"), "{err}");
        assert!(err.contains("symlink"), "{err}");
    }
    // A symlink later replaced by a directory is a directory again.
    let ok = HostileTar::new()
        .member(Format::Ustar, b"d", Kind::Symlink(b"/".to_vec()))
        .member(Format::Ustar, b"d", Kind::Dir)
        .member(Format::Ustar, b"d/file", Kind::File(b"x".to_vec()))
        .finish();
    let file = tmp.path().join("ok.tar");
    std::fs::write(&file, ok).unwrap();
    s.run(&["import", file.to_str().unwrap(), "ok:latest"])
        .unwrap();
    assert_eq!(image_count(&tmp.store()), 1);
}
