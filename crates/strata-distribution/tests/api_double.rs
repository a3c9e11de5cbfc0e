//! Client behaviour against an in-process registry double: retries with backoff on 5xx,
//! the referrers API falling back to the tag schema, tag listing with pagination.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use strata_distribution::{Client, ClientOptions, ErrorKind, Repository};
use strata_oci::{media_type as mt, Descriptor, Digest, ImageIndex, ImageManifest};

#[derive(Clone)]
struct Double {
    failures_left: Arc<AtomicUsize>,
    hits: Arc<AtomicUsize>,
    manifest: Arc<Vec<u8>>,
    subject: Digest,
}

async fn manifest(
    State(d): State<Double>,
    axum::extract::Path(reference): axum::extract::Path<String>,
) -> Response {
    d.hits.fetch_add(1, Ordering::SeqCst);
    if d.failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let fallback_tag = format!("sha256-{}", d.subject.hex());
    if reference == fallback_tag {
        let idx = ImageIndex::oci(vec![Descriptor::of_bytes(mt::OCI_MANIFEST, &d.manifest)]);
        return (
            [("content-type", mt::OCI_INDEX)],
            serde_json::to_vec(&idx).unwrap(),
        )
            .into_response();
    }
    (
        [("content-type", mt::OCI_MANIFEST)],
        d.manifest.as_ref().clone(),
    )
        .into_response()
}

async fn tags(Query(q): Query<HashMap<String, String>>) -> Response {
    if !q.contains_key("last") {
        (
            [("link", "</v2/app/tags/list?n=2&last=b>; rel=\"next\"")],
            axum::Json(serde_json::json!({"name": "app", "tags": ["a", "b"]})),
        )
            .into_response()
    } else {
        axum::Json(serde_json::json!({"name": "app", "tags": ["c"]})).into_response()
    }
}

async fn start(failures: usize) -> (String, Double) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let m = ImageManifest::oci(Descriptor::of_bytes(mt::OCI_CONFIG, b"{}"), vec![]);
    let d = Double {
        failures_left: Arc::new(AtomicUsize::new(failures)),
        hits: Arc::new(AtomicUsize::new(0)),
        manifest: Arc::new(serde_json::to_vec(&m).unwrap()),
        subject: Digest::sha256_of(b"subject"),
    };
    let app = Router::new()
        .route("/v2/app/manifests/{reference}", get(manifest))
        .route("/v2/app/tags/list", get(tags))
        .with_state(d.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (host, d)
}

fn client(retries: u32) -> Client {
    Client::new(ClientOptions {
        retries,
        backoff: Duration::from_millis(5),
        ..ClientOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let (host, d) = start(2).await;
    let c = client(3);
    let repo = Repository {
        client: &c,
        host: &host,
        name: "app",
    };
    repo.get_manifest("v1").await.unwrap();
    assert_eq!(d.hits.load(Ordering::SeqCst), 3);

    let (host, _) = start(10).await;
    let c = client(1);
    let repo = Repository {
        client: &c,
        host: &host,
        name: "app",
    };
    let err = repo.get_manifest("v1").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol);
    assert!(err.message.contains("503"), "{}", err.message);
}

#[tokio::test]
async fn referrers_fall_back_to_the_tag_schema() {
    let (host, d) = start(0).await;
    let c = client(0);
    let repo = Repository {
        client: &c,
        host: &host,
        name: "app",
    };
    let idx = repo.referrers(&d.subject).await.unwrap();
    assert_eq!(idx.manifests.len(), 1);
    assert_eq!(idx.manifests[0].digest, Digest::sha256_of(&d.manifest));
}

#[tokio::test]
async fn tags_follow_link_pagination() {
    let (host, _) = start(0).await;
    let c = client(0);
    let repo = Repository {
        client: &c,
        host: &host,
        name: "app",
    };
    assert_eq!(repo.tags().await.unwrap(), vec!["a", "b", "c"]);
}
