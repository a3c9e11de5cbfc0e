//! save → load round trips through the in-memory blob store.

use std::path::PathBuf;

use strata_archive::{
    load_path, load_reader, save_archive, save_layout_dir, ErrorKind, Format, LoadedImage,
    MemoryBlobs, SaveImage, SaveName,
};

fn fixture(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from("/work/shared/peer-cases/docker-archive-fixtures").join(name);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("STRATA_CI").as_deref() != Ok("1"),
        "{} missing",
        p.display()
    );
    None
}

fn name(repo: &str, tag: &str) -> SaveName {
    SaveName {
        full: format!("docker.io/library/{repo}:{tag}"),
        familiar_repo: repo.to_owned(),
        tag: tag.to_owned(),
    }
}

fn to_save(images: &[LoadedImage], names: &[Vec<SaveName>]) -> Vec<SaveImage> {
    images
        .iter()
        .zip(names)
        .map(|(i, n)| SaveImage {
            manifest: i.manifest.clone(),
            names: n.clone(),
            attachments: Vec::new(),
        })
        .collect()
}

#[test]
fn bundle_saves_and_loads_back_identically() {
    let Some(path) = fixture("test_bundle.tar") else {
        return;
    };
    let mut store = MemoryBlobs::default();
    let first = load_path(&path, &mut store).unwrap();
    let names = vec![
        vec![name("two", "latest"), name("two", "v2")],
        vec![name("one", "latest")],
    ];
    let images = to_save(&first.images, &names);
    let archive = save_archive(&images, &store, Vec::new()).unwrap();
    // Deterministic: saving again yields the same bytes.
    assert_eq!(save_archive(&images, &store, Vec::new()).unwrap(), archive);

    let mut store2 = MemoryBlobs::default();
    let second = load_reader(&archive[..], &mut store2).unwrap();
    assert_eq!(second.format, Format::OciLayout);
    assert_eq!(second.images.len(), 2);
    for (a, b) in first.images.iter().zip(&second.images) {
        assert_eq!(a.manifest.digest, b.manifest.digest);
        assert_eq!(a.config, b.config);
        assert_eq!(a.layers, b.layers);
    }
    assert_eq!(
        second.images[0].names,
        vec!["docker.io/library/two:latest", "docker.io/library/two:v2"]
    );
    assert_eq!(second.images[1].names, vec!["docker.io/library/one:latest"]);

    // The archive has the Docker and OCI files, blobs once each, in a fixed order.
    let mut tar = tar::Archive::new(&archive[..]);
    let entries: Vec<String> = tar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(entries[0], "blobs/");
    assert_eq!(entries[1], "blobs/sha256/");
    let tail: Vec<&str> = entries[entries.len() - 4..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        ["index.json", "manifest.json", "oci-layout", "repositories"]
    );
    let blobs = &entries[2..entries.len() - 4];
    let mut sorted = blobs.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(blobs, &sorted[..]);

    // Compressed archives load the same.
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&archive).unwrap();
        e.finish().unwrap()
    };
    let third = load_reader(&gz[..], &mut MemoryBlobs::default()).unwrap();
    assert_eq!(
        third.images[0].manifest.digest,
        first.images[0].manifest.digest
    );
    let zs = zstd::encode_all(&archive[..], 3).unwrap();
    let fourth = load_reader(&zs[..], &mut MemoryBlobs::default()).unwrap();
    assert_eq!(fourth.images[1].config, first.images[1].config);
}

