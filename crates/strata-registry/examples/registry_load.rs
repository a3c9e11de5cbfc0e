//! Load generator for registry benchmarks (any distribution-spec registry).
//!
//! Usage: registry_load URL SCENARIO [--clients N] [--seconds S] [--size-mib M]
//! Scenarios:
//! - `pull`: clients fetch a random small image (manifest, then its blobs) in a loop.
//! - `push`: clients push small unique images (HEAD, upload missing blobs, manifest).
//! - `large`: each client uploads then downloads its own `--size-mib` blob, in a loop (the
//!   upload is never skipped, so the server receives and hashes every byte each time).
//!
//! Prints one JSON object: requests, seconds, requests_per_sec, p50_ms, p99_ms, mib_per_sec.

use std::time::{Duration, Instant};

use serde_json::json;
use strata_oci::Digest;

struct Args {
    url: String,
    scenario: String,
    clients: usize,
    seconds: u64,
    size_mib: usize,
}

fn parse_args() -> Args {
    let mut a = std::env::args().skip(1);
    let url = a.next().expect("URL");
    let scenario = a.next().expect("SCENARIO");
    let mut args = Args {
        url,
        scenario,
        clients: 64,
        seconds: 10,
        size_mib: 256,
    };
    while let Some(flag) = a.next() {
        let v = a.next().expect("flag value");
        match flag.as_str() {
            "--clients" => args.clients = v.parse().expect("clients"),
            "--seconds" => args.seconds = v.parse().expect("seconds"),
            "--size-mib" => args.size_mib = v.parse().expect("size"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

type Client = reqwest::Client;

async fn upload(c: &Client, base: &str, repo: &str, data: Vec<u8>, lat: &mut Vec<Duration>) {
    let d = Digest::sha256_of(&data);
    let t = Instant::now();
    let r = c
        .head(format!("{base}/v2/{repo}/blobs/{d}"))
        .send()
        .await
        .unwrap();
    lat.push(t.elapsed());
    if r.status() == 200 {
        return;
    }
    upload_unchecked(c, base, repo, &d, data, lat).await;
}

/// POST+PUT without asking first: the server receives and hashes every byte even when
/// it holds the blob already.
async fn upload_unchecked(
    c: &Client,
    base: &str,
    repo: &str,
    d: &Digest,
    data: impl Into<reqwest::Body>,
    lat: &mut Vec<Duration>,
) {
    let t = Instant::now();
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "start upload");
    lat.push(t.elapsed());
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let loc = if loc.starts_with("http") {
        loc
    } else {
        format!("{base}{loc}")
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let t = Instant::now();
    let r = c
        .put(format!("{loc}{sep}digest={d}"))
        .header("content-type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(
        status,
        201,
        "finish upload: {}",
        r.text().await.unwrap_or_default()
    );
    lat.push(t.elapsed());
}

fn manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256_of(config).to_string(), "size": config.len()},
        "layers": layers.iter().map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": Digest::sha256_of(l).to_string(), "size": l.len()})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

async fn push_image(
    c: &Client,
    base: &str,
    repo: &str,
    tag: &str,
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
    lat: &mut Vec<Duration>,
) {
    let refs: Vec<&[u8]> = layers.iter().map(|l| l.as_slice()).collect();
    let m = manifest(&config, &refs);
    upload(c, base, repo, config, lat).await;
    for l in layers {
        upload(c, base, repo, l, lat).await;
    }
    let t = Instant::now();
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(m)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "manifest push");
    lat.push(t.elapsed());
}

fn blob(seed: &str, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    let mut x = Digest::sha256_of(seed.as_bytes()).hex().as_bytes().to_vec();
    while out.len() < size {
        out.extend_from_slice(&x);
        x = Digest::sha256_of(&x).hex().as_bytes().to_vec();
    }
    out.truncate(size);
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let base = a.url.trim_end_matches('/').to_string();
    let deadline = Duration::from_secs(a.seconds);
    if a.scenario == "pull" {
        let mut seed_lat = Vec::new();
        for i in 0..8 {
            let layers = (0..3)
                .map(|j| blob(&format!("pull {i} {j}"), 16 * 1024))
                .collect();
            push_image(
                &c,
                &base,
                "bench/pull",
                &format!("t{i}"),
                blob(&format!("cfg {i}"), 1024),
                layers,
                &mut seed_lat,
            )
            .await;
        }
    }
    // Large blobs are made and hashed before the clock starts: only transfers are timed.
    let large: Vec<(bytes::Bytes, Digest)> = if a.scenario == "large" {
        (0..a.clients)
            .map(|w| {
                let data = blob(
                    &format!("large {w} {}", std::process::id()),
                    a.size_mib << 20,
                );
                let d = Digest::sha256_of(&data);
                (bytes::Bytes::from(data), d)
            })
            .collect()
    } else {
        Vec::new()
    };
    let started = Instant::now();
    let mut bytes = 0u64;
    let lat: Vec<Duration> = match a.scenario.as_str() {
        "pull" => {
            let mut tasks = Vec::new();
            for w in 0..a.clients {
                let (c, base) = (c.clone(), base.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut n = w;
                    while started.elapsed() < deadline {
                        let tag = format!("t{}", n % 8);
                        n += 1;
                        let t = Instant::now();
                        let r = c
                            .get(format!("{base}/v2/bench/pull/manifests/{tag}"))
                            .header("accept", "application/vnd.oci.image.manifest.v1+json")
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status(), 200);
                        let m: serde_json::Value =
                            serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                        lat.push(t.elapsed());
                        for l in m["layers"].as_array().unwrap() {
                            let t = Instant::now();
                            let r = c
                                .get(format!(
                                    "{base}/v2/bench/pull/blobs/{}",
                                    l["digest"].as_str().unwrap()
                                ))
                                .send()
                                .await
                                .unwrap();
                            assert_eq!(r.status(), 200);
                            r.bytes().await.unwrap();
                            lat.push(t.elapsed());
                        }
                    }
                    lat
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        }
        "push" => {
            let shared = blob("shared base layer", 64 * 1024);
            let mut tasks = Vec::new();
            for w in 0..a.clients {
                let (c, base, shared) = (c.clone(), base.clone(), shared.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut i = 0;
                    while started.elapsed() < deadline {
                        let own = blob(&format!("own {w} {i} {}", std::process::id()), 8 * 1024);
                        let cfg = blob(&format!("cfg {w} {i} {}", std::process::id()), 512);
                        push_image(
                            &c,
                            &base,
                            &format!("bench/push{}", w % 8),
                            &format!("w{w}-{i}"),
                            cfg,
                            vec![shared.clone(), own],
                            &mut lat,
                        )
                        .await;
                        i += 1;
                    }
                    lat
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        }
        "large" => {
            let mut tasks = Vec::new();
            for (data, d) in large {
                let (c, base) = (c.clone(), base.clone());
                tasks.push(tokio::spawn(async move {
                    let size = data.len() as u64;
                    let mut lat = Vec::new();
                    let mut moved = 0u64;
                    while started.elapsed() < deadline {
                        upload_unchecked(&c, &base, "bench/large", &d, data.clone(), &mut lat)
                            .await;
                        let t = Instant::now();
                        let r = c
                            .get(format!("{base}/v2/bench/large/blobs/{d}"))
                            .send()
                            .await
                            .unwrap();
                        let got = r.bytes().await.unwrap();
                        assert_eq!(got.len() as u64, size);
                        lat.push(t.elapsed());
                        moved += 2 * size;
                    }
                    (lat, moved)
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                let (lat, moved) = t.await.unwrap();
                all.extend(lat);
                bytes += moved;
            }
            all
        }
        other => panic!("unknown scenario {other}"),
    };
    let secs = started.elapsed().as_secs_f64();
    let mut sorted = lat;
    sorted.sort();
    let out = json!({
        "scenario": a.scenario,
        "clients": a.clients,
        "requests": sorted.len(),
        "seconds": secs,
        "requests_per_sec": sorted.len() as f64 / secs,
        "p50_ms": percentile(&sorted, 0.50),
        "p99_ms": percentile(&sorted, 0.99),
        "mib_per_sec": bytes as f64 / (1 << 20) as f64 / secs,
    });
    println!("{out}");
}
