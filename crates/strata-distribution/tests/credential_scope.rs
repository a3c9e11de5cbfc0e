//! Credentials go only to the registry's own origin (scheme, host, port) or to the token
//! realm that challenged, whatever URL a malicious registry names: an upload `Location`,
//! a tags `Link`, a redirect, a challenge from another host, a realm that redirects.
//! "elsewhere" is a second server on another port, i.e. another origin.

mod support;

use std::sync::Arc;

use strata_distribution::Repository;
use strata_oci::{media_type as mt, Descriptor, Digest, ImageManifest};
use support::{basic_challenge, client_for, is_alice, Hostile, Reply, ALICE};

fn manifest_bytes() -> Vec<u8> {
    let m = ImageManifest::oci(Descriptor::of_bytes(mt::OCI_CONFIG, b"{}"), vec![]);
    serde_json::to_vec(&m).unwrap()
}

/// A server that records requests and answers 401 with a basic challenge of its own: a
/// client that answered it would send the credentials on the retry.
async fn elsewhere() -> Hostile {
    Hostile::start(|_| basic_challenge()).await
}

#[tokio::test]
async fn upload_location_on_another_host_gets_no_credentials() {
    let other = elsewhere().await;
    let location = format!("{}/upload/abc?state=1", other.base);
    let registry = Hostile::start(move |s| {
        if !is_alice(s) {
            return basic_challenge();
        }
        match (s.method.as_str(), s.path()) {
            ("GET", "/v2/") => Reply::ok("{}"),
            ("POST", p) if p.ends_with("/blobs/uploads/") => {
                Reply::status(202).header("location", &location)
            }
            _ => Reply::status(404),
        }
    })
    .await;
    let client = client_for(&registry.host);
    client.ping(&registry.host).await.unwrap();
    let repo = Repository {
        client: &client,
        host: &registry.host,
        name: "team/app",
    };
    // POST, then a streamed PATCH and the closing PUT, both sent to the location.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob");
    std::fs::write(&file, b"layer bytes").unwrap();
    let err = repo
        .upload_blob_file(&Digest::sha256_of(b"layer bytes"), &file)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("uploading to team/app"),
        "{}",
        err.message
    );
    // And a monolithic PUT (configs).
    repo.upload_bytes(&Digest::sha256_of(b"{}"), b"{}".to_vec().into())
        .await
        .unwrap_err();
    let seen = other.seen();
    assert!(
        seen.iter().any(|s| s.method == "PATCH") && seen.iter().any(|s| s.method == "PUT"),
        "the client should have used the location: {seen:?}"
    );
    assert!(other.with_credentials().is_empty(), "{seen:?}");
    // The registry itself did get them.
    assert!(registry.seen().iter().any(is_alice));
}

#[tokio::test]
async fn tags_link_to_another_host_gets_no_credentials() {
    let other = Hostile::start(|s| {
        if s.authorization.is_some() {
            return Reply::status(500);
        }
        Reply::json(serde_json::json!({"name": "team/app", "tags": ["c"]}))
    })
    .await;
    let link = format!(
        "<{}/v2/team/app/tags/list?last=b>; rel=\"next\"",
        other.base
    );
    let registry = Hostile::start(move |s| {
        if !is_alice(s) {
            return basic_challenge();
        }
        Reply::json(serde_json::json!({"name": "team/app", "tags": ["a", "b"]}))
            .header("link", &link)
    })
    .await;
    let client = client_for(&registry.host);
    let repo = Repository {
        client: &client,
        host: &registry.host,
        name: "team/app",
    };
    assert_eq!(repo.tags().await.unwrap(), vec!["a", "b", "c"]);
    assert_eq!(other.seen().len(), 1);
    assert!(other.with_credentials().is_empty());
}

#[tokio::test]
async fn redirects_keep_credentials_on_the_registry_only() {
    let body = manifest_bytes();
    let digest = Digest::sha256_of(&body);
    let served = body.clone();
    let other = Hostile::start(move |s| {
        if s.authorization.is_some() {
            return basic_challenge();
        }
        Reply::ok(served.clone()).header("content-type", mt::OCI_MANIFEST)
    })
    .await;
    let target = format!("{}/cdn/manifest", other.base);
    let served = body.clone();
    let registry = Hostile::start(move |s| {
        if !is_alice(s) {
            return basic_challenge();
        }
        match s.path() {
            // A same-origin hop first (credentials stay), then off to another host.
            "/v2/team/app/manifests/v1" => Reply::redirect(307, "/v2/team/app/manifests/moved"),
            "/v2/team/app/manifests/moved" => Reply::redirect(302, &target),
            "/v2/team/app/manifests/here" => {
                Reply::ok(served.clone()).header("content-type", mt::OCI_MANIFEST)
            }
            _ => Reply::status(404),
        }
    })
    .await;
    let client = client_for(&registry.host);
    let repo = Repository {
        client: &client,
        host: &registry.host,
        name: "team/app",
    };
    let got = repo.get_manifest("v1").await.unwrap();
    assert_eq!(got.digest, digest);
    let hops: Vec<String> = registry.seen().iter().map(|s| s.target.clone()).collect();
    assert!(hops.contains(&"/v2/team/app/manifests/moved".to_owned()));
    assert!(registry
        .seen()
        .iter()
        .filter(|s| s.path() == "/v2/team/app/manifests/moved")
        .all(is_alice));
    assert_eq!(other.seen().len(), 1);
    assert!(other.with_credentials().is_empty());
    repo.get_manifest("here").await.unwrap();
}

