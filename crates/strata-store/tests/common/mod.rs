//! Shared fixtures: build a tiny image (config + layers + manifest) straight into a store.
#![allow(dead_code)]

use strata_oci::{Digest, MediaType};
use strata_store::{ImageRecord, Store};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Put an uncompressed "layer" (any bytes: the store does not unpack here) and an image using
/// it. `seed` makes the config unique. Returns the record.
pub fn add_image(store: &Store, seed: &str, layers: &[&[u8]]) -> ImageRecord {
    add_image_with(store, seed, layers, "2024-01-02T03:04:05Z", &[])
}

pub fn add_image_with(
    store: &Store,
    seed: &str,
    layers: &[&[u8]],
    created: &str,
    labels: &[(&str, &str)],
) -> ImageRecord {
    let lease = store
        .lease(Some(std::time::Duration::from_secs(600)))
        .unwrap();
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = store.put_bytes_leased(l, lease.id()).unwrap();
        diff_ids.push(d.to_string());
        descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": d.to_string(), "size": l.len()
        }));
    }
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let config = serde_json::json!({
        "created": created, "architecture": "amd64", "os": "linux",
        "config": {"Labels": labels, "Env": [format!("SEED={seed}")]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": []
    });
    let config = serde_json::to_vec(&config).unwrap();
    let cd = store.put_bytes_leased(&config, lease.id()).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cd.to_string(), "size": config.len()},
        "layers": descs
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    store
        .add_image(&manifest, &MediaType::new(MANIFEST))
        .unwrap()
}

pub fn digest(s: &str) -> Digest {
    Digest::sha256_of(s.as_bytes())
}
