//! Distribution-spec conformance checks (push, pull, content discovery, content
//! management), modelled on the official suite's categories, over both backends.

mod common;

use common::{client, digest, image_manifest, push_blob, push_image, Backend, TestServer};
use serde_json::Value;

async fn server(b: Backend) -> Option<(tempfile::TempDir, TestServer)> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(b, dir.path()).await?;
    Some((dir, TestServer::start(cfg).await))
}

async fn error_code(r: reqwest::Response) -> String {
    let v: Value = r.json().await.unwrap();
    v["errors"][0]["code"].as_str().unwrap().to_string()
}

async fn base_endpoint(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let r = client().get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    s.stop().await;
}

async fn pull_blobs_and_ranges(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let d = push_blob(&c, &s, "p/r", &data).await;
    let r = c
        .head(s.url(&format!("/v2/p/r/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "5000");
    assert_eq!(r.headers()["docker-content-digest"], d.to_string().as_str());
    let r = c
        .get(s.url(&format!("/v2/p/r/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
    let r = c
        .get(s.url(&format!("/v2/p/r/blobs/{d}")))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 100-199/5000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[100..200]);
    let r = c
        .get(s.url(&format!("/v2/p/r/blobs/{d}")))
        .header("range", "bytes=6000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    // Unknown blob, blob of another repo, bad digest, bad name.
    let other = digest(b"nothing");
    let r = c
        .get(s.url(&format!("/v2/p/r/blobs/{other}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    let r = c
        .get(s.url(&format!("/v2/p/other/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(s.url("/v2/p/r/blobs/sha256:nothex"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = c
        .get(s.url(&format!("/v2/Bad_Name/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "NAME_INVALID");
    s.stop().await;
}

async fn push_monolithic_single_post(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    let data = b"single post blob".to_vec();
    let d = digest(&data);
    let r = c
        .post(s.url(&format!("/v2/m/blobs/uploads/?digest={d}")))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/v2/m/blobs/{d}").as_str());
    // Digest mismatch is refused and nothing is stored.
    let wrong = digest(b"other");
    let r = c
        .post(s.url(&format!("/v2/m/blobs/uploads/?digest={wrong}")))
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = c
        .head(s.url(&format!("/v2/m/blobs/{wrong}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Empty blob.
    let e = digest(b"");
    let r = c
        .post(s.url(&format!("/v2/m/blobs/uploads/?digest={e}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .head(s.url(&format!("/v2/m/blobs/{e}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["content-length"].to_str().unwrap()
        ),
        (200, "0")
    );
    s.stop().await;
}

async fn push_chunked(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    let data: Vec<u8> = (0..30_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let d = digest(&data);
    let r = c
        .post(s.url("/v2/c/h/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let mut loc = r.headers()["location"].to_str().unwrap().to_string();
    for (start, end) in [(0usize, 10_000usize), (10_000, 20_000)] {
        let r = c
            .patch(s.url(&loc))
            .header("content-range", format!("{start}-{}", end - 1))
            .header("content-type", "application/octet-stream")
            .body(data[start..end].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(r.headers()["range"], format!("0-{}", end - 1).as_str());
        loc = r.headers()["location"].to_str().unwrap().to_string();
    }
    // Status, then an out-of-order chunk is refused with 416.
    let r = c.get(s.url(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-19999");
    let r = c
        .patch(s.url(&loc))
        .header("content-range", "5-9")
        .body(vec![0u8; 5])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    // Final chunk with the PUT.
    let r = c
        .put(s.url(&format!("{loc}?digest={d}")))
        .header("content-range", "20000-29999")
        .body(data[20_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let got = c
        .get(s.url(&format!("/v2/c/h/blobs/{d}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), &data[..]);
    // The finished upload is gone.
    let r = c.get(s.url(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    // A streamed PATCH without Content-Range (docker style), then PUT without body.
    let r = c
        .post(s.url("/v2/c/h/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .patch(s.url(&loc))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c
        .put(s.url(&format!("{loc}?digest={d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // PUT without digest is refused.
    let r = c
        .post(s.url("/v2/c/h/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c.put(s.url(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

async fn cancel_upload(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    let r = c.post(s.url("/v2/x/blobs/uploads/")).send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    c.patch(s.url(&loc))
        .body(vec![1u8; 100])
        .send()
        .await
        .unwrap();
    let r = c.delete(s.url(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = c.delete(s.url(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(s.url("/v2/x/blobs/uploads/not-a-uuid"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

async fn cross_repo_mount(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    let d = push_blob(&c, &s, "src/repo", b"shared layer").await;
    let r = c
        .post(s.url(&format!(
            "/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], d.to_string().as_str());
    let r = c
        .head(s.url(&format!("/v2/dst/repo/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Mount of an unknown blob falls back to a new upload session.
    let other = digest(b"unknown");
    let r = c
        .post(s.url(&format!(
            "/v2/dst/repo/blobs/uploads/?mount={other}&from=src/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/v2/dst/repo/blobs/uploads/"));
    s.stop().await;
}

async fn manifests_push_pull(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    let md = push_image(
        &c,
        &s,
        "img/app",
        "v1",
        b"{\"config\":1}",
        &[b"layer-a", b"layer-b"],
    )
    .await;
    let m = image_manifest(b"{\"config\":1}", &[b"layer-a", b"layer-b"], None, None);
    for reference in ["v1".to_string(), md.to_string()] {
        let r = c
            .get(s.url(&format!("/v2/img/app/manifests/{reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            r.headers()["docker-content-digest"],
            md.to_string().as_str()
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), &m[..]);
        let r = c
            .head(s.url(&format!("/v2/img/app/manifests/{reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-length"], m.len().to_string().as_str());
    }
    // Content negotiation: a Docker-only client is refused an OCI manifest.
    let r = c
        .get(s.url("/v2/img/app/manifests/v1"))
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(s.url("/v2/img/app/manifests/v1"))
        .header("accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Push by digest with a wrong digest.
    let r = c
        .put(s.url(&format!("/v2/img/app/manifests/{}", digest(b"x"))))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // A manifest referencing a missing blob.
    let missing = image_manifest(b"{\"config\":1}", &[b"never pushed"], None, None);
    let r = c
        .put(s.url("/v2/img/app/manifests/bad"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(missing)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    // Invalid JSON, mismatched media type, too large.
    let r = c
        .put(s.url("/v2/img/app/manifests/bad"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    let r = c
        .put(s.url("/v2/img/app/manifests/bad"))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    let r = c
        .put(s.url("/v2/img/app/manifests/big"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(vec![b' '; 4 * 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = c
        .get(s.url("/v2/img/app/manifests/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    // Index over the manifest, Docker v2 manifest.
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": m.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]});
    let r = c
        .put(s.url("/v2/img/app/manifests/multi"))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let dangling = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(b"q").to_string(), "size": 1}]});
    let r = c
        .put(s.url("/v2/img/app/manifests/dangling"))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(dangling.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    let mut docker: Value = serde_json::from_slice(&m).unwrap();
    docker["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json".into();
    docker["config"]["mediaType"] = "application/vnd.docker.container.image.v1+json".into();
    let r = c
        .put(s.url("/v2/img/app/manifests/docker"))
        .header(
            "content-type",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .body(docker.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .get(s.url("/v2/img/app/manifests/docker"))
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    s.stop().await;
}

async fn tags_and_catalog_pagination(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    for t in ["b", "a", "d", "c", "e"] {
        push_image(&c, &s, "t/r", t, b"cfg", &[b"l"]).await;
    }
    push_image(&c, &s, "t/other", "x", b"cfg", &[b"l"]).await;
    let r = c.get(s.url("/v2/t/r/tags/list")).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"name": "t/r", "tags": ["a", "b", "c", "d", "e"]})
    );
    let r = c.get(s.url("/v2/t/r/tags/list?n=2")).send().await.unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/t/r/tags/list?n=2&last=b>; rel=\"next\""
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], serde_json::json!(["a", "b"]));
    let r = c
        .get(s.url("/v2/t/r/tags/list?n=2&last=d"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("link").is_none());
    assert_eq!(
        r.json::<Value>().await.unwrap()["tags"],
        serde_json::json!(["e"])
    );
    let r = c.get(s.url("/v2/t/r/tags/list?n=0")).send().await.unwrap();
    assert!(r.headers().get("link").is_none());
    assert_eq!(
        r.json::<Value>().await.unwrap()["tags"],
        serde_json::json!([])
    );
    let r = c.get(s.url("/v2/no/such/tags/list")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    let r = c.get(s.url("/v2/_catalog?n=1")).send().await.unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/_catalog?n=1&last=t/other>; rel=\"next\""
    );
    assert_eq!(
        r.json::<Value>().await.unwrap()["repositories"],
        serde_json::json!(["t/other"])
    );
    let r = c
        .get(s.url("/v2/_catalog?n=1&last=t/other"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["repositories"],
        serde_json::json!(["t/r"])
    );
    s.stop().await;
}

async fn referrers_api(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    let subject = push_image(&c, &s, "ref/r", "v1", b"cfg", &[b"layer"]).await;
    let subject_len = image_manifest(b"cfg", &[b"layer"], None, None).len();
    let mut pushed = Vec::new();
    for (i, at) in ["application/vnd.sig", "application/vnd.sbom"]
        .iter()
        .enumerate()
    {
        let cfg = format!("{{\"n\":{i}}}").into_bytes();
        push_blob(&c, &s, "ref/r", &cfg).await;
        push_blob(&c, &s, "ref/r", b"layer").await;
        let m = image_manifest(&cfg, &[b"layer"], Some((&subject, subject_len)), Some(at));
        let d = digest(&m);
        let r = c
            .put(s.url(&format!("/v2/ref/r/manifests/{d}")))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(m)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["oci-subject"], subject.to_string().as_str());
        pushed.push(d);
    }
    let r = c
        .get(s.url(&format!("/v2/ref/r/referrers/{subject}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.oci.image.index.v1+json"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
    let r = c
        .get(s.url(&format!(
            "/v2/ref/r/referrers/{subject}?artifactType=application/vnd.sbom"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["digest"], pushed[1].to_string().as_str());
    assert_eq!(v["manifests"][0]["artifactType"], "application/vnd.sbom");
    // Deleting a referrer removes it from the list; unknown subjects give an empty index.
    c.delete(s.url(&format!("/v2/ref/r/manifests/{}", pushed[0])))
        .send()
        .await
        .unwrap();
    let v: Value = c
        .get(s.url(&format!("/v2/ref/r/referrers/{subject}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    let v: Value = c
        .get(s.url(&format!("/v2/ref/r/referrers/{}", digest(b"z"))))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["manifests"], serde_json::json!([]));
    let r = c
        .get(s.url("/v2/ref/r/referrers/sha256:bad"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

async fn content_management(b: Backend) {
    let Some((_d, s)) = server(b).await else {
        return;
    };
    let c = client();
    let md = push_image(&c, &s, "del/r", "one", b"cfg", &[b"layer"]).await;
    let m = image_manifest(b"cfg", &[b"layer"], None, None);
    let r = c
        .put(s.url("/v2/del/r/manifests/two"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(m)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Delete a tag: the manifest stays.
    let r = c
        .delete(s.url("/v2/del/r/manifests/one"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        c.get(s.url("/v2/del/r/manifests/one"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(s.url(&format!("/v2/del/r/manifests/{md}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Delete by digest removes it and its remaining tags.
    let r = c
        .delete(s.url(&format!("/v2/del/r/manifests/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        c.get(s.url(&format!("/v2/del/r/manifests/{md}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(s.url("/v2/del/r/manifests/two"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = c
        .delete(s.url(&format!("/v2/del/r/manifests/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Delete a blob.
    let d = digest(b"layer");
    let r = c
        .delete(s.url(&format!("/v2/del/r/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(
        c.head(s.url(&format!("/v2/del/r/blobs/{d}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.delete(s.url(&format!("/v2/del/r/blobs/{d}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Unsupported method.
    let r = c.post(s.url("/v2/del/r/tags/list")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
    s.stop().await;
}

per_backend!(
    base_endpoint,
    pull_blobs_and_ranges,
    push_monolithic_single_post,
    push_chunked,
    cancel_upload,
    cross_repo_mount,
    manifests_push_pull,
    tags_and_catalog_pagination,
    referrers_api,
    content_management,
);
