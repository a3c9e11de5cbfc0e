//! One image, written and opened through every transport, must give the same manifest
//! digest, config and diffIDs; what is missing is `NotFound`; corrupt bytes are caught.
//! Peers write most of the fixtures: skopeo writes `oci:`, `oci-archive:` and
//! `docker-archive:` copies and pushes to Debian's docker-registry and to strata's own
//! registry server.

mod common;

use common::*;
use strata_image::copy::{copy_image, save_to_archive, CopyOptions};
use strata_image::transport::{open_read, open_write};
use strata_image::{ErrorKind, ImageSource, OpenOptions};

fn opts(fx: &Fixture) -> OpenOptions {
    OpenOptions::new(&fx.store_root)
}

fn source(s: &str) -> ImageSource {
    s.parse().unwrap()
}

#[test]
fn every_transport_gives_the_same_image() {
    let fx = fixture();
    let o = opts(&fx);
    let dir = fx.tmp.path();
    let store_src = source(&format!("strata:{NAME}"));
    check_transport(
        "store",
        open_read(&store_src, &o).unwrap(),
        Some(NAME),
        &fx.expected,
        true,
    );

    // strata writes an OCI layout; skopeo copies it to every other local transport.
    let layout = dir.join("layout");
    let layout_src = source(&format!("oci:{}:v1", layout.display()));
    let dest = open_write(&layout_src, &o).unwrap();
    let copied = copy_image(
        open_read(&store_src, &o).unwrap().as_ref(),
        Some(NAME),
        dest.as_ref(),
        Some("v1"),
        &CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(copied.digest, fx.expected.manifest);
    assert_eq!(copied.blobs_copied, 3);
    check_transport(
        "oci (strata)",
        open_read(&layout_src, &o).unwrap(),
        Some("v1"),
        &fx.expected,
        true,
    );
    let image = strata_image::open(&layout_src, &o).unwrap();
    assert_eq!(image.manifest_digest(), &fx.expected.manifest);

    let Some(()) = skopeo(&[
        "copy",
        &format!("oci:{}:v1", layout.display()),
        &format!("oci:{}:v2", dir.join("skopeo-layout").display()),
    ]) else {
        return;
    };
    check_transport(
        "oci (skopeo)",
        open_read(
            &source(&format!("oci:{}", dir.join("skopeo-layout").display())),
            &o,
        )
        .unwrap(),
        Some("v2"),
        &fx.expected,
        true,
    );

    let oci_tar = dir.join("skopeo-oci.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:v1", layout.display()),
        &format!("oci-archive:{}:v3", oci_tar.display()),
    ])
    .unwrap();
    check_transport(
        "oci-archive (skopeo)",
        open_read(&source(&format!("oci-archive:{}", oci_tar.display())), &o).unwrap(),
        Some("v3"),
        &fx.expected,
        true,
    );

    // skopeo writes a classic docker-archive (decompressed layers, no manifest): the
    // manifest strata derives must be the one `load` records for the same archive.
    let docker_tar = dir.join("skopeo-docker.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker-archive:{}:conformance:v4", docker_tar.display()),
    ])
    .unwrap();
    let image = check_transport(
        "docker-archive (skopeo)",
        open_read(
            &source(&format!("docker-archive:{}", docker_tar.display())),
            &o,
        )
        .unwrap(),
        Some("conformance:v4"),
        &fx.expected,
        false,
    );
    let store2 = strata_store::Store::open(&dir.join("store2")).unwrap();
    let lease = store2.lease(None).unwrap();
    let mut sink = strata_archive::store::StoreSink::new(&store2, &lease);
    let report = strata_archive::load_path(&docker_tar, &mut sink).unwrap();
    assert_eq!(report.images.len(), 1);
    assert_eq!(&report.images[0].manifest.digest, image.manifest_digest());
    // The default reference is the only image; the `@N` index works too.
    let by_index = strata_image::open(
        &source(&format!("docker-archive:{}:@0", docker_tar.display())),
        &o,
    )
    .unwrap();
    assert_eq!(by_index.manifest_digest(), image.manifest_digest());

    // strata's own save (docker-archive that is also an OCI layout) keeps the manifest.
    let saved = dir.join("strata-save.tar");
    let (digest, _) = save_to_archive(
        open_read(&store_src, &o).unwrap().as_ref(),
        Some(NAME),
        Some(NAME),
        &CopyOptions::default(),
        std::fs::File::create(&saved).unwrap(),
    )
    .unwrap();
    assert_eq!(digest, fx.expected.manifest);
    check_transport(
        "docker-archive (strata save)",
        open_read(&source(&format!("docker-archive:{}", saved.display())), &o).unwrap(),
        Some(NAME),
        &fx.expected,
        true,
    );
}

