//! Every archive in peer-cases/docker-archive-fixtures and oci-layout-fixtures loads or
//! fails as its README describes.

use std::path::{Path, PathBuf};

use strata_archive::{load_path, ErrorKind, Format, MemoryBlobs};
use strata_oci::Digest;

fn peer_cases() -> Option<PathBuf> {
    let dir = PathBuf::from("/work/shared/peer-cases");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("STRATA_CI").as_deref() != Ok("1"),
        "peer-cases directory missing under STRATA_CI=1"
    );
    None
}

enum Expect {
    /// Loads; the images' names, layer counts and config digests (prefix).
    Ok(Vec<(&'static [&'static str], usize, &'static str)>),
    Err(ErrorKind, &'static str),
}

fn check(path: &Path, expect: Expect) -> bool {
    let mut sink = MemoryBlobs::default();
    let result = load_path(path, &mut sink);
    match (result, expect) {
        (Ok(report), Expect::Ok(want)) => {
            let got: Vec<(Vec<String>, usize, String)> = report
                .images
                .iter()
                .map(|i| {
                    let cfg = i
                        .config
                        .as_ref()
                        .map(|c| c.hex().to_owned())
                        .unwrap_or_default();
                    (i.names.clone(), i.layers.len(), cfg)
                })
                .collect();
            assert_eq!(got.len(), want.len(), "{}: {got:?}", path.display());
            for ((names, layers, cfg), (wn, wl, wc)) in got.iter().zip(&want) {
                assert_eq!(names, wn, "{}", path.display());
                assert_eq!(layers, wl, "{}", path.display());
                assert!(
                    cfg.starts_with(wc),
                    "{}: config {cfg} vs {wc}",
                    path.display()
                );
            }
            // Everything the images reference is in the sink and hashes to its digest.
            for image in &report.images {
                let mut refs = vec![image.manifest.digest.clone()];
                refs.extend(image.config.clone());
                refs.extend(image.layers.iter().map(|l| l.digest.clone()));
                for d in refs {
                    let data = sink.blobs.get(&d).unwrap_or_else(|| panic!("{d} missing"));
                    assert_eq!(Digest::sha256_of(data), d);
                }
            }
            true
        }
        (Err(e), Expect::Err(kind, needle)) => {
            assert_eq!(e.kind, kind, "{}: {e}", path.display());
            assert!(e.message.contains(needle), "{}: {e}", path.display());
            true
        }
        (Ok(r), Expect::Err(..)) => panic!("{} loaded but should fail: {r:?}", path.display()),
        (Err(e), Expect::Ok(_)) => panic!("{} failed: {e}", path.display()),
    }
}

#[test]
fn docker_archive_fixtures() {
    let Some(root) = peer_cases() else { return };
    let d = root.join("docker-archive-fixtures");
    let cases: Vec<(&str, Expect)> = vec![
        (
            "test_image_1.tar",
            Expect::Ok(vec![(&["bazel/v1/tarball:test_image_1"], 1, "6e0b0504")]),
        ),
        (
            "test_image_2.tar",
            Expect::Ok(vec![(&["bazel/v1/tarball:test_image_2"], 1, "930705ce")]),
        ),
        (
            "test_bundle.tar",
            Expect::Ok(vec![
                (&["test_image_2"], 1, "930705ce"),
                (&["test_image_1"], 1, "6e0b0504"),
            ]),
        ),
        (
            "test_link.tar",
            Expect::Ok(vec![
                (&["bazel/v1/tarball:test_image_1"], 1, "6e0b0504"),
                (&["bazel/v1/tarball:test_image_3"], 2, "d4c9adac"),
            ]),
        ),
        (
            "test_load_manifest.tar",
            Expect::Ok(vec![(&["bazel/v1/tarball:test_image_1"], 1, "6e0b0504")]),
        ),
        (
            "hello-world-v25.tar",
            Expect::Ok(vec![(&[], 1, "ee301c92")]),
        ),
        (
            "no_manifest.tar",
            Expect::Err(ErrorKind::Unsupported, "without manifest.json"),
        ),
        (
            "null_manifest.tar",
            Expect::Err(ErrorKind::Malformed, "manifest.json is null"),
        ),
        (
            "content.tar",
            Expect::Err(ErrorKind::Malformed, "not a docker-archive"),
        ),
    ];
    let total = cases.len();
    let passed = cases
        .into_iter()
        .filter(|(f, e)| check(&d.join(f), clone(e)))
        .count();
    eprintln!("docker-archive fixtures: {passed}/{total} as expected");
    assert_eq!(passed, total);
}

fn clone(e: &Expect) -> Expect {
    match e {
        Expect::Ok(v) => Expect::Ok(v.clone()),
        Expect::Err(k, n) => Expect::Err(*k, n),
    }
}

#[test]
fn test_link_follows_symlinked_layer() {
    let Some(root) = peer_cases() else { return };
    let mut sink = MemoryBlobs::default();
    let report = load_path(
        &root.join("docker-archive-fixtures/test_link.tar"),
        &mut sink,
    )
    .unwrap();
    let image3 = &report.images[1];
    // The first layer of test_image_3 is a symlink to test_image_1's layer.
    let want =
        Digest::parse("sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17")
            .unwrap();
    assert_eq!(image3.layers[0].digest, want);
    assert!(!sink.blobs[&want].is_empty());
    assert_eq!(report.format, Format::DockerArchive);
}

#[test]
fn oci_layout_fixtures() {
    let Some(root) = peer_cases() else { return };
    let d = root.join("oci-layout-fixtures");
    let cases: Vec<(&str, Expect)> = vec![
        // "1" (manifest), "3" (index), "4" (manifest list); "2" is not an image.
        (
            "test_index",
            Expect::Ok(vec![(&[], 1, "6e0b0504"), (&[], 0, ""), (&[], 0, "")]),
        ),
        (
            "test_index_one_image",
            Expect::Ok(vec![(&[], 1, "381d958b")]),
        ),
        (
            "test_index_media_type",
            Expect::Ok(vec![(&[], 1, "ca3d163b")]),
        ),
        (
            "test_gc_index",
            Expect::Ok(vec![(&[], 1, "6e0b0504"), (&[], 0, ""), (&[], 0, "")]),
        ),
        // Its only entry is not an image: nothing to load.
        ("test_gc_image_unknown_mediatype", Expect::Ok(vec![])),
        (
            "does-not-exist",
            Expect::Err(ErrorKind::Io, "does-not-exist"),
        ),
    ];
    let total = cases.len();
    let passed = cases
        .into_iter()
        .filter(|(f, e)| check(&d.join(f), clone(e)))
        .count();
    eprintln!("oci-layout fixtures: {passed}/{total} as expected");
    assert_eq!(passed, total);

    // Media types come from the descriptors as written.
    let mut sink = MemoryBlobs::default();
    let r = load_path(&d.join("test_index"), &mut sink).unwrap();
    assert_eq!(
        r.images[0].manifest.media_type.as_str(),
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        r.images[0].layers[0].media_type.as_str(),
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    assert_eq!(r.skipped.len(), 1, "{:?}", r.skipped);
    let r = load_path(&d.join("test_index_media_type"), &mut sink).unwrap();
    assert_eq!(
        r.images[0].layers[0].media_type.as_str(),
        "application/tar+gzip"
    );
}
