//! `strata load` of a multi-platform OCI layout: the index is recorded as its manifest for
//! this machine's platform (or `--platform`), tagged with the index's name.

use std::path::Path;

use serde_json::json;
use strata_oci::Digest;
use strata_testkit::{Strata, TempRoot};

fn strata(root: &Path) -> Strata {
    Strata::new(env!("CARGO_BIN_EXE_strata"), root)
}

/// Write `bytes` as a layout blob; returns its descriptor fields.
fn blob(dir: &Path, bytes: &[u8]) -> (Digest, usize) {
    let d = Digest::sha256_of(bytes);
    std::fs::write(dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
    (d, bytes.len())
}

/// An image for `arch`: one tiny layer holding `arch.txt`; returns (manifest digest, size,
/// config digest).
fn image(dir: &Path, arch: &str) -> (Digest, usize, Digest) {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(arch.len() as u64);
    h.set_mode(0o644);
    tar.append_data(&mut h, format!("{arch}.txt"), arch.as_bytes())
        .unwrap();
    let layer = tar.into_inner().unwrap();
    let (ld, ls) = blob(dir, &layer);
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [ld.to_string()]},
    }))
    .unwrap();
    let (cd, cs) = blob(dir, &config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld.to_string(), "size": ls}],
    }))
    .unwrap();
    let (md, ms) = blob(dir, &manifest);
    (md, ms, cd)
}

#[test]
fn a_multi_platform_layout_loads_the_matching_platform() {
    let tmp = TempRoot::new().unwrap();
    let dir = tmp.path().join("layout");
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let host = strata_oci::Platform::host();
    let other = if host.architecture == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let (hm, hs, hc) = image(&dir, &host.architecture);
    let (om, os, oc) = image(&dir, other);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": om.to_string(), "size": os,
             "platform": {"os": "linux", "architecture": other}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": hm.to_string(), "size": hs,
             "platform": {"os": "linux", "architecture": host.architecture}},
        ],
    }))
    .unwrap();
    let (id, is) = blob(&dir, &index);
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": id.to_string(), "size": is,
                "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"},
            }],
        }))
        .unwrap(),
    )
    .unwrap();
    let layout = dir.to_str().unwrap();

    let a = strata(&tmp.store());
    assert_eq!(
        a.run(&["load", "-i", layout]).unwrap(),
        "Loaded image: multi:1\n"
    );
    let store = strata_store::Store::open(a.root()).unwrap();
    let img = store.resolve("multi:1").unwrap();
    assert_eq!(img.record.config_digest, hc);
    assert_eq!(img.record.manifest_digest, hm);

    let b = strata(&tmp.store2());
    b.run(&[
        "load",
        "--platform",
        &format!("linux/{other}"),
        "-i",
        layout,
    ])
    .unwrap();
    let img = strata_store::Store::open(b.root())
        .unwrap()
        .resolve("multi:1")
        .unwrap();
    assert_eq!(img.record.config_digest, oc);
    assert!(b.run(&["system", "check"]).is_ok());

    // No image for the platform: a warning naming what the index has, and a failed load.
    let c = strata(&tmp.path().join("c"));
    let err = c
        .run_err(&["load", "--platform", "linux/s390x", "-i", layout])
        .unwrap();
    assert!(err.contains("no image for platform linux/s390x"), "{err}");
    assert!(err.contains(&format!("linux/{other}")), "{err}");
    assert!(err.contains("contains no images"), "{err}");
    let err = c
        .run_err(&["load", "--platform", "linux//", "-i", layout])
        .unwrap();
    assert!(err.contains("invalid --platform"), "{err}");
}
