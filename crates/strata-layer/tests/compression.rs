//! Compressed layers through the public API: identical blob bytes (and so digests) for any
//! thread count, valid streams for independent decoders, and the incompressible fast path.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use strata_layer::{CompressOptions, Compression, LayerReader, LayerWriter};

/// A layer-like mix: text, random (already compressed) bytes, a copy of earlier bytes and
/// base64-like text, in odd-sized pieces so every block boundary falls somewhere new.
fn layer_like(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words = [
        "fn ", "let ", "mut ", "self", ".rs\n", "usr/lib/", "\0\0\0\0", "=0644 ",
    ];
    let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut data = Vec::with_capacity(n);
    let mut piece = 0;
    while data.len() < n {
        let len = 10_000 + (rand() % 400_000) as usize;
        match piece % 4 {
            0 => (0..len / 4)
                .for_each(|_| data.extend_from_slice(words[(rand() % 8) as usize].as_bytes())),
            1 => data.extend((0..len).map(|_| rand() as u8)),
            2 => data.extend((0..len).map(|_| b64[(rand() % 64) as usize])),
            _ => {
                let from = data.len().saturating_sub(len.min(30_000));
                data.extend_from_within(from..);
            }
        }
        piece += 1;
    }
    data.truncate(n);
    data
}

fn compress(data: &[u8], compression: Compression, threads: usize) -> Vec<u8> {
    let options = CompressOptions {
        compression,
        level: None,
        threads,
    };
    let mut w = LayerWriter::new(Vec::new(), &options).unwrap();
    // Uneven write sizes: the output must not depend on how the tar arrives either.
    let mut rest = data;
    let mut step = 1;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        w.write_all(&rest[..n]).unwrap();
        rest = &rest[n..];
        step = step * 7 % 300_007 + 1;
    }
    w.finish().unwrap().0
}

#[test]
fn blob_bytes_do_not_depend_on_the_thread_count() {
    let data = layer_like(9 * 1024 * 1024 + 4321);
    for compression in [Compression::Gzip, Compression::Zstd] {
        let one = compress(&data, compression, 1);
        for threads in [2, 3, 8] {
            assert!(
                one == compress(&data, compression, threads),
                "{compression:?}: 1 and {threads} threads give different blobs"
            );
        }
        let mut r = LayerReader::new(&one[..], Some(compression)).unwrap();
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert!(back == data, "{compression:?} round trip");
    }
}

#[test]
fn gzip_blobs_decode_with_gnu_gzip() {
    let gzip = Command::new("gzip").arg("--version").output();
    if gzip.is_err() {
        assert!(
            std::env::var("STRATA_CI").as_deref() != Ok("1"),
            "gzip is not installed"
        );
        return;
    }
    let data = layer_like(5 * 1024 * 1024);
    let blob = compress(&data, Compression::Gzip, 2);
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&blob));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "gzip -d failed");
    assert!(out.stdout == data, "gzip -d gave different bytes");
}

#[test]
fn incompressible_data_costs_almost_nothing_in_size() {
    let mut x: u64 = 7;
    let data: Vec<u8> = (0..4 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let blob = compress(&data, Compression::Gzip, 2);
    assert!(
        blob.len() < data.len() + data.len() / 1000,
        "{} bytes for {}",
        blob.len(),
        data.len()
    );
}

/// One stretch of a generated layer: (kind, length, seed).
fn stretch(kind: u8, len: usize, seed: u64, data: &mut Vec<u8>) {
    let mut x = seed | 1;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    match kind % 5 {
        0 => data.extend((0..len).map(|_| rand() as u8)),
        1 => data.extend((0..len).map(|_| b"0123456789abcdef"[(rand() % 16) as usize])),
        2 => data.resize(data.len() + len, 0),
        3 => data.extend((0..len).map(|i| b"hello, layer\n"[i % 13])),
        _ => {
            let from = data.len().saturating_sub(len.min(40_000));
            let copy = data[from..].to_vec();
            data.extend(copy.iter().cycle().take(len));
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    #[test]
    fn any_mix_round_trips_identically_on_any_thread_count(
        pieces in proptest::collection::vec((0u8..5, 1usize..400_000, proptest::prelude::any::<u64>()), 1..12),
        threads in 2usize..5,
    ) {
        let mut data = Vec::new();
        for (kind, len, seed) in pieces {
            stretch(kind, len, seed, &mut data);
        }
        let one = compress(&data, Compression::Gzip, 1);
        proptest::prop_assert!(one == compress(&data, Compression::Gzip, threads));
        let mut back = Vec::new();
        LayerReader::new(&one[..], None).unwrap().read_to_end(&mut back).unwrap();
        proptest::prop_assert!(back == data);
    }
}
