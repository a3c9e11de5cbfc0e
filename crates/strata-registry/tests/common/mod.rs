//! Shared test harness: in-process servers on loopback over either backend, a local S3 API
//! (moto) started once per test binary, and small blob/manifest builders.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::json;
use strata_oci::Digest;
use strata_registry::config::{Config, StorageKind};
use strata_registry::storage::fs::FsStorage;
use strata_registry::storage::s3::{S3Config, S3Storage};
use strata_registry::storage::Storage;

/// Which storage backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Fs,
    S3,
}

struct Moto {
    port: u16,
    _child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self._child.kill();
    }
}

static MOTO: OnceLock<Option<Moto>> = OnceLock::new();

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `moto_server` once; `None` when it is not installed (an error under `STRATA_CI=1`).
pub fn moto_port() -> Option<u16> {
    MOTO.get_or_init(|| {
        let port = free_port();
        // Test binaries never drop statics, so a watchdog shell stops moto when we exit.
        let script = format!(
            "command -v moto_server >/dev/null || exit 127; moto_server -H 127.0.0.1 -p {port} & m=$!; \
             while kill -0 {pid} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m",
            pid = std::process::id()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("STRATA_CI").as_deref() == Ok("1") {
                    panic!("moto_server is required in CI (scripts/s3-server.sh install): {e}");
                }
                eprintln!("moto_server not available ({e}); skipping S3 tests");
                return None;
            }
        };
        let mut child = child;
        for _ in 0..300 {
            if let Ok(Some(st)) = child.try_wait() {
                if std::env::var("STRATA_CI").as_deref() == Ok("1") {
                    panic!("moto_server is required in CI (scripts/s3-server.sh install): exited {st}");
                }
                eprintln!("moto_server not available ({st}); skipping S3 tests");
                return None;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(Moto { port, _child: child });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto_server did not start on port {port}");
    })
    .as_ref()
    .map(|m| m.port)
}

/// Creates a fresh bucket on the local S3 API and returns its config.
pub async fn s3_bucket() -> Option<S3Config> {
    let port = moto_port()?;
    let bucket = format!("strata-{}", uuid::Uuid::new_v4().simple());
    let endpoint = format!("http://127.0.0.1:{port}");
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("create bucket");
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    Some(S3Config {
        bucket,
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        prefix: None,
    })
}

/// A config for `backend` with fresh storage; `None` if the backend is unavailable.
pub async fn config(backend: Backend, dir: &std::path::Path) -> Option<Config> {
    let mut cfg = Config {
        addr: "127.0.0.1:0".into(),
        ..Default::default()
    };
    match backend {
        Backend::Fs => {
            cfg.storage.kind = StorageKind::Filesystem;
            cfg.storage.path = dir.join("data");
        }
        Backend::S3 => {
            cfg.storage.kind = StorageKind::S3;
            cfg.storage.s3 = Some(s3_bucket().await?);
        }
    }
    Some(cfg)
}

/// A storage for the storage-trait suite.
pub async fn storage(backend: Backend, dir: &std::path::Path) -> Option<Arc<dyn Storage>> {
    match backend {
        Backend::Fs => Some(Arc::new(FsStorage::open(dir.join("data")).unwrap())),
        Backend::S3 => Some(Arc::new(S3Storage::new(&s3_bucket().await?).unwrap())),
    }
}

/// A registry running in-process on loopback.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub state: strata_registry::routes::AppState,
    pub cfg: Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(cfg: Config) -> TestServer {
        let storage = strata_registry::server::open_storage(&cfg).unwrap();
        let state = strata_registry::server::build_state(&cfg, storage).unwrap();
        let listener = strata_registry::server::bind(&cfg).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (c2, s2) = (cfg.clone(), state.clone());
        let task = tokio::spawn(async move {
            strata_registry::server::serve(c2, listener, s2, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            addr,
            base: format!("http://{addr}"),
            state,
            cfg,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// A handle for URL building only (no server ownership), e.g. inside spawned tasks.
    pub fn attach(base: &str) -> TestServer {
        let cfg = Config::default();
        let storage: Arc<dyn Storage> =
            Arc::new(FsStorage::open(std::env::temp_dir().join("strata-attach")).unwrap());
        let state = strata_registry::server::build_state(&cfg, storage).unwrap();
        let addr = base.trim_start_matches("http://").parse().unwrap();
        TestServer {
            addr,
            base: base.to_string(),
            state,
            cfg,
            stop: None,
            task: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client sending HTTP Basic credentials on every request.
pub fn client_with_basic(user: &str, password: &str) -> reqwest::Client {
    use base64::Engine;
    let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Basic {v}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(h)
        .build()
        .unwrap()
}

pub fn digest(data: &[u8]) -> Digest {
    Digest::sha256_of(data)
}

/// Pushes a blob monolithically (POST then PUT); returns its digest.
pub async fn push_blob(c: &reqwest::Client, s: &TestServer, repo: &str, data: &[u8]) -> Digest {
    let d = digest(data);
    let r = c
        .post(s.url(&format!("/v2/{repo}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .put(s.url(&format!("{loc}?digest={d}")))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    d
}

/// An image manifest over `config` and `layers` (bytes, media type).
pub fn image_manifest(
    config: &[u8],
    layers: &[&[u8]],
    subject: Option<(&Digest, usize)>,
    artifact: Option<&str>,
) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": artifact.unwrap_or("application/vnd.oci.image.config.v1+json"),
                   "digest": digest(config).to_string(), "size": config.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": digest(l).to_string(), "size": l.len()})).collect::<Vec<_>>(),
    });
    if let Some((d, size)) = subject {
        m["subject"] = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d.to_string(), "size": size});
    }
    serde_json::to_vec(&m).unwrap()
}

/// Pushes config + layers + manifest under `tag`; returns the manifest digest.
pub async fn push_image(
    c: &reqwest::Client,
    s: &TestServer,
    repo: &str,
    tag: &str,
    config: &[u8],
    layers: &[&[u8]],
) -> Digest {
    push_blob(c, s, repo, config).await;
    for l in layers {
        push_blob(c, s, repo, l).await;
    }
    let m = image_manifest(config, layers, None, None);
    let r = c
        .put(s.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    digest(&m)
}

/// Pulls a manifest and all its blobs, checking every digest.
pub async fn verify_image(c: &reqwest::Client, s: &TestServer, repo: &str, reference: &str) {
    let r = c
        .get(s.url(&format!("/v2/{repo}/manifests/{reference}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{repo}:{reference}");
    let m: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let mut blobs = vec![m["config"]["digest"].as_str().unwrap().to_string()];
    for l in m["layers"].as_array().unwrap() {
        blobs.push(l["digest"].as_str().unwrap().to_string());
    }
    for b in blobs {
        let r = c
            .get(s.url(&format!("/v2/{repo}/blobs/{b}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{repo} blob {b}");
        let data = r.bytes().await.unwrap();
        assert_eq!(digest(&data).to_string(), b);
    }
}

/// Generates one `#[tokio::test]` per backend for each listed async fn taking a `Backend`.
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod fs {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::common::Backend::Fs).await } )*
        }
        mod s3 {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::common::Backend::S3).await } )*
        }
    };
}
