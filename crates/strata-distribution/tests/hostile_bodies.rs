//! A malicious registry's bodies: endless, stalled, trickling, oversized or lying about
//! their digest. The client reads no further than its caps (the server's count of bytes
//! produced shows it, connection buffers included), finishes by its deadline, and never
//! stores a blob whose bytes are not what the manifest promised.

mod support;

use std::sync::Arc;
use std::time::Duration;

use strata_distribution::{pull, ErrorKind, NoProgress, PullOptions, Repository};
use strata_oci::{media_type as mt, Descriptor, Digest, ImageManifest, Reference};
use strata_store::Store;
use support::{client_for, Flow, Hostile, Reply, Seen};

/// More than any cap involved (4 MiB manifests, 1 MiB tokens, 64 KiB errors) plus what
/// loopback socket buffers hold, and far less than an endless body would reach.
const READ_BOUND: u64 = 48 << 20;

/// Guard against a client without deadlines: the test fails instead of hanging.
async fn bounded<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .expect("the client must finish on its own deadline")
}

fn repo<'a>(client: &'a strata_distribution::Client, h: &'a Hostile) -> Repository<'a> {
    Repository {
        client,
        host: &h.host,
        name: "team/app",
    }
}

#[tokio::test]
async fn an_endless_error_body_is_not_read_past_its_cap() {
    let h = Hostile::start(|_| Reply::status(404).flow(Flow::Endless { chunk: 64 << 10 })).await;
    let client = client_for(&h.host);
    let err = bounded(repo(&client, &h).get_manifest("v1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{}", err.message);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.produced() < READ_BOUND, "{} bytes produced", h.produced());
}

#[tokio::test]
async fn an_endless_manifest_is_refused_at_the_manifest_limit() {
    let h = Hostile::start(|_| {
        Reply::status(200)
            .header("content-type", mt::OCI_MANIFEST)
            .flow(Flow::Endless { chunk: 64 << 10 })
    })
    .await;
    let client = client_for(&h.host);
    let err = bounded(repo(&client, &h).get_manifest("v1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported, "{}", err.message);
    assert!(
        err.message.contains("manifest team/app:v1"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("4 MiB manifest limit"),
        "{}",
        err.message
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.produced() < READ_BOUND, "{} bytes produced", h.produced());
}

#[tokio::test]
async fn an_endless_token_answer_is_refused() {
    let (listener, host) = Hostile::bind().await;
    let realm = format!("http://{host}/token");
    let h = Hostile::serve(listener, move |s: &Seen| {
        if s.path() == "/token" {
            return Reply::status(200).flow(Flow::Endless { chunk: 64 << 10 });
        }
        Reply::status(401).header(
            "www-authenticate",
            &format!(r#"Bearer realm="{realm}",service="svc""#),
        )
    });
    let client = client_for(&h.host);
    let err = bounded(repo(&client, &h).get_manifest("v1"))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("sent more than 1024 KiB"),
        "{}",
        err.message
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.produced() < READ_BOUND, "{} bytes produced", h.produced());
}

#[tokio::test]
async fn stalled_and_trickling_documents_end_at_the_deadline() {
    for flow in [
        Flow::Stall {
            prefix: b"{\"schemaVersion\":".to_vec(),
        },
        Flow::Trickle {
            every: Duration::from_millis(50),
        },
    ] {
        let h = Hostile::start(move |_| {
            Reply::status(200)
                .header("content-type", mt::OCI_MANIFEST)
                .flow(flow.clone())
        })
        .await;
        let client = client_for(&h.host);
        let err = bounded(repo(&client, &h).get_manifest("v1"))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transport, "{}", err.message);
        assert!(
            err.message.contains("no complete answer within 2s"),
            "{}",
            err.message
        );
    }
}

/// An image the hostile server can serve, with its parts.
struct Image {
    config: Vec<u8>,
    layer: Vec<u8>,
    manifest: Vec<u8>,
}

impl Image {
    /// One layer (an empty tar, so its diffID is its digest); `config_size` overrides the
    /// config descriptor's size.
    fn new(config_size: Option<u64>) -> Image {
        let layer = vec![0u8; 1024];
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(&layer).to_string()]},
        }))
        .unwrap();
        let mut config_desc = Descriptor::of_bytes(mt::OCI_CONFIG, &config);
        if let Some(size) = config_size {
            config_desc.size = size;
        }
        let m = ImageManifest::oci(
            config_desc,
            vec![Descriptor::of_bytes(mt::OCI_LAYER_TAR, &layer)],
        );
        Image {
            manifest: serde_json::to_vec(&m).unwrap(),
            config,
            layer,
        }
    }

    fn config_digest(&self) -> Digest {
        Digest::sha256_of(&self.config)
    }

    fn layer_digest(&self) -> Digest {
        Digest::sha256_of(&self.layer)
    }

    /// Serve this image, answering the layer's blob with `layer` and the config's with
    /// `config` (`None`: the true bytes).
    async fn serve(self, config: Option<Reply>, layer: Reply) -> (Hostile, Image) {
        let img = Arc::new(Image {
            config: self.config.clone(),
            layer: self.layer.clone(),
            manifest: self.manifest.clone(),
        });
        let (c, l) = (self.config_digest(), self.layer_digest());
        let served = img.clone();
        let h = Hostile::start(move |s: &Seen| {
            let path = s.path();
            if path.ends_with("/manifests/v1") {
                return Reply::ok(served.manifest.clone()).header("content-type", mt::OCI_MANIFEST);
            }
            if path.ends_with(&format!("/blobs/{c}")) {
                return config
                    .clone()
                    .unwrap_or_else(|| Reply::ok(served.config.clone()));
            }
            if path.ends_with(&format!("/blobs/{l}")) {
                return layer.clone();
            }
            Reply::status(404)
        })
        .await;
        (h, self)
    }
}

