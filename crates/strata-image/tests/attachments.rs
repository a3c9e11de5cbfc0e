//! Attachments (OCI 1.1 referrers): attached to an image in the store, listed by
//! `artifactType`, kept by GC while the subject lives and dropped with it, carried by
//! copies into layouts, archives and registries (with and without the referrers API).

mod common;

use std::collections::BTreeMap;

use common::*;
use strata_image::copy::{copy_image, save_to_archive, CopyOptions};
use strata_image::transport::{open_read, open_write};
use strata_image::{attach, read_attachment, referrers, ArtifactBlob, ImageSource, OpenOptions};

const SBOM_TYPE: &str = "application/spdx+json";
const SBOM: &[u8] = br#"{"spdxVersion":"SPDX-2.3","name":"conformance"}"#;

fn source(s: &str) -> ImageSource {
    s.parse().unwrap()
}

#[test]
fn store_attachments_live_with_their_subject() {
    let fx = fixture();
    let o = OpenOptions::new(&fx.store_root);
    let store_src = source(&format!("strata:{NAME}"));
    let image = strata_image::open(&store_src, &o).unwrap();
    let subject = image.manifest().descriptor();
    let store_w = open_write(&store_src, &o).unwrap();
    let mut notes = BTreeMap::new();
    notes.insert(
        "org.opencontainers.image.created".to_owned(),
        "2024-01-01T00:00:00Z".to_owned(),
    );
    let sbom = attach(
        store_w.as_ref(),
        &subject,
        SBOM_TYPE,
        &[ArtifactBlob::new(SBOM_TYPE, SBOM.to_vec())],
        notes,
    )
    .unwrap();
    // Deterministic: attaching the same payload again gives the same manifest.
    let again = attach(
        store_w.as_ref(),
        &subject,
        SBOM_TYPE,
        &[ArtifactBlob::new(SBOM_TYPE, SBOM.to_vec())],
        [(
            "org.opencontainers.image.created".to_owned(),
            "2024-01-01T00:00:00Z".to_owned(),
        )]
        .into(),
    )
    .unwrap();
    assert_eq!(sbom.digest, again.digest);
    drop(store_w);

    let listed = image.referrers(Some(SBOM_TYPE)).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest, sbom.digest);
    assert_eq!(
        listed[0].artifact_type.as_ref().unwrap().as_str(),
        SBOM_TYPE
    );
    assert!(image
        .referrers(Some("application/vnd.dev.cosign.simplesigning.v1+json"))
        .unwrap()
        .is_empty());
    let (raw, blobs) = read_attachment(image.content(), &listed[0]).unwrap();
    assert_eq!(raw.digest, sbom.digest);
    assert_eq!(blobs[0].data, SBOM);

    // GC keeps the attachment while the image lives.
    let store = strata_store::Store::open(&fx.store_root).unwrap();
    store.gc().unwrap();
    assert!(store.has_blob(&sbom.digest));
    assert_eq!(store.attachments(image.manifest_digest()).unwrap().len(), 1);

    // It travels into a layout and an archive, and back into another store by load.
    let o2 = o.clone();
    let layout = fx.tmp.path().join("layout");
    let copied = copy_image(
        open_read(&store_src, &o).unwrap().as_ref(),
        Some(NAME),
        open_write(&source(&format!("oci:{}", layout.display())), &o2)
            .unwrap()
            .as_ref(),
        Some("v1"),
        &CopyOptions::default(),
    )
    .unwrap();
    assert_eq!(copied.attachments, 1);
    let from_layout = open_read(&source(&format!("oci:{}", layout.display())), &o2).unwrap();
    let r = referrers(
        from_layout.as_ref(),
        image.manifest_digest(),
        Some(SBOM_TYPE),
    )
    .unwrap();
    assert_eq!(r.len(), 1);
    // The layout still opens without a reference: attachments are not images.
    let only = strata_image::open(&source(&format!("oci:{}", layout.display())), &o2).unwrap();
    assert_eq!(only.manifest_digest(), image.manifest_digest());

    let tar = fx.tmp.path().join("with-sbom.tar");
    save_to_archive(
        open_read(&store_src, &o).unwrap().as_ref(),
        Some(NAME),
        Some(NAME),
        &CopyOptions::default(),
        std::fs::File::create(&tar).unwrap(),
    )
    .unwrap();
    let store2 = strata_store::Store::open(&fx.tmp.path().join("store2")).unwrap();
    let lease = store2.lease(None).unwrap();
    let mut sink = strata_archive::store::StoreSink::new(&store2, &lease);
    let report = strata_archive::load_path(&tar, &mut sink).unwrap();
    assert_eq!(
        report.images.len(),
        1,
        "the attachment is not loaded as an image"
    );
    assert_eq!(report.attachments.len(), 1);
    assert_eq!(&report.attachments[0].0, image.manifest_digest());
    assert_eq!(report.attachments[0].1.digest, sbom.digest);

    // Removing the image lets GC take the attachment and forget it.
    let subject_digest = image.manifest_digest().clone();
    drop(image);
    store.remove(NAME, true).unwrap();
    store.gc().unwrap();
    assert!(!store.has_blob(&sbom.digest));
    assert!(store.attachments(&subject_digest).unwrap().is_empty());
}

#[test]
fn registries_list_attachments_with_and_without_the_referrers_api() {
    let fx = fixture();
    let o = OpenOptions::new(&fx.store_root);
    let store_src = source(&format!("strata:{NAME}"));
    let image = strata_image::open(&store_src, &o).unwrap();
    attach(
        open_write(&store_src, &o).unwrap().as_ref(),
        &image.manifest().descriptor(),
        SBOM_TYPE,
        &[ArtifactBlob::new(SBOM_TYPE, SBOM.to_vec())],
        BTreeMap::new(),
    )
    .unwrap();
    let strata = strata_registry();
    let Some(debian) = docker_registry() else {
        return;
    };
    // strata's registry answers the referrers API; distribution 2.8 does not, so the
    // `sha256-<hex>` tag index is kept instead.
    for host in [&strata.host, &debian.host] {
        let dst = source(&format!("docker://{host}/conf/with-sbom:v1"));
        let out = copy_image(
            open_read(&store_src, &o).unwrap().as_ref(),
            Some(NAME),
            open_write(&dst, &o).unwrap().as_ref(),
            Some("v1"),
            &CopyOptions::default(),
        )
        .unwrap();
        assert_eq!(out.attachments, 1, "{host}");
        let remote = strata_image::open(&dst, &o).unwrap();
        let listed = remote.referrers(Some(SBOM_TYPE)).unwrap();
        assert_eq!(listed.len(), 1, "{host}: {listed:?}");
        let (_, blobs) = read_attachment(remote.content(), &listed[0]).unwrap();
        assert_eq!(blobs[0].data, SBOM, "{host}");
        // Pulled back into a fresh store, the attachment comes along.
        let o2 = OpenOptions::new(
            fx.tmp
                .path()
                .join(format!("pulled-{}", host.replace(':', "-"))),
        );
        copy_image(
            open_read(&dst, &o2).unwrap().as_ref(),
            None,
            open_write(&source("strata:pulled:v1"), &o2)
                .unwrap()
                .as_ref(),
            Some("pulled:v1"),
            &CopyOptions::default(),
        )
        .unwrap();
        let pulled = strata_image::open(&source("strata:pulled:v1"), &o2).unwrap();
        assert_eq!(
            pulled.referrers(Some(SBOM_TYPE)).unwrap().len(),
            1,
            "{host}"
        );
    }
}
