//! The bearer token flow against an in-process registry double: challenge, token fetch
//! with basic credentials, cached token reuse, refusal with a login hint.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use strata_distribution::{Client, ClientOptions, Credential, ErrorKind, Repository};
use strata_oci::{media_type as mt, Descriptor, ImageManifest};

#[derive(Clone)]
struct Double {
    host: String,
    token_calls: Arc<AtomicUsize>,
    manifest: Arc<Vec<u8>>,
}

async fn token(
    State(d): State<Double>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    d.token_calls.fetch_add(1, Ordering::SeqCst);
    // "alice:pw" in base64.
    let ok =
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Basic YWxpY2U6cHc=");
    if !ok || q.get("service").map(String::as_str) != Some("double") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let scope = q.get("scope").cloned().unwrap_or_default();
    axum::Json(serde_json::json!({"token": format!("tok {scope}"), "expires_in": 300}))
        .into_response()
}

async fn manifest(State(d): State<Double>, headers: HeaderMap) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some("Bearer tok repository:team/app:pull") {
        let challenge = format!(
            r#"Bearer realm="http://{}/token",service="double",scope="repository:team/app:pull""#,
            d.host
        );
        return (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)]).into_response();
    }
    (
        [("content-type", mt::OCI_MANIFEST)],
        d.manifest.as_ref().clone(),
    )
        .into_response()
}

async fn start() -> Double {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let m = ImageManifest::oci(
        Descriptor::of_bytes(mt::OCI_CONFIG, b"{}"),
        vec![Descriptor::of_bytes(mt::OCI_LAYER_GZIP, b"layer")],
    );
    let d = Double {
        host,
        token_calls: Arc::new(AtomicUsize::new(0)),
        manifest: Arc::new(serde_json::to_vec(&m).unwrap()),
    };
    let app = Router::new()
        .route("/token", get(token))
        .route("/v2/team/app/manifests/{reference}", get(manifest))
        .with_state(d.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    d
}

#[tokio::test]
async fn bearer_token_is_fetched_once_and_reused() {
    let d = start().await;
    let mut creds = HashMap::new();
    creds.insert(
        d.host.clone(),
        Credential::Basic {
            username: "alice".into(),
            password: "pw".into(),
        },
    );
    let client = Client::new(ClientOptions {
        credentials: creds,
        ..ClientOptions::default()
    })
    .unwrap();
    let repo = Repository {
        client: &client,
        host: &d.host,
        name: "team/app",
    };
    let raw = repo.get_manifest("v1").await.unwrap();
    assert_eq!(raw.bytes, *d.manifest);
    let again = repo.get_manifest("v1").await.unwrap();
    assert_eq!(again.digest, raw.digest);
    assert_eq!(
        d.token_calls.load(Ordering::SeqCst),
        1,
        "token must be cached"
    );
}

#[tokio::test]
async fn refused_token_names_the_registry_and_suggests_login() {
    let d = start().await;
    let client = Client::new(ClientOptions::default()).unwrap();
    let repo = Repository {
        client: &client,
        host: &d.host,
        name: "team/app",
    };
    let err = repo.get_manifest("v1").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(err.message.contains(&d.host), "{}", err.message);
    assert!(err.message.contains("strata login"), "{}", err.message);
}

#[tokio::test]
async fn pinned_digest_mismatch_is_rejected() {
    let d = start().await;
    let mut creds = HashMap::new();
    creds.insert(
        d.host.clone(),
        Credential::Basic {
            username: "alice".into(),
            password: "pw".into(),
        },
    );
    let client = Client::new(ClientOptions {
        credentials: creds,
        ..ClientOptions::default()
    })
    .unwrap();
    let repo = Repository {
        client: &client,
        host: &d.host,
        name: "team/app",
    };
    let wrong = strata_oci::Digest::sha256_of(b"something else");
    let err = repo.get_manifest(&wrong.to_string()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::DigestMismatch, "{}", err.message);
}