async fn pull_from(h: &Hostile, store: &Store) -> strata_distribution::Error {
    let client = client_for(&h.host);
    let reference = Reference::parse(&format!("{}/team/app:v1", h.host)).unwrap();
    bounded(pull(
        &client,
        store,
        &reference,
        &PullOptions::default(),
        Arc::new(NoProgress),
    ))
    .await
    .unwrap_err()
}

fn blob_requests(h: &Hostile) -> usize {
    h.seen()
        .iter()
        .filter(|s| s.path().contains("/blobs/"))
        .count()
}

#[tokio::test]
async fn a_300_mb_config_is_refused_before_it_is_fetched() {
    let (h, img) = Image::new(Some(300 << 20))
        .serve(
            Some(Reply::status(200).flow(Flow::Endless { chunk: 1 << 20 })),
            Reply::status(404),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = pull_from(&h, &store).await;
    assert_eq!(err.kind, ErrorKind::Unsupported, "{}", err.message);
    assert!(err.message.contains("team/app:v1"), "{}", err.message);
    assert!(
        err.message.contains(&img.config_digest().to_string()),
        "{}",
        err.message
    );
    assert_eq!(blob_requests(&h), 0);
    assert!(store.list_blobs().unwrap().is_empty());
    // Read as a small blob directly, the same descriptor is refused too.
    let client = client_for(&h.host);
    let err = repo(&client, &h)
        .get_blob_bytes(&img.config_digest(), 300 << 20)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported, "{}", err.message);
    assert_eq!(blob_requests(&h), 0);
}

#[tokio::test]
async fn a_layer_that_lies_about_its_digest_is_never_stored() {
    let (h, img) = Image::new(None)
        .serve(None, Reply::ok(vec![1u8; 1024]))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = pull_from(&h, &store).await;
    assert_eq!(err.kind, ErrorKind::DigestMismatch, "{}", err.message);
    assert!(!store.has_blob(&img.layer_digest()));
    assert!(store.list_images().unwrap().is_empty());
}

#[tokio::test]
async fn a_config_that_lies_about_its_digest_is_never_stored() {
    let img = Image::new(None);
    // Same length as the true config, other bytes.
    let evil: Vec<u8> = img.config.iter().rev().copied().collect();
    let (h, img) = img.serve(Some(Reply::ok(evil)), Reply::status(404)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = pull_from(&h, &store).await;
    assert_eq!(err.kind, ErrorKind::DigestMismatch, "{}", err.message);
    assert!(store.list_blobs().unwrap().is_empty());
    assert!(!store.has_blob(&img.config_digest()));
}

#[tokio::test]
async fn an_endless_layer_is_cut_at_its_descriptor_size() {
    let (h, img) = Image::new(None)
        .serve(
            None,
            Reply::status(200).flow(Flow::Endless { chunk: 64 << 10 }),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = pull_from(&h, &store).await;
    assert_eq!(err.kind, ErrorKind::SizeMismatch, "{}", err.message);
    assert!(
        err.message.contains("nothing was stored"),
        "{}",
        err.message
    );
    assert!(!store.has_blob(&img.layer_digest()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.produced() < READ_BOUND, "{} bytes produced", h.produced());
}

#[tokio::test]
async fn stalled_and_trickling_layers_are_cut_off_and_nothing_is_stored() {
    for flow in [
        Flow::Trickle {
            every: Duration::from_millis(20),
        },
        Flow::Stall {
            prefix: vec![0u8; 100],
        },
    ] {
        let (h, img) = Image::new(None)
            .serve(None, Reply::status(200).flow(flow))
            .await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = pull_from(&h, &store).await;
        assert_eq!(err.kind, ErrorKind::Transport, "{}", err.message);
        assert!(err.message.contains("stalled"), "{}", err.message);
        assert!(
            err.message.contains(&img.layer_digest().to_string()),
            "{}",
            err.message
        );
        assert!(!store.has_blob(&img.layer_digest()));
    }
}
