//! Throughput of layer writing (per compression and thread count) and applying.
//!
//! `cargo run -p strata-layer --example layer_bench -- [files] [big_mib]` builds a scratch tree
//! of `files` small files (500 B–8 KiB) plus 4 files of `big_mib` MiB, then times each step.

use std::io::Write;
use std::time::Instant;

use strata_layer::{
    apply_layer, write_tree, ApplyOptions, CompressOptions, Compression, LayerWriter, WriteOptions,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric argument"))
        .collect();
    let files = args.first().copied().unwrap_or(5000);
    let big_mib = args.get(1).copied().unwrap_or(32);
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src");
    std::fs::create_dir(&src)?;
    // Semi-compressible content: text-like with a pseudo-random walk.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..files {
        let dir = src.join(format!("d{}", i % 100));
        std::fs::create_dir_all(&dir)?;
        let len = 500 + (next() % 7700) as usize;
        let body: Vec<u8> = (0..len)
            .map(|_| b"abcdefghij klmnop\n"[(next() % 18) as usize])
            .collect();
        std::fs::write(dir.join(format!("f{i}.txt")), body)?;
    }
    for i in 0..4 {
        let mut f = std::fs::File::create(src.join(format!("big{i}")))?;
        for _ in 0..big_mib * 16 {
            let chunk: Vec<u8> = (0..65536).map(|_| (next() % 64) as u8).collect();
            f.write_all(&chunk)?;
        }
    }
    let total_threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut blob_for_apply = Vec::new();
    for (c, level, threads) in [
        (Compression::None, None, 1),
        (Compression::Gzip, Some(1), 1),
        (Compression::Gzip, Some(1), total_threads),
        (Compression::Gzip, Some(6), 1),
        (Compression::Gzip, Some(6), total_threads),
        (Compression::Zstd, None, 1),
        (Compression::Zstd, None, total_threads),
    ] {
        let start = Instant::now();
        let mut w = LayerWriter::new(
            Vec::new(),
            &CompressOptions {
                compression: c,
                level,
                threads,
            },
        )?;
        write_tree(&src, &mut w, &WriteOptions::default())?;
        let (blob, d) = w.finish()?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "write {c:?} level={level:?} threads={threads}: {:.2}s, tar {} MiB -> blob {} MiB, {:.0} MiB/s",
            secs,
            d.diff_size >> 20,
            d.size >> 20,
            d.diff_size as f64 / 1048576.0 / secs
        );
        if c == Compression::Gzip && threads == total_threads && level == Some(6) {
            blob_for_apply = blob;
        }
    }
    // Reference: flate2's single-threaded encoder over the plain tar.
    let mut tar = Vec::new();
    write_tree(&src, &mut tar, &WriteOptions::default())?;
    let start = Instant::now();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(&tar)?;
    let gz = e.finish()?;
    println!(
        "flate2 GzEncoder (reference): {:.2}s -> {} MiB",
        start.elapsed().as_secs_f64(),
        gz.len() >> 20
    );

    for (name, blob) in [("tar", &tar), ("gzip", &blob_for_apply)] {
        let dst = tmp.path().join(format!("dst-{name}"));
        std::fs::create_dir(&dst)?;
        let start = Instant::now();
        let stats = apply_layer(&blob[..], &dst, &ApplyOptions::default())?;
        println!(
            "apply {name}: {:.2}s for {} entries",
            start.elapsed().as_secs_f64(),
            stats.entries
        );
    }
    // Reference: GNU tar extracting the same plain tar, when installed.
    let tar_path = tmp.path().join("layer.tar");
    std::fs::write(&tar_path, &tar)?;
    let dst = tmp.path().join("dst-gnu");
    std::fs::create_dir(&dst)?;
    let start = Instant::now();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&dst)
        .status();
    if status.is_ok_and(|s| s.success()) {
        println!(
            "GNU tar -x (reference): {:.2}s",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
