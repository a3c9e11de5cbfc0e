//! Round trips, thread-count independence and the stored fast path.

use super::*;
use std::io::Read;

fn text(n: usize) -> Vec<u8> {
    // Compressible but not trivial: a counter pattern with some noise.
    (0..n).map(|i| ((i * 7) ^ (i >> 5)) as u8 % 61).collect()
}

fn random(n: usize, mut x: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Random base64-like text: skewed bytes without repeats, the Huffman-only case.
fn base64ish(n: usize, seed: u64) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    random(n, seed)
        .iter()
        .map(|b| alphabet[(b & 63) as usize])
        .collect()
}

/// Text, random bytes, a repeat of earlier bytes and base64-like text, switching at odd
/// offsets so runs start and end inside segments and blocks.
fn mixed(n: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(n);
    let mut i = 0u64;
    while data.len() < n {
        match i % 4 {
            0 => data.extend(text(150_001)),
            1 => data.extend(random(300_007, i + 1)),
            2 => data.extend(base64ish(200_003, i + 1)),
            _ => {
                let from = data.len() - 20_000;
                data.extend_from_within(from..from + 20_000);
            }
        }
        i += 1;
    }
    data.truncate(n);
    data
}

fn gz(data: &[u8], level: u32, threads: usize, write_size: usize) -> Vec<u8> {
    let mut e = ParGzEncoder::new(Vec::new(), level, threads);
    for chunk in data.chunks(write_size.max(1)) {
        e.write_all(chunk).unwrap();
    }
    e.finish().unwrap()
}

fn gunzip(blob: &[u8]) -> Vec<u8> {
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(blob)
        .read_to_end(&mut back)
        .unwrap();
    back
}

#[test]
fn round_trips_and_is_thread_count_independent() {
    let sizes = [0, 1, 1000, SEGMENT, BLOCK, BLOCK + 1, 3 * BLOCK + 12345];
    for n in sizes {
        for data in [text(n), random(n, 9), mixed(n)] {
            let one = gz(&data, 6, 1, 1 << 20);
            // Different thread counts and write sizes must not change a single byte.
            for (threads, write_size) in [(2, 4096), (3, 100_003), (8, 1 << 20)] {
                assert_eq!(
                    one,
                    gz(&data, 6, threads, write_size),
                    "{n} bytes, {threads} threads, writes of {write_size}"
                );
            }
            assert_eq!(gunzip(&one), data, "{n} bytes");
        }
    }
}

#[test]
fn every_level_round_trips() {
    let data = mixed(2 * BLOCK + 777);
    for level in 0..=9 {
        let blob = gz(&data, level, 2, 65536);
        assert_eq!(gunzip(&blob), data, "level {level}");
        assert_eq!(blob, gz(&data, level, 1, 1 << 20), "level {level}");
    }
}

#[test]
fn dictionary_keeps_ratio_close_to_serial() {
    let data = text(4 * BLOCK);
    let par = gz(&data, 6, 2, 1 << 20);
    let mut serial = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    serial.write_all(&data).unwrap();
    let serial = serial.finish().unwrap();
    assert!(
        par.len() < serial.len() + serial.len() / 10 + 256,
        "{} vs {}",
        par.len(),
        serial.len()
    );
}

#[test]
fn random_data_is_stored_with_tiny_overhead() {
    let data = random(3 * BLOCK, 5);
    let blob = gz(&data, 6, 2, 1 << 20);
    // 5 bytes per stored block of 64 KiB plus header and trailer: well under 0.1%.
    assert!(
        blob.len() < data.len() + data.len() / 1000,
        "{}",
        blob.len()
    );
    assert_eq!(gunzip(&blob), data);
}

#[test]
fn base64_like_text_gets_its_huffman_gain() {
    let data = base64ish(2 * BLOCK, 13);
    let blob = gz(&data, 6, 2, 1 << 20);
    // 6 bits of information per byte: Huffman coding alone reaches about 75%.
    assert!(blob.len() < data.len() * 77 / 100, "{}", blob.len());
    assert_eq!(gunzip(&blob), data);
}

#[test]
fn repeated_random_data_is_still_deflated() {
    // High-entropy bytes with a short period: storing would forfeit a huge ratio.
    let unit = random(10_000, 11);
    let data: Vec<u8> = unit.iter().copied().cycle().take(2 * BLOCK).collect();
    let blob = gz(&data, 6, 2, 1 << 20);
    assert!(blob.len() < data.len() / 20, "{}", blob.len());
    assert_eq!(gunzip(&blob), data);
}

#[test]
fn output_bytes_are_pinned() {
    // The exact bytes are part of the contract (layer digests must reproduce across
    // machines and releases); a change here changes every gzip layer digest strata makes.
    let blob = gz(&mixed(BLOCK + 4321), 6, 2, 1 << 20);
    let digest = strata_oci::Digest::sha256_of(&blob).to_string();
    assert_eq!(
        digest,
        "sha256:155b623ef6707130916473f50b0eac22b28df8cb70989a3f168732221f374f6b"
    );
}

#[test]
fn dropping_mid_stream_stops_the_workers() {
    // An abandoned encoder (say, a failed upload) must not hang or leak its threads'
    // work: dropping it drains the queue and joins the workers.
    let data = mixed(5 * BLOCK);
    let mut e = ParGzEncoder::new(Vec::new(), 6, 3);
    e.write_all(&data).unwrap();
    assert!(
        e.pool.is_some(),
        "five blocks on three threads use the pool"
    );
    drop(e);
}

#[test]
fn errors_from_the_inner_writer_surface() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut e = ParGzEncoder::new(Full, 6, 2);
    let err = e
        .write_all(&text(3 * BLOCK))
        .and_then(|()| e.finish().map(drop))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
}

/// The generator of the integration property test, which found the case below.
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

#[test]
fn a_block_encodes_the_same_whatever_the_worker_encoded_before() {
    // A worker that encoded the first block (stored, Huffman and deflated runs) must
    // encode the second exactly as a fresh worker does; a reset zlib state did not.
    let pieces: [(u8, usize, u64); 6] = [
        (0, 3327, 6474295428655),
        (3, 21466, 13679198967400221630),
        (0, 326995, 11170104881541042784),
        (0, 218225, 16666055264599555000),
        (3, 383424, 9245582052472812738),
        (1, 216219, 4582279553488537174),
    ];
    let mut data = Vec::new();
    for (kind, len, seed) in pieces {
        stretch(kind, len, seed, &mut data);
    }
    let second = &data[BLOCK - WINDOW..];
    let mut fresh = Vec::new();
    block::BlockEncoder::new(6)
        .encode(second, WINDOW, &mut fresh)
        .unwrap();
    let mut worker = block::BlockEncoder::new(6);
    worker.encode(&data[..BLOCK], 0, &mut Vec::new()).unwrap();
    let mut reused = Vec::new();
    worker.encode(second, WINDOW, &mut reused).unwrap();
    assert!(fresh == reused, "output depends on the worker's history");
}
