//! Compression throughput of [`LayerWriter`] over an existing tar file.
//!
//! `cargo run --release -p strata-layer --example compress_bench -- [--out DIR] <file.tar>
//! [spec...]` where each spec is `gzip:LEVEL:THREADS`, `zstd:LEVEL:THREADS` or `none` (threads 0 = all
//! cores). Without specs a default matrix runs. Reports wall time and the process's CPU
//! seconds (user + system, all threads), which stay meaningful on a loaded machine. With
//! `--out DIR` each blob is also written to `DIR/<spec>.blob`, e.g. to check it with
//! `gzip -t` or `zstd -t`.

use std::io::{Read, Write};
use std::time::Instant;

use strata_layer::{CompressOptions, Compression, LayerWriter};

fn cpu_seconds() -> f64 {
    // utime and stime (fields 14 and 15, after the parenthesised command name) in clock
    // ticks, which are 1/100 s on Linux.
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("numeric tick count");
    (ticks(11) + ticks(12)) / 100.0
}

fn parse(spec: &str) -> CompressOptions {
    let parts: Vec<&str> = spec.split(':').collect();
    let compression = match parts[0] {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "zstd" => Compression::Zstd,
        other => panic!("unknown compression {other}"),
    };
    CompressOptions {
        compression,
        level: parts.get(1).map(|l| l.parse().expect("numeric level")),
        threads: parts
            .get(2)
            .map(|t| t.parse().expect("numeric threads"))
            .unwrap_or(0),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: compress_bench [--out DIR] <file.tar> [spec...]";
    let mut args = std::env::args().skip(1).peekable();
    let out_dir = if args.peek().map(String::as_str) == Some("--out") {
        args.next();
        Some(std::path::PathBuf::from(args.next().expect(usage)))
    } else {
        None
    };
    let path = args.next().expect(usage);
    let len = std::fs::metadata(&path)?.len();
    let mut specs: Vec<String> = args.collect();
    if specs.is_empty() {
        specs = ["gzip:6:1", "gzip:6:0", "gzip:1:0", "zstd:3:0"]
            .map(String::from)
            .to_vec();
    }
    let mib = len as f64 / 1048576.0;
    for spec in specs {
        let options = parse(&spec);
        let (wall0, cpu0) = (Instant::now(), cpu_seconds());
        let sink: Box<dyn Write> = match &out_dir {
            Some(dir) => Box::new(std::io::BufWriter::new(std::fs::File::create(
                dir.join(format!("{spec}.blob")),
            )?)),
            None => Box::new(std::io::sink()),
        };
        let mut w = LayerWriter::new(sink, &options)?;
        // Streamed from the file (in the page cache after the first run) in 256 KiB reads,
        // as a push reads a stored layer, so peak RSS shows the encoder's own memory.
        let mut file = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n])?;
        }
        let (_, d) = w.finish()?;
        let (wall, cpu) = (wall0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
        println!(
            "{spec:<10} {mib:.0} MiB -> {:.1} MiB ({:.1}%)  wall {wall:.2}s {:.0} MiB/s  cpu {cpu:.2}s {:.1} cpu-s/GiB",
            d.size as f64 / 1048576.0,
            d.size as f64 * 100.0 / len as f64,
            mib / wall,
            cpu / (mib / 1024.0),
        );
    }
    Ok(())
}
