//! The OCI conformance suite's groups strata used to fail, and small protocol answers:
//! non-distributable layers, `?tag=` parameters with `OCI-Tag`, sha512 manifests and
//! blobs, invalid tags on GET/HEAD, invalid page sizes.

mod common;

use common::{client, digest, push_blob, TestServer};
use serde_json::{json, Value};
use strata_oci::{Algorithm, Digest, Digester};

async fn server() -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(common::Backend::Fs, dir.path())
        .await
        .unwrap();
    (dir, TestServer::start(cfg).await)
}

async fn error_code(r: reqwest::Response) -> String {
    let v: Value = r.json().await.unwrap();
    v["errors"][0]["code"].as_str().unwrap().to_string()
}

fn sha512(data: &[u8]) -> Digest {
    let mut d = Digester::new(Algorithm::Sha512);
    d.update(data);
    d.finish()
}

fn manifest_with(config: &[u8], layers: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config).to_string(), "size": config.len()},
        "layers": layers,
    }))
    .unwrap()
}

async fn put_manifest(
    s: &TestServer,
    repo: &str,
    reference: &str,
    body: &[u8],
) -> reqwest::Response {
    client()
        .put(s.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_distributable_layers_are_accepted_without_their_blobs() {
    let (_d, s) = server().await;
    let c = client();
    push_blob(&c, &s, "nd/r", b"cfg").await;
    let normal = push_blob(&c, &s, "nd/r", b"layer").await;
    let foreign = digest(b"never pushed");
    let layers = vec![
        json!({"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
               "digest": foreign.to_string(), "size": 123456,
               "urls": [format!("https://store.example.com/blobs/{foreign}")]}),
        json!({"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
               "digest": digest(b"also never pushed").to_string(), "size": 12345}),
        json!({"mediaType": "application/vnd.oci.image.layer.v1.tar",
               "digest": normal.to_string(), "size": 5}),
    ];
    let m = manifest_with(b"cfg", layers);
    let r = put_manifest(&s, "nd/r", "v1", &m).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let r = c.get(s.url("/v2/nd/r/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), m.as_slice());
    // A missing layer of an ordinary type is still refused.
    let m = manifest_with(
        b"cfg",
        vec![
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": foreign.to_string(), "size": 123456}),
        ],
    );
    let r = put_manifest(&s, "nd/r", "v2", &m).await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_parameters_tag_a_push_by_digest_and_are_echoed_in_oci_tag() {
    let (_d, s) = server().await;
    let c = client();
    push_blob(&c, &s, "tp/r", b"cfg").await;
    let m = manifest_with(b"cfg", vec![]);
    let d = digest(&m);
    let r = put_manifest(&s, "tp/r", &format!("{d}?tag=a&tag=b&tag=a"), &m).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let echoed: Vec<String> = r
        .headers()
        .get_all("oci-tag")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(',').map(|t| t.trim().to_owned()))
        .collect();
    assert_eq!(echoed, vec!["a", "b"]);
    for t in ["a", "b"] {
        let r = c
            .head(s.url(&format!("/v2/tp/r/manifests/{t}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "tag {t}");
        assert_eq!(r.headers()["docker-content-digest"], d.to_string().as_str());
    }
    let r = put_manifest(&s, "tp/r", &format!("{d}?tag=.bad"), &m).await;
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sha512_content_keeps_its_sha512_digests() {
    let (_d, s) = server().await;
    let c = client();
    // A blob uploaded in chunks with the sha512 running hash the POST asked for.
    let blob = b"sha512 blob in three chunks".to_vec();
    let blob_digest = sha512(&blob);
    let r = c
        .post(s.url("/v2/s5/r/blobs/uploads/?digest-algorithm=sha512"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let mut loc = r.headers()["location"].to_str().unwrap().to_owned();
    for (i, part) in blob.chunks(10).enumerate() {
        let start = i * 10;
        let r = c
            .patch(s.url(&loc))
            .header(
                "content-range",
                format!("{start}-{}", start + part.len() - 1),
            )
            .header("content-type", "application/octet-stream")
            .body(part.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        loc = r.headers()["location"].to_str().unwrap().to_owned();
    }
    let r = c
        .put(s.url(&format!("{loc}?digest={blob_digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let r = c
        .get(s.url(&format!("/v2/s5/r/blobs/{blob_digest}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), blob.as_slice());

    // A manifest addressed by its sha512 digest, tagged through tag parameters.
    push_blob(&c, &s, "s5/r", b"cfg").await;
    let m = manifest_with(
        b"cfg",
        vec![
            json!({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": blob_digest.to_string(), "size": blob.len()}),
        ],
    );
    let d = sha512(&m);
    let r = put_manifest(&s, "s5/r", &format!("{d}?tag=t512"), &m).await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    assert_eq!(r.headers()["docker-content-digest"], d.to_string().as_str());
    let r = c
        .get(s.url("/v2/s5/r/manifests/t512"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], d.to_string().as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), m.as_slice());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_tag_is_manifest_unknown_on_get_and_head() {
    let (_d, s) = server().await;
    let c = client();
    push_blob(&c, &s, "inv/r", b"cfg").await;
    for reference in [".INVALID", "sha256:zz", "-x"] {
        let r = c
            .get(s.url(&format!("/v2/inv/r/manifests/{reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{reference}");
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
        let r = c
            .head(s.url(&format!("/v2/inv/r/manifests/{reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{reference}");
    }
    // Pushing under an invalid tag is still a bad request.
    let m = manifest_with(b"cfg", vec![]);
    assert_eq!(
        put_manifest(&s, "inv/r", ".INVALID", &m).await.status(),
        400
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_page_size_is_a_bad_request() {
    let (_d, s) = server().await;
    let c = client();
    common::push_image(&c, &s, "pg/r", "v1", b"cfg", &[b"l"]).await;
    for path in [
        "/v2/pg/r/tags/list?n=-1",
        "/v2/pg/r/tags/list?n=x",
        "/v2/_catalog?n=-1",
    ] {
        let r = c.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(error_code(r).await, "PAGINATION_NUMBER_INVALID", "{path}");
    }
    s.stop().await;
}
