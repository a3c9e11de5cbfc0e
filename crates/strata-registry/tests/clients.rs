//! Real clients against a registry on loopback: skopeo copies in and out (anonymous,
//! htpasswd and token auth), two servers sharing one S3 bucket, webhooks, metrics, TLS.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{client, digest, push_image, verify_image, Backend, TestServer};
use serde_json::json;
use strata_registry::auth::AuthMode;

fn tool(name: &str) -> bool {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("STRATA_CI").as_deref() == Ok("1") {
            panic!("{name} is required in CI");
        }
        eprintln!("{name} not installed; skipping");
    }
    found
}

fn write_blob(dir: &Path, data: &[u8]) -> String {
    let d = digest(data);
    let p = dir.join("blobs/sha256").join(d.hex());
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
    d.to_string()
}

fn raw_digest(gz: &[u8]) -> String {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
    digest(&out).to_string()
}

fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    // Compressed, because skopeo compresses uncompressed layers on the way to a registry,
    // which would change the manifest digest this test compares.
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

/// Writes a two-layer OCI image layout tagged `tag`; returns the manifest digest.
fn oci_layout(dir: &Path, tag: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let l1 = layer_tar(&[("hello.txt", b"hello from strata\n")]);
    let l2 = layer_tar(&[
        ("etc/os-release", b"NAME=test\n"),
        ("bin/tool", &[0x7f, b'E', b'L', b'F']),
    ]);
    let (d1, d2) = (write_blob(dir, &l1), write_blob(dir, &l2));
    let diff_ids = [raw_digest(&l1), raw_digest(&l2)];
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/tool"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let dc = write_blob(dir, &config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dc, "size": config.len()},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d1, "size": l1.len()},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d2, "size": l2.len()},
        ],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let dm = write_blob(dir, &manifest);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": dm, "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    dm
}