#[tokio::test]
async fn a_redirect_to_another_scheme_is_refused() {
    // (The https to http downgrade is refused by the same check; its unit test is in
    // src/origin.rs, as an https server here would need a certificate.)
    let registry = Hostile::start(|s| {
        if !is_alice(s) {
            return basic_challenge();
        }
        Reply::redirect(302, "file:///etc/passwd")
    })
    .await;
    let client = client_for(&registry.host);
    let repo = Repository {
        client: &client,
        host: &registry.host,
        name: "team/app",
    };
    let err = repo.get_manifest("v1").await.unwrap_err();
    assert!(
        err.message.contains("not an http(s) url"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_challenge_from_another_host_is_not_answered() {
    // elsewhere's challenge names a realm of its own: answering it would hand the
    // registry's credentials to whoever runs that realm.
    let (listener, other_host) = Hostile::bind().await;
    let realm = format!("http://{other_host}/token");
    let other = Hostile::serve(listener, move |s| {
        if s.path() == "/token" {
            return Reply::json(serde_json::json!({"token": "stolen"}));
        }
        Reply::status(401).header(
            "www-authenticate",
            &format!(r#"Bearer realm="{realm}",service="evil""#),
        )
    });
    let target = format!("{}/blob", other.base);
    let registry = Hostile::start(move |s| {
        if !is_alice(s) {
            return basic_challenge();
        }
        Reply::redirect(307, &target)
    })
    .await;
    let client = client_for(&registry.host);
    let repo = Repository {
        client: &client,
        host: &registry.host,
        name: "team/app",
    };
    let err = repo
        .get_blob_bytes(&Digest::sha256_of(b"x"), 1)
        .await
        .unwrap_err();
    assert_eq!(err.kind, strata_distribution::ErrorKind::Unauthorized);
    let seen = other.seen();
    assert!(seen.iter().all(|s| s.path() != "/token"), "{seen:?}");
    assert!(other.with_credentials().is_empty(), "{seen:?}");
}

#[tokio::test]
async fn credentials_go_to_the_challenging_realm_but_not_where_it_redirects() {
    // The realm may live on another host (as Docker Hub's does): it gets the credentials.
    // A realm that redirects elsewhere does not pass them on.
    let third = Hostile::start(|s| {
        if s.authorization.is_some() {
            return Reply::status(500);
        }
        Reply::json(serde_json::json!({"token": "tok", "expires_in": 300}))
    })
    .await;
    let third_token = format!("{}/real-token", third.base);
    let realm = Hostile::start(move |s| {
        if s.authorization.as_deref() != Some(ALICE) {
            return Reply::status(401);
        }
        let query = s.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        Reply::redirect(302, &format!("{third_token}?{query}"))
    })
    .await;
    let realm_url = format!("{}/token", realm.base);
    let body = Arc::new(manifest_bytes());
    let served = body.clone();
    let registry = Hostile::start(move |s| {
        if s.authorization.as_deref() != Some("Bearer tok") {
            return Reply::status(401).header(
                "www-authenticate",
                &format!(
                    r#"Bearer realm="{realm_url}",service="svc",scope="repository:team/app:pull""#
                ),
            );
        }
        Reply::ok(served.as_ref().clone()).header("content-type", mt::OCI_MANIFEST)
    })
    .await;
    let client = client_for(&registry.host);
    let repo = Repository {
        client: &client,
        host: &registry.host,
        name: "team/app",
    };
    let got = repo.get_manifest("v1").await.unwrap();
    assert_eq!(got.bytes, *body);
    assert!(realm
        .seen()
        .iter()
        .any(|s| s.authorization.as_deref() == Some(ALICE)));
    assert_eq!(third.seen().len(), 1);
    assert!(third.with_credentials().is_empty());
    // The bearer token itself went to the registry only.
    assert!(realm
        .seen()
        .iter()
        .chain(third.seen().iter())
        .all(|s| s.authorization.as_deref() != Some("Bearer tok")));
}
