//! Put test images straight into a store (before archive/import commands exist) and run
//! the built `strata` binary against it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use strata_oci::MediaType;
use strata_store::{ImageRecord, Store};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A tar holding one file, so layers are real layer blobs.
pub fn layer_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

/// Options for a fixture image.
pub struct Fixture<'a> {
    pub seed: &'a str,
    pub layers: Vec<Vec<u8>>,
    pub created: &'a str,
    pub labels: Vec<(&'a str, &'a str)>,
    pub history: Vec<(&'a str, bool)>,
}

impl<'a> Fixture<'a> {
    pub fn new(seed: &'a str) -> Self {
        Fixture {
            seed,
            layers: vec![layer_tar(&format!("{seed}.txt"), seed.as_bytes())],
            created: "2024-01-02T03:04:05Z",
            labels: Vec::new(),
            history: Vec::new(),
        }
    }

    pub fn add(self, store: &Store) -> ImageRecord {
        let lease = store
            .lease(Some(std::time::Duration::from_secs(600)))
            .unwrap();
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for l in &self.layers {
            let d = store.put_bytes_leased(l, lease.id()).unwrap();
            diff_ids.push(d.to_string());
            descs.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": l.len()
            }));
        }
        let labels: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        let history: Vec<serde_json::Value> = if self.history.is_empty() {
            self.layers
                .iter()
                .enumerate()
                .map(|(i, _)| serde_json::json!({"created": self.created, "created_by": format!("COPY layer{i} /")}))
                .collect()
        } else {
            self.history
                .iter()
                .map(|(by, empty)| {
                    serde_json::json!({"created": self.created, "created_by": by, "empty_layer": empty})
                })
                .collect()
        };
        let config = serde_json::json!({
            "created": self.created, "architecture": "amd64", "os": "linux", "author": "tests",
            "config": {"Labels": labels, "Env": [format!("SEED={}", self.seed)], "Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        let config = serde_json::to_vec(&config).unwrap();
        let cd = store.put_bytes_leased(&config, lease.id()).unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": config.len()},
            "layers": descs
        }))
        .unwrap();
        store
            .add_image(&manifest, &MediaType::new(MANIFEST))
            .unwrap()
    }
}

/// Add a fixture image and tag it with each of `tags`.
pub fn image(store: &Store, seed: &str, tags: &[&str]) -> ImageRecord {
    let r = Fixture::new(seed).add(store);
    for t in tags {
        store.tag(t, &r.manifest_digest).unwrap();
    }
    r
}

/// Run `strata ARGS` with the store at `root`.
pub fn strata(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("STRATA_ROOT", root)
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run and require success, returning stdout.
pub fn ok(root: &Path, args: &[&str]) -> String {
    let o = strata(root, args);
    assert!(
        o.status.success(),
        "strata {args:?} failed: {}\n{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}