fn skopeo(args: &[&str]) {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn layout_manifest_digest(dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// skopeo copy oci: -> registry -> oci:, checking digests end to end.
fn round_trip(addr: &str, tmp: &Path, creds: Option<&str>) {
    let src = tmp.join("src");
    let want = oci_layout(&src, "v1");
    let dest = format!("docker://{addr}/skopeo/test:v1");
    let mut push = vec!["copy", "--dest-tls-verify=false"];
    let mut pull = vec!["copy", "--src-tls-verify=false"];
    if let Some(c) = creds {
        push.extend(["--dest-creds", c]);
        pull.extend(["--src-creds", c]);
    }
    let src_ref = format!("oci:{}:v1", src.display());
    push.extend([src_ref.as_str(), dest.as_str()]);
    skopeo(&push);
    let back = tmp.join("back");
    let back_ref = format!("oci:{}:v1", back.display());
    pull.extend([dest.as_str(), back_ref.as_str()]);
    skopeo(&pull);
    assert_eq!(layout_manifest_digest(&back), want);
    // skopeo inspect through the registry reports the same digest.
    let mut inspect = vec!["inspect", "--tls-verify=false", "--raw"];
    if let Some(c) = creds {
        inspect.extend(["--creds", c]);
    }
    inspect.push(dest.as_str());
    let out = Command::new("skopeo").args(&inspect).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(digest(&out.stdout).to_string(), want);
}

async fn skopeo_copy_in_and_out(b: Backend) {
    if !tool("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = common::config(b, dir.path()).await else {
        return;
    };
    let s = TestServer::start(cfg).await;
    let addr = s.addr.to_string();
    let tmp = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || round_trip(&addr, &tmp, None))
        .await
        .unwrap();
    s.stop().await;
}

async fn skopeo_with_auth(mode: AuthMode) {
    if !tool("skopeo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(Backend::Fs, dir.path()).await.unwrap();
    let htpasswd = dir.path().join("htpasswd");
    std::fs::write(
        &htpasswd,
        format!("ci:{}\n", bcrypt::hash("ci-pw", 4).unwrap()),
    )
    .unwrap();
    cfg.auth.mode = mode;
    cfg.auth.htpasswd = Some(htpasswd);
    cfg.auth.token_secret = Some("a-shared-secret-of-enough-length".into());
    let s = TestServer::start(cfg).await;
    let addr = s.addr.to_string();
    let tmp = dir.path().to_path_buf();
    // Without credentials the push is refused.
    let src = tmp.join("src0");
    oci_layout(&src, "v1");
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", src.display()),
            &format!("docker://{addr}/skopeo/test:v1"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    tokio::task::spawn_blocking(move || round_trip(&addr, &tmp, Some("ci:ci-pw")))
        .await
        .unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_htpasswd() {
    skopeo_with_auth(AuthMode::Htpasswd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_token() {
    skopeo_with_auth(AuthMode::Token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = common::config(Backend::S3, dir.path()).await else {
        return;
    };
    let (a, b) = (
        TestServer::start(cfg.clone()).await,
        TestServer::start(cfg).await,
    );
    let c = client();
    let d = push_image(
        &c,
        &a,
        "shared/app",
        "v1",
        b"cfg",
        &[b"layer one", b"layer two"],
    )
    .await;
    verify_image(&c, &b, "shared/app", "v1").await;
    verify_image(&c, &b, "shared/app", &d.to_string()).await;
    // An upload started on one server is continued and finished on the other.
    let data = b"split across servers".to_vec();
    let r = c
        .post(a.url("/v2/shared/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .patch(a.url(&loc))
        .header("content-range", "0-4")
        .body(data[..5].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c.get(b.url(&loc)).send().await.unwrap();
    assert_eq!(r.headers()["range"], "0-4");
    let r = c
        .put(b.url(&format!("{loc}?digest={}", digest(&data))))
        .body(data[5..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let got = c
        .get(a.url(&format!("/v2/shared/app/blobs/{}", digest(&data))))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), &data[..]);
    // Tags and catalog agree; a delete through one is seen by the other.
    let v: serde_json::Value = c
        .get(b.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["repositories"], json!(["shared/app"]));
    c.delete(b.url("/v2/shared/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.get(a.url("/v2/shared/app/manifests/v1"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Real client: skopeo pushes through one and pulls through the other.
    if tool("skopeo") {
        let (aa, ba, tmp) = (
            a.addr.to_string(),
            b.addr.to_string(),
            dir.path().to_path_buf(),
        );
        tokio::task::spawn_blocking(move || {
            let src = tmp.join("src");
            let want = oci_layout(&src, "v1");
            skopeo(&[
                "copy",
                "--dest-tls-verify=false",
                &format!("oci:{}:v1", src.display()),
                &format!("docker://{aa}/x/y:v1"),
            ]);
            let back = tmp.join("back");
            skopeo(&[
                "copy",
                "--src-tls-verify=false",
                &format!("docker://{ba}/x/y:v1"),
                &format!("oci:{}:v1", back.display()),
            ]);
            assert_eq!(layout_manifest_digest(&back), want);
        })
        .await
        .unwrap();
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_metrics_and_shutdown() {
    use std::sync::{Arc, Mutex};
    // A receiver that fails the first delivery, to exercise retries.
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = {
        let (got, calls) = (got.clone(), calls.clone());
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (got, calls) = (got.clone(), calls.clone());
                async move {
                    if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    got.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    axum::http::StatusCode::OK
                }
            }),
        )
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(Backend::Fs, dir.path()).await.unwrap();
    cfg.notifications =
        vec![toml::from_str(&format!("url = \"{hook}\"\nbackoff = \"50ms\"")).unwrap()];
    let s = TestServer::start(cfg).await;
    let c = client();
    let d = push_image(&c, &s, "hooks/app", "v1", b"cfg", &[b"l"]).await;
    c.delete(s.url("/v2/hooks/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..100 {
        events = got.lock().unwrap().clone();
        if events.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(events.len(), 2, "{events:?}");
    let mut actions: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["events"][0]["action"].as_str().unwrap().to_string(),
                e["events"][0]["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            ("delete".to_string(), d.to_string()),
            ("push".to_string(), d.to_string())
        ]
    );
    assert!(calls.load(std::sync::atomic::Ordering::SeqCst) >= 3);

    let m = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("strata_registry_http_requests_total{method=\"PUT\",route=\"manifest\",status=\"201\"} 1"), "{m}");
    assert!(m.contains("strata_registry_http_request_duration_seconds_bucket{method=\"PUT\",route=\"upload\",le=\"+Inf\"} 2"), "{m}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !out.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("STRATA_CI").as_deref() != Ok("1"),
            "openssl is required in CI"
        );
        return;
    }
    let mut cfg = common::config(Backend::Fs, dir.path()).await.unwrap();
    cfg.tls = Some(strata_registry::config::TlsConfig { cert, key });
    let s = TestServer::start(cfg).await;
    let c = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let r = c
        .get(format!("https://{}/v2/", s.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(client()
        .get(format!("http://{}/v2/", s.addr))
        .send()
        .await
        .is_err());
    s.stop().await;
}

/// podman (root, vfs storage in a temp dir) pushes to and pulls from the registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_push_pull() {
    if !tool("podman") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(Backend::Fs, dir.path()).await.unwrap();
    let s = TestServer::start(cfg).await;
    let (addr, tmp) = (s.addr.to_string(), dir.path().to_path_buf());
    tokio::task::spawn_blocking(move || {
        let podman = |args: &[&str]| {
            let out = Command::new("podman")
                .arg("--root")
                .arg(tmp.join("root"))
                .arg("--runroot")
                .arg(tmp.join("run"))
                .args(["--storage-driver", "vfs"])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "podman {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        // podman names the pulled image after the path, so it must be a valid (lowercase) name.
        let src = std::env::temp_dir().join(format!("strata-podman-{}", std::process::id()));
        oci_layout(&src, "v1");
        let id = podman(&["pull", "-q", &format!("oci:{}:v1", src.display())])
            .trim()
            .to_string();
        let dest = format!("{addr}/podman/test:v1");
        podman(&["push", "--tls-verify=false", &id, &dest]);
        podman(&["rmi", "-f", &id]);
        let pulled = podman(&["pull", "-q", "--tls-verify=false", &dest])
            .trim()
            .to_string();
        let _ = std::fs::remove_dir_all(&src);
        assert_eq!(
            pulled, id,
            "image id (config digest) survives the round trip"
        );
    })
    .await
    .unwrap();
    s.stop().await;
}

per_backend!(skopeo_copy_in_and_out);