#[test]
fn layout_dir_round_trip_and_refuses_non_empty_dir() {
    let Some(path) = fixture("test_link.tar") else {
        return;
    };
    let mut store = MemoryBlobs::default();
    let first = load_path(&path, &mut store).unwrap();
    let images = to_save(&first.images, &[vec![name("a", "1")], vec![]]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    save_layout_dir(&images, &store, &dir).unwrap();
    assert!(dir.join("oci-layout").is_file());
    let mut store2 = MemoryBlobs::default();
    let second = load_path(&dir, &mut store2).unwrap();
    assert_eq!(second.images.len(), 2);
    assert_eq!(second.images[0].names, vec!["docker.io/library/a:1"]);
    assert!(second.images[1].names.is_empty());
    assert_eq!(
        second.images[1].manifest.digest,
        first.images[1].manifest.digest
    );

    let err = save_layout_dir(&images, &store, &dir).unwrap_err();
    assert!(err.message.contains("not empty"), "{err}");
}

#[test]
fn corrupted_blob_is_rejected_and_never_stored() {
    let Some(path) = fixture("test_image_1.tar") else {
        return;
    };
    let mut store = MemoryBlobs::default();
    let first = load_path(&path, &mut store).unwrap();
    let images = to_save(&first.images, &[vec![name("x", "y")]]);
    let mut archive = save_archive(&images, &store, Vec::new()).unwrap();
    // Flip a byte inside the layer blob (it is the largest entry, 10240 bytes of tar).
    let layer = &first.images[0].layers[0].digest;
    let needle = format!("blobs/sha256/{}", layer.hex());
    let pos = archive
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap();
    archive[pos + 512 + 100] ^= 0xff;
    let mut store2 = MemoryBlobs::default();
    let err = load_reader(&archive[..], &mut store2).unwrap_err();
    assert_eq!(err.kind, ErrorKind::DigestMismatch, "{err}");
    assert!(!store2.blobs.contains_key(layer));
}

#[test]
fn synthetic_bad_archives() {
    fn tar_of(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).unwrap();
        }
        for (name, target) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, name, target).unwrap();
        }
        b.into_inner().unwrap()
    }
    // manifest.json and config.json are symlinks to each other.
    let cyc = tar_of(
        &[],
        &[
            ("manifest.json", "config.json"),
            ("config.json", "manifest.json"),
        ],
    );
    let err = load_reader(&cyc[..], &mut MemoryBlobs::default()).unwrap_err();
    assert!(err.message.contains("link cycle"), "{err}");

    // "./manifest.json" holding [] loads as zero images.
    let empty = tar_of(&[("./manifest.json", b"[]")], &[]);
    let r = load_reader(&empty[..], &mut MemoryBlobs::default()).unwrap();
    assert!(r.images.is_empty());

    // diff_ids: [] but one layer.
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let m = br#"[{"Config":"c.json","RepoTags":["a:b"],"Layers":["l/layer.tar"]}]"#;
    let bad = tar_of(
        &[
            ("c.json", config),
            ("l/layer.tar", b"not a tar"),
            ("manifest.json", m),
        ],
        &[],
    );
    let err = load_reader(&bad[..], &mut MemoryBlobs::default()).unwrap_err();
    assert!(err.message.contains("diff_ids"), "{err}");

    // One diff_id but Layers: [].
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17"]}}"#;
    let m = br#"[{"Config":"c.json","RepoTags":["a:b"],"Layers":[]}]"#;
    let bad = tar_of(&[("c.json", config), ("manifest.json", m)], &[]);
    let err = load_reader(&bad[..], &mut MemoryBlobs::default()).unwrap_err();
    assert!(err.message.contains("diff_id"), "{err}");

    // A path escaping the archive.
    let esc = tar_of(&[("manifest.json", b"[]")], &[("x", "../../etc/passwd")]);
    let err = load_reader(&esc[..], &mut MemoryBlobs::default()).unwrap_err();
    assert!(err.message.contains("escapes"), "{err}");
}

#[test]
fn classic_archive_with_gzip_layer_checks_the_uncompressed_diff_id() {
    use std::io::Write;
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(5);
    h.set_mode(0o644);
    layer
        .append_data(&mut h, "hello.txt", &b"hello"[..])
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let diff_id = strata_oci::Digest::sha256_of(&layer);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
    );
    let manifest = br#"[{"Config":"config.json","RepoTags":["gz:1"],"Layers":["l/layer.tar"]}]"#;
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("config.json", config.as_bytes()),
        ("l/layer.tar", &gz[..]),
        ("manifest.json", &manifest[..]),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }
    let archive = b.into_inner().unwrap();
    let mut store = MemoryBlobs::default();
    let report = load_reader(&archive[..], &mut store).unwrap();
    let layer_desc = &report.images[0].layers[0];
    assert_eq!(
        layer_desc.media_type.as_str(),
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    assert_eq!(layer_desc.digest, strata_oci::Digest::sha256_of(&gz));

    // The same archive claiming a different diff_id is refused.
    let wrong = archive
        .windows(diff_id.hex().len())
        .position(|w| w == diff_id.hex().as_bytes())
        .unwrap();
    let mut bad = archive.clone();
    bad[wrong] = if bad[wrong] == b'0' { b'1' } else { b'0' };
    // Only file content changed, so the tar headers stay valid.
    let err = load_reader(&bad[..], &mut MemoryBlobs::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::DigestMismatch, "{err}");
    assert!(err.message.contains("diff_id"), "{err}");
}
