//! Image records, tags, resolution (docker semantics), rmi, leases, GC and concurrency.

mod common;

use std::time::Duration;

use common::{add_image, add_image_with, MANIFEST};
use strata_oci::{Digest, MediaType};
use strata_store::{ErrorKind, Store};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s)
}

#[test]
fn add_image_requires_blobs_and_records_metadata() {
    let (_d, s) = store();
    let missing = Digest::sha256_of(b"nope");
    let manifest =
        format!(r#"{{"schemaVersion":2,"config":{{"digest":"{missing}","size":4}},"layers":[]}}"#);
    let err = s
        .add_image(manifest.as_bytes(), &MediaType::new(MANIFEST))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(missing.hex()), "{err}");
    let err = s
        .add_image(b"{}", &MediaType::new("application/json"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);

    let r = add_image_with(
        &s,
        "a",
        &[b"layer1", b"layer22"],
        "2024-05-06T07:08:09Z",
        &[("team", "x")],
    );
    assert_eq!(r.layers.len(), 2);
    assert_eq!(r.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(r.labels.get("team").map(String::as_str), Some("x"));
    assert_eq!(r.created.unwrap().to_rfc3339(), "2024-05-06T07:08:09+00:00");
    assert_eq!(r.size, r.manifest_size + r.config_size + 13);
    assert_eq!(r.chain_ids().len(), 2);
    assert_eq!(r.chain_ids()[0], r.diff_ids[0]);
    assert!(s.has_blob(&r.manifest_digest));
    let all = s.list_images().unwrap();
    assert_eq!(all.len(), 1);
    assert!(all[0].tags.is_empty());
}

#[test]
fn tags_resolve_with_docker_normalisation() {
    let (_d, s) = store();
    let r = add_image(&s, "a", &[b"x"]);
    let t = s.tag("busybox", &r.manifest_digest).unwrap();
    assert_eq!(t.key(), "docker.io/library/busybox:latest");
    for spec in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        "library/busybox",
    ] {
        assert_eq!(s.resolve(spec).unwrap().record, r, "{spec}");
    }
    let id = r.config_digest.to_string();
    for spec in [
        &id[..],
        &id[7..],
        &id[7..8],
        &id[..19],
        &r.manifest_digest.to_string(),
    ] {
        assert_eq!(
            s.resolve(spec).unwrap().record.config_digest,
            r.config_digest,
            "{spec}"
        );
    }
    let err = s.resolve("busybox:1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.to_string(), "no such image: busybox:1");
    let err = s.tag("Bad:Name", &r.manifest_digest).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        s.tag("x", &Digest::sha256_of(b"z")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn ambiguous_prefix_is_an_error() {
    let (_d, s) = store();
    // Find two images whose IDs share a first hex character.
    let mut seen = std::collections::HashMap::new();
    let mut i = 0;
    let prefix = loop {
        let r = add_image(&s, &format!("seed{i}"), &[b"l"]);
        let c = r.config_digest.hex()[..1].to_owned();
        if seen.insert(c.clone(), ()).is_some() {
            break c;
        }
        i += 1;
    };
    let err = s.resolve(&prefix).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ambiguous);
    assert!(err.to_string().contains("ambiguous"), "{err}");
}

#[test]
fn rmi_untags_then_deletes_like_docker() {
    let (_d, s) = store();
    let r = add_image(&s, "a", &[b"x"]);
    s.tag("a:1", &r.manifest_digest).unwrap();
    s.tag("a:2", &r.manifest_digest).unwrap();
    // An ID with several tags needs force.
    let err = s.remove(r.config_digest.short(), false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    // Removing one of two tags only untags.
    let out = s.remove("a:1", false).unwrap();
    assert_eq!(
        out.untagged
            .iter()
            .map(|t| t.familiar())
            .collect::<Vec<_>>(),
        ["a:1"]
    );
    assert!(out.deleted.is_empty());
    // The last tag deletes the image.
    let out = s.remove("a:2", false).unwrap();
    assert_eq!(out.deleted, vec![r.config_digest.clone()]);
    assert!(s.list_images().unwrap().is_empty());

    let r = add_image(&s, "b", &[b"y"]);
    s.tag("b:1", &r.manifest_digest).unwrap();
    s.tag("b:2", &r.manifest_digest).unwrap();
    let out = s.remove(&r.config_digest.to_string(), true).unwrap();
    assert_eq!(out.untagged.len(), 2);
    assert_eq!(out.deleted.len(), 1);
    assert_eq!(
        s.remove("b:1", false).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn tag_image_and_untag() {
    let (_d, s) = store();
    let r = add_image(&s, "a", &[b"x"]);
    s.tag_image(&r.config_digest.hex()[..6], "new/name:v1")
        .unwrap();
    assert_eq!(s.resolve("new/name:v1").unwrap().record, r);
    assert_eq!(s.untag("new/name:v1").unwrap(), r.manifest_digest);
    assert_eq!(
        s.untag("new/name:v1").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn gc_sweeps_unreferenced_and_respects_leases() {
    let (_d, s) = store();
    let keep = add_image(&s, "keep", &[b"shared", b"keep-only"]);
    let gone = add_image(&s, "gone", &[b"shared", b"gone-only"]);
    let stray = s.put_bytes(b"stray").unwrap();
    let lease = s.lease(Some(Duration::from_secs(600))).unwrap();
    let mut w = s.writer(None).unwrap().with_lease(lease.id());
    std::io::Write::write_all(&mut w, b"pulled, not yet an image").unwrap();
    let (leased, _) = w.commit().unwrap();
    s.remove_image(&gone.manifest_digest).unwrap();

    let report = s.gc().unwrap();
    let removed: Vec<&Digest> = report.blobs_removed.iter().map(|(d, _)| d).collect();
    assert!(removed.contains(&&stray));
    assert!(removed.contains(&&gone.config_digest));
    assert!(removed.contains(&&gone.manifest_digest));
    assert!(removed.contains(&&Digest::sha256_of(b"gone-only")));
    assert_eq!(removed.len(), 4, "{removed:?}");
    assert!(s.has_blob(&Digest::sha256_of(b"shared")));
    assert!(s.has_blob(&keep.config_digest));
    assert!(s.has_blob(&leased), "leased blob swept");
    assert!(report.reclaimed > 0);

    lease.release().unwrap();
    let report = s.gc().unwrap();
    assert_eq!(
        report
            .blobs_removed
            .iter()
            .map(|(d, _)| d)
            .collect::<Vec<_>>(),
        [&leased]
    );
    assert!(s.check().unwrap().is_empty());
}

#[test]
fn expired_leases_protect_nothing() {
    let (_d, s) = store();
    let id = s.create_lease(Some(Duration::from_millis(1))).unwrap();
    let d = s.put_bytes(b"x").unwrap();
    s.lease_add(&id, std::slice::from_ref(&d)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let report = s.gc().unwrap();
    assert_eq!(report.leases_expired, 1);
    assert!(!s.has_blob(&d));
    assert!(s.list_leases().unwrap().is_empty());
}

#[test]
fn gc_keeps_index_children_held_by_a_lease() {
    let (_d, s) = store();
    let child = s.put_bytes(br#"{"config":{"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#).unwrap();
    let empty = s.put_bytes(b"").unwrap();
    let index = s
        .put_bytes(format!(r#"{{"manifests":[{{"digest":"{child}","size":1}}]}}"#).as_bytes())
        .unwrap();
    let lease = s.lease(None).unwrap();
    lease.add(std::slice::from_ref(&index)).unwrap();
    assert!(s.gc().unwrap().blobs_removed.is_empty());
    assert!(s.has_blob(&child) && s.has_blob(&empty));
}

#[test]
fn check_reports_missing_blobs_and_dangling_tags() {
    let (_d, s) = store();
    let r = add_image(&s, "a", &[b"layer"]);
    s.tag("a", &r.manifest_digest).unwrap();
    assert!(s.check().unwrap().is_empty());
    std::fs::remove_file(s.blob_path(&r.layers[0].digest).unwrap()).unwrap();
    let problems = s.check().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].to_string().contains("is missing"));
}

#[test]
fn records_api_round_trips() {
    let (_d, s) = store();
    s.put_record("build-cache", "k1", b"v1").unwrap();
    s.put_records("build-cache", &[("k2", b"v2"), ("k0", b"v0")])
        .unwrap();
    assert_eq!(
        s.get_record("build-cache", "k1").unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(s.get_record("other", "k1").unwrap(), None);
    let keys: Vec<String> = s
        .list_records("build-cache")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["k0", "k1", "k2"]);
    assert!(s.delete_record("build-cache", "k1").unwrap());
    assert!(!s.delete_record("build-cache", "k1").unwrap());
    assert_eq!(
        s.put_record("bad/name", "k", b"").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn concurrent_stores_never_lose_updates() {
    let (dir, s) = store();
    let r = add_image(&s, "base", &[b"x"]);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let root = dir.path().to_path_buf();
            let m = r.manifest_digest.clone();
            std::thread::spawn(move || {
                let s = Store::open(&root).unwrap();
                for i in 0..15 {
                    s.tag(&format!("t{t}:{i}"), &m).unwrap();
                    s.put_record("counter", &format!("{t}-{i}"), b"1").unwrap();
                    let own = add_image(
                        &s,
                        &format!("img-{t}-{i}"),
                        &[format!("l{t}{i}").as_bytes()],
                    );
                    if i % 3 == 0 {
                        s.remove(&own.config_digest.to_string(), false).unwrap();
                    }
                    if t == 0 && i % 5 == 0 {
                        s.gc().unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let img = s.resolve("t3:14").unwrap();
    assert_eq!(img.tags.len(), 6 * 15);
    assert_eq!(s.list_records("counter").unwrap().len(), 90);
    assert_eq!(s.list_images().unwrap().len(), 1 + 6 * 10);
    s.gc().unwrap();
    assert!(s.check().unwrap().is_empty());
}
