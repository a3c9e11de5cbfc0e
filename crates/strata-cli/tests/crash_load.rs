//! A killed `strata load` leaves the store as it was.
//!
//! A ~256 MiB docker-archive of random data in four layers is generated once under
//! `target/fixtures/`. Each round loads it into a store that already holds a small image
//! and SIGKILLs the load at a random moment. Afterwards `strata system check` must pass,
//! the store must list either just the small image (unchanged) or that plus the complete
//! big image, and no ingest (temporary) files may remain. Rounds: `STRATA_CRASH_KILLS`
//! (default 12); the random seed is printed and can be fixed with `STRATA_CRASH_SEED`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use strata_oci::{Algorithm, DigestWriter};
use strata_testkit::{busybox, fixtures_dir, Strata, TempRoot};

const LAYERS: usize = 4;
const LAYER_BYTES: usize = 64 << 20;

fn strata(root: &Path) -> Strata {
    Strata::new(env!("CARGO_BIN_EXE_strata"), root)
}

/// xorshift64*: fast, deterministic filler that does not compress.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The big archive (classic docker-archive layout), generated on first use.
fn big_archive() -> PathBuf {
    let dir = fixtures_dir().unwrap();
    let out = dir.join("crash-load-v1.tar");
    if out.is_file() {
        return out;
    }
    let work = tempfile::tempdir_in(&dir).unwrap();
    let mut diff_ids = Vec::new();
    let mut layer_files = Vec::new();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for i in 0..LAYERS {
        let path = work.path().join(format!("layer{i}.tar"));
        let file = BufWriter::new(File::create(&path).unwrap());
        let mut tar = tar::Builder::new(DigestWriter::new(file, Algorithm::Sha256));
        let mut data = vec![0u8; LAYER_BYTES];
        for chunk in data.chunks_mut(8) {
            let v = rng.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        tar.append_data(&mut h, format!("data/blob{i}.bin"), &data[..])
            .unwrap();
        let (mut w, digest, _) = tar.into_inner().unwrap().finish();
        w.flush().unwrap();
        diff_ids.push(digest.to_string());
        layer_files.push(path);
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_name = format!("{}.json", strata_oci::Digest::sha256_of(&config).hex());
    let tmp = work.path().join("archive.tar");
    let mut tar = tar::Builder::new(BufWriter::new(File::create(&tmp).unwrap()));
    let mut layers = Vec::new();
    for (i, path) in layer_files.iter().enumerate() {
        let name = format!("{}/layer.tar", &diff_ids[i][7..]);
        tar.append_path_with_name(path, &name).unwrap();
        layers.push(name);
    }
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": config_name, "RepoTags": ["crash/big:latest"], "Layers": layers}
    ]))
    .unwrap();
    for (name, bytes) in [
        (config_name.as_str(), &config),
        ("manifest.json", &manifest),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    tar.into_inner().unwrap().flush().unwrap();
    std::fs::rename(&tmp, &out).unwrap();
    out
}

fn ingest_files(root: &Path) -> usize {
    std::fs::read_dir(root.join(strata_store::LAYOUT_DIR).join("ingest"))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

#[test]
fn killed_loads_leave_the_store_consistent() {
    let archive = big_archive();
    let archive_s = archive.to_str().unwrap();
    let fx = busybox().unwrap();
    let tmp = TempRoot::new().unwrap();

    // A reference load: how long a whole load takes, and what the image is.
    let reference = strata(&tmp.store());
    let start = Instant::now();
    reference.run(&["load", "-i", archive_s]).unwrap();
    let full = start.elapsed();
    let store = strata_store::Store::open(reference.root()).unwrap();
    let want = store
        .resolve("crash/big:latest")
        .unwrap()
        .record
        .manifest_digest;

    let kills: usize = std::env::var("STRATA_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("STRATA_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test: full load {full:?}, {kills} kills, seed {seed}");
    let mut rng = Rng(seed);
    let (mut unchanged, mut complete) = (0, 0);
    for round in 0..kills {
        let s = strata(&tmp.path().join(format!("round{round}")));
        s.run(&["import", fx.layer_tar.to_str().unwrap(), "small:1"])
            .unwrap();
        // Kill somewhere between 2% and 98% of a full load's duration.
        let frac = 0.02 + (rng.next() % 960) as f64 / 1000.0;
        let delay = full.mul_f64(frac);
        let mut child = s
            .command()
            .args(["load", "-q", "-i", archive_s])
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();

        let check = s.output(&["system", "check"]).unwrap();
        assert!(
            check.status.success(),
            "round {round} (killed at {delay:?}, {status}): system check failed:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        assert_eq!(
            ingest_files(s.root()),
            0,
            "round {round}: temporary files left after the next command"
        );
        let store = strata_store::Store::open(s.root()).unwrap();
        let images = store.list_images().unwrap();
        match images.len() {
            1 => {
                assert_eq!(images[0].tags[0].familiar(), "small:1", "round {round}");
                unchanged += 1;
            }
            2 => {
                let big = store.resolve("crash/big:latest").unwrap();
                assert_eq!(big.record.manifest_digest, want, "round {round}");
                for l in &big.record.layers {
                    assert!(
                        store.has_blob(&l.digest),
                        "round {round}: layer {} missing",
                        l.digest
                    );
                }
                complete += 1;
            }
            n => panic!("round {round}: {n} images after a killed load"),
        }
        // Every few rounds, the load is retried and completes on the same store.
        if round % 4 == 0 {
            s.run(&["load", "-q", "-i", archive_s]).unwrap();
            assert_eq!(
                strata_store::Store::open(s.root())
                    .unwrap()
                    .resolve("crash/big")
                    .unwrap()
                    .record
                    .manifest_digest,
                want
            );
        }
        std::fs::remove_dir_all(s.root()).unwrap();
    }
    eprintln!("crash test: {kills} kills: {unchanged} left the store unchanged, {complete} completed; all consistent");
    assert_eq!(unchanged + complete, kills);
}
