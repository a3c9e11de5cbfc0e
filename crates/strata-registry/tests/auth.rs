//! Authorization matrix: every endpoint × every role, for htpasswd and token auth.

mod common;

use std::io::Write;

use common::{client, digest, TestServer};
use strata_registry::auth::{AccessRule, AuthMode};

const ROLES: [&str; 5] = ["anonymous", "reader", "writer", "admin", "outsider"];

fn rule(user: &str, repos: &str, actions: &[&str]) -> AccessRule {
    AccessRule {
        users: vec![user.into()],
        repositories: vec![repos.into()],
        actions: actions.iter().map(|a| a.to_string()).collect(),
    }
}

async fn server(mode: AuthMode, anonymous_pull: bool) -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(common::Backend::Fs, dir.path())
        .await
        .unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let mut f = std::fs::File::create(&htpasswd).unwrap();
    for u in &ROLES[1..] {
        writeln!(f, "{u}:{}", bcrypt::hash(format!("{u}-pw"), 4).unwrap()).unwrap();
    }
    cfg.auth.mode = mode;
    cfg.auth.htpasswd = Some(htpasswd);
    cfg.auth.anonymous_pull = anonymous_pull;
    cfg.auth.token_secret = Some("0123456789abcdef0123456789abcdef".into());
    cfg.auth.access = vec![
        rule("reader", "*", &["pull"]),
        rule("writer", "*", &["pull", "push"]),
        rule("admin", "*", &["*"]),
        rule("outsider", "other/*", &["pull"]),
    ];
    (dir, TestServer::start(cfg).await)
}

/// `(method, path, needed)`: needed is "base", "catalog" or an action on `sec/r`.
fn endpoints() -> Vec<(&'static str, String, &'static str)> {
    let d = digest(b"x");
    let up = "/v2/sec/r/blobs/uploads/6f1d2c1e-0000-4000-8000-000000000000";
    vec![
        ("GET", "/v2/".into(), "base"),
        ("GET", "/v2/_catalog".into(), "catalog"),
        ("GET", "/v2/sec/r/tags/list".into(), "pull"),
        ("GET", "/v2/sec/r/manifests/v1".into(), "pull"),
        ("HEAD", "/v2/sec/r/manifests/v1".into(), "pull"),
        ("PUT", "/v2/sec/r/manifests/v1".into(), "push"),
        ("DELETE", "/v2/sec/r/manifests/v1".into(), "delete"),
        ("GET", format!("/v2/sec/r/blobs/{d}"), "pull"),
        ("HEAD", format!("/v2/sec/r/blobs/{d}"), "pull"),
        ("DELETE", format!("/v2/sec/r/blobs/{d}"), "delete"),
        ("POST", "/v2/sec/r/blobs/uploads/".into(), "push"),
        ("PATCH", up.into(), "push"),
        ("PUT", format!("{up}?digest={d}"), "push"),
        ("GET", up.into(), "push"),
        ("DELETE", up.into(), "push"),
        ("GET", format!("/v2/sec/r/referrers/{d}"), "pull"),
    ]
}

fn allowed(role: &str, needed: &str, anonymous_pull: bool) -> bool {
    match (role, needed) {
        ("anonymous", "base" | "pull") => anonymous_pull,
        ("anonymous", _) => false,
        (_, "base" | "catalog") => true,
        ("outsider", _) => false,
        ("reader", a) => a == "pull",
        ("writer", a) => a != "delete",
        ("admin", _) => true,
        _ => unreachable!(),
    }
}

async fn token_for(s: &TestServer, role: &str) -> Option<String> {
    let mut req = client().get(s.url("/token?service=strata-registry&scope=repository:sec/r:pull,push,delete&scope=registry:catalog:*"));
    if role != "anonymous" {
        req = req.basic_auth(role, Some(format!("{role}-pw")));
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "token for {role}");
    let v: serde_json::Value = r.json().await.unwrap();
    Some(v["token"].as_str()?.to_string())
}