#[test]
fn registries_serve_the_same_image() {
    let fx = fixture();
    let o = opts(&fx);
    let layout = fx.tmp.path().join("layout");
    let store_src = source(&format!("strata:{NAME}"));
    let dest = open_write(&source(&format!("oci:{}", layout.display())), &o).unwrap();
    copy_image(
        open_read(&store_src, &o).unwrap().as_ref(),
        Some(NAME),
        dest.as_ref(),
        Some("v1"),
        &CopyOptions::default(),
    )
    .unwrap();
    let strata = strata_registry();
    let Some(debian) = docker_registry() else {
        return;
    };
    for host in [&strata.host, &debian.host] {
        // skopeo pushes; strata reads.
        let Some(()) = skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/conf/pushed-by-skopeo:v1"),
        ]) else {
            return;
        };
        let src = source(&format!("docker://{host}/conf/pushed-by-skopeo:v1"));
        check_transport(
            &format!("registry {host} (skopeo push)"),
            open_read(&src, &o).unwrap(),
            None,
            &fx.expected,
            true,
        );
        // strata writes through the same interface, and skopeo reads it back.
        let dst = source(&format!("docker://{host}/conf/copied-by-strata:v1"));
        let out = copy_image(
            open_read(&store_src, &o).unwrap().as_ref(),
            Some(NAME),
            open_write(&dst, &o).unwrap().as_ref(),
            Some("v1"),
            &CopyOptions::default(),
        )
        .unwrap();
        assert_eq!(out.digest, fx.expected.manifest);
        check_transport(
            &format!("registry {host} (strata copy)"),
            open_read(&dst, &o).unwrap(),
            None,
            &fx.expected,
            true,
        );
        let back = fx
            .tmp
            .path()
            .join(format!("back-{}", host.replace(':', "-")));
        skopeo(&[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{host}/conf/copied-by-strata:v1"),
            &format!("oci:{}:back", back.display()),
        ])
        .unwrap();
        let image =
            strata_image::open(&source(&format!("oci:{}:back", back.display())), &o).unwrap();
        assert_eq!(image.manifest_digest(), &fx.expected.manifest);
    }
}

#[test]
fn corrupt_blobs_are_detected_everywhere() {
    let fx = fixture();
    let o = opts(&fx);
    let dir = fx.tmp.path();
    let store_src = source(&format!("strata:{NAME}"));
    let layout = dir.join("layout");
    copy_image(
        open_read(&store_src, &o).unwrap().as_ref(),
        Some(NAME),
        open_write(&source(&format!("oci:{}", layout.display())), &o)
            .unwrap()
            .as_ref(),
        Some("v1"),
        &CopyOptions::default(),
    )
    .unwrap();
    let saved = dir.join("saved.tar");
    save_to_archive(
        open_read(&store_src, &o).unwrap().as_ref(),
        Some(NAME),
        Some(NAME),
        &CopyOptions::default(),
        std::fs::File::create(&saved).unwrap(),
    )
    .unwrap();
    let image = strata_image::open(&store_src, &o).unwrap();
    let gz_layer = image.layers()[1].descriptor.digest.clone();
    let base_layer = image.layers()[0].descriptor.digest.clone();
    let config = image.id().clone();
    drop(image);

    // Layout: a flipped byte in the compressed layer fails its stream; in the config,
    // opening fails.
    let blob =
        |root: &std::path::Path, d: &strata_oci::Digest| root.join("blobs/sha256").join(d.hex());
    corrupt(&blob(&layout, &gz_layer));
    let image = strata_image::open(&source(&format!("oci:{}:v1", layout.display())), &o).unwrap();
    let e = layer_error(&image, 1);
    assert!(e.contains(gz_layer.hex()) || e.contains("layer"), "{e}");
    drop(image);
    corrupt(&blob(&layout, &config));
    let e = strata_image::open(&source(&format!("oci:{}:v1", layout.display())), &o).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DigestMismatch, "{e}");
    assert!(e.message.contains(config.hex()), "{e}");

    // Archive: a flipped byte inside a layer member.
    let mut bytes = std::fs::read(&saved).unwrap();
    let member = format!("blobs/sha256/{}", base_layer.hex());
    let at = bytes
        .windows(member.len())
        .position(|w| w == member.as_bytes())
        .expect("layer member in the archive");
    // The member's data starts at the next 512-byte block after its header.
    let data = (at / 512 + 1) * 512;
    bytes[data + 4096] ^= 0xff;
    std::fs::write(&saved, bytes).unwrap();
    let image =
        strata_image::open(&source(&format!("docker-archive:{}", saved.display())), &o).unwrap();
    let e = layer_error(&image, 0);
    assert!(e.contains(base_layer.hex()), "{e}");
    drop(image);

    // Store: a flipped byte in a committed blob.
    corrupt(
        &fx.store_root
            .join("store-v1/blobs/sha256")
            .join(base_layer.hex()),
    );
    let image = strata_image::open(&store_src, &o).unwrap();
    let e = layer_error(&image, 0);
    assert!(e.contains(base_layer.hex()), "{e}");
}