async fn walk(mode: AuthMode, anonymous_pull: bool) {
    let (_d, s) = server(mode, anonymous_pull).await;
    let c = client();
    let mut checked = 0;
    for role in ROLES {
        let token = if mode == AuthMode::Token {
            token_for(&s, role).await
        } else {
            None
        };
        for (method, path, needed) in endpoints() {
            let mut req = c.request(method.parse().unwrap(), s.url(&path));
            match (&token, role) {
                (Some(t), _) if role != "anonymous" => req = req.bearer_auth(t),
                (None, r) if r != "anonymous" => req = req.basic_auth(r, Some(format!("{r}-pw"))),
                _ => {}
            }
            let status = req.send().await.unwrap();
            let code = status.status().as_u16();
            let want = allowed(role, needed, anonymous_pull);
            let challenge = status
                .headers()
                .get("www-authenticate")
                .map(|h| h.to_str().unwrap().to_string());
            if want {
                assert!(
                    code != 401 && code != 403,
                    "{mode:?} {role} {method} {path}: got {code}, want allowed"
                );
            } else {
                assert!(
                    code == 401 || code == 403,
                    "{mode:?} {role} {method} {path}: got {code}, want refused"
                );
                if code == 401 {
                    let c = challenge.unwrap_or_else(|| {
                        panic!("401 without challenge for {role} {method} {path}")
                    });
                    let scheme = if mode == AuthMode::Token {
                        "Bearer realm="
                    } else {
                        "Basic realm="
                    };
                    assert!(c.starts_with(scheme), "{c}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ROLES.len() * endpoints().len());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_matrix() {
    walk(AuthMode::Htpasswd, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_matrix_anonymous_pull() {
    walk(AuthMode::Htpasswd, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_matrix() {
    walk(AuthMode::Token, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_tokens() {
    let (_d, s) = server(AuthMode::Token, false).await;
    let c = client();
    let r = c
        .get(s.url("/token?service=strata-registry&scope=repository:sec/r:pull"))
        .basic_auth("reader", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(s.url("/v2/sec/r/tags/list"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("service=\"strata-registry\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"repository:sec/r:pull\""),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!("realm=\"http://{}/token\"", s.addr)),
        "{challenge}"
    );
    // A token for one repository does not open another.
    let t = token_for(&s, "admin").await.unwrap();
    let r = c
        .get(s.url("/v2/sec/other/tags/list"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Granted scopes are the intersection of the request and the rules.
    let r = c
        .get(s.url("/token?service=strata-registry&scope=repository:sec/r:pull,push"))
        .basic_auth("reader", Some("reader-pw"))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    let t = v["token"].as_str().unwrap();
    let claims = t.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["access"][0]["actions"], serde_json::json!(["pull"]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htpasswd_wrong_password_and_catalog_filtering() {
    let (_d, s) = server(AuthMode::Htpasswd, false).await;
    let r = client()
        .get(s.url("/v2/"))
        .basic_auth("admin", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let admin = common::client_with_basic("admin", "admin-pw");
    common::push_image(&admin, &s, "sec/r", "v1", b"cfg", &[b"l"]).await;
    common::push_image(&admin, &s, "other/r", "v1", b"cfg", &[b"l"]).await;
    let outsider = common::client_with_basic("outsider", "outsider-pw");
    let v: serde_json::Value = outsider
        .get(s.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["other/r"]));
    let v: serde_json::Value = admin
        .get(s.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["other/r", "sec/r"]));
    common::verify_image(&outsider, &s, "other/r", "v1").await;
    s.stop().await;
}

/// Regression: the token server issues anonymous tokens (empty subject); such a token
/// must not open `GET /v2/` unless anonymous access is configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_token_opens_the_base_endpoint_only_with_anonymous_pull() {
    for anonymous_pull in [false, true] {
        let (_d, s) = server(AuthMode::Token, anonymous_pull).await;
        let t = token_for(&s, "anonymous").await.unwrap();
        let r = client()
            .get(s.url("/v2/"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        let want = if anonymous_pull { 200 } else { 401 };
        assert_eq!(r.status(), want, "anonymous_pull = {anonymous_pull}");
        s.stop().await;
    }
}

/// Regression: a 403 names the refused action in words, not as Rust debug output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_messages_name_the_action_plainly() {
    let (_d, s) = server(AuthMode::Htpasswd, false).await;
    let reader = common::client_with_basic("reader", "reader-pw");
    let r = reader
        .delete(s.url("/v2/sec/r/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    let msg = v["errors"][0]["message"].as_str().unwrap();
    assert_eq!(
        msg,
        "requested access to delete on repository sec/r is denied"
    );
    assert_eq!(v["errors"][0]["code"], "DENIED");
    s.stop().await;
}
