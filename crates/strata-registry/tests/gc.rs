//! Garbage collection and retention over both backends, including GC running while
//! images sharing layers are pushed concurrently.

mod common;

use std::time::Duration;

use common::{client, digest, push_blob, push_image, verify_image, Backend, TestServer};
use strata_registry::gc::{self, GcOptions};
use strata_registry::retention::{self, RetentionRule};

async fn server(b: Backend, grace: Duration) -> Option<(tempfile::TempDir, TestServer)> {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(b, dir.path()).await?;
    cfg.gc.grace = grace;
    Some((dir, TestServer::start(cfg).await))
}

fn opts(grace: Duration, dry_run: bool) -> GcOptions {
    GcOptions {
        grace,
        upload_grace: grace,
        dry_run,
    }
}

async fn sweeps_unreferenced_blobs_and_uploads(b: Backend) {
    let Some((_d, s)) = server(b, Duration::from_secs(3600)).await else {
        return;
    };
    let c = client();
    let reg = &s.state.registry;
    let kept = push_image(
        &c,
        &s,
        "g/a",
        "keep",
        b"cfg-keep",
        &[b"shared", b"only-keep"],
    )
    .await;
    let gone = push_image(
        &c,
        &s,
        "g/a",
        "drop",
        b"cfg-drop",
        &[b"shared", b"only-drop"],
    )
    .await;
    let orphan = push_blob(&c, &s, "g/b", b"orphan").await;
    let r = c
        .post(s.url("/v2/g/b/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let upload = r.headers()["location"].to_str().unwrap().to_string();
    c.patch(s.url(&upload))
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    c.delete(s.url(&format!("/v2/g/a/manifests/{gone}")))
        .send()
        .await
        .unwrap();

    // Within the grace period nothing goes.
    let r = gc::collect(reg, opts(Duration::from_secs(3600), false))
        .await
        .unwrap();
    assert!(
        r.blobs_deleted.is_empty() && r.uploads_deleted.is_empty(),
        "{r:?}"
    );
    assert_eq!(r.blobs_in_grace, 4, "{r:?}"); // cfg-drop, only-drop, orphan, the dropped manifest
                                              // A dry run reports without removing.
    let r = gc::collect(reg, opts(Duration::ZERO, true)).await.unwrap();
    assert_eq!(r.blobs_deleted.len(), 4, "{r:?}");
    assert_eq!(r.uploads_deleted.len(), 1);
    assert_eq!(
        c.head(s.url(&format!("/v2/g/b/blobs/{orphan}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The real thing.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let r = gc::collect(reg, opts(Duration::ZERO, false)).await.unwrap();
    let mut deleted = r.blobs_deleted.clone();
    deleted.sort();
    let mut want: Vec<String> = [
        digest(b"cfg-drop"),
        digest(b"only-drop"),
        orphan.clone(),
        gone.clone(),
    ]
    .iter()
    .map(|d| d.to_string())
    .collect();
    want.sort();
    assert_eq!(deleted, want);
    assert_eq!(r.uploads_deleted.len(), 1);
    assert_eq!(
        c.head(s.url(&format!("/v2/g/b/blobs/{orphan}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(c.get(s.url(&upload)).send().await.unwrap().status(), 404);
    verify_image(&c, &s, "g/a", "keep").await;
    verify_image(&c, &s, "g/a", &kept.to_string()).await;
    s.stop().await;
}

/// Pushes an image the way registry clients do: skip blobs the registry already has.
async fn push_skipping_existing(
    c: &reqwest::Client,
    s: &TestServer,
    repo: &str,
    tag: &str,
    cfg: &[u8],
    layers: &[&[u8]],
) -> bool {
    for blob in std::iter::once(cfg).chain(layers.iter().copied()) {
        let d = digest(blob);
        let head = c
            .head(s.url(&format!("/v2/{repo}/blobs/{d}")))
            .send()
            .await
            .unwrap();
        if head.status() != 200 {
            let mount = c
                .post(s.url(&format!(
                    "/v2/{repo}/blobs/uploads/?mount={d}&from=seed/layers"
                )))
                .send()
                .await
                .unwrap();
            if mount.status() != 201 {
                let loc = mount.headers()["location"].to_str().unwrap().to_string();
                let r = c
                    .put(s.url(&format!("{loc}?digest={d}")))
                    .body(blob.to_vec())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        }
    }
    let m = common::image_manifest(cfg, layers, None, None);
    let r = c
        .put(s.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(m)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        201 => true,
        400 => false, // a blob was collected under us: the client pushes again
        other => panic!("unexpected status {other}"),
    }
}

async fn gc_during_concurrent_pushes_loses_nothing(b: Backend) {
    let grace = Duration::from_secs(2);
    let Some((_d, s)) = server(b, grace).await else {
        return;
    };
    let c = client();
    let shared: Vec<Vec<u8>> = (0..4)
        .map(|i| format!("shared layer {i}").repeat(500).into_bytes())
        .collect();
    // Seed the shared layers as unreferenced blobs and let them age past the grace period,
    // so GC would collect them unless pushes re-using them keep them alive.
    for l in &shared {
        push_blob(&c, &s, "seed/layers", l).await;
    }
    let waste = push_blob(&c, &s, "seed/layers", b"never referenced").await;
    tokio::time::sleep(grace + Duration::from_millis(1200)).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gc_task = {
        let (reg, stop) = (s.state.registry.clone(), stop.clone());
        tokio::spawn(async move {
            let mut runs = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                gc::collect(&reg, opts(grace, false)).await.unwrap();
                runs += 1;
            }
            runs
        })
    };
    let mut pushers = Vec::new();
    for w in 0..4 {
        let (c, shared, base) = (c.clone(), shared.clone(), s.base.clone());
        let s2 = TestServer::attach(&base);
        pushers.push(tokio::spawn(async move {
            let mut pushed = Vec::new();
            for i in 0..6 {
                let cfg = format!("config {w} {i}").into_bytes();
                let own = format!("own layer {w} {i}").into_bytes();
                let layers: Vec<&[u8]> = vec![&shared[(w + i) % 4], &shared[(w + i + 1) % 4], &own];
                let repo = format!("app/w{w}");
                let tag = format!("t{i}");
                let mut attempts = 0;
                while !push_skipping_existing(&c, &s2, &repo, &tag, &cfg, &layers).await {
                    attempts += 1;
                    assert!(attempts < 5, "push kept failing");
                }
                pushed.push((repo, tag));
            }
            pushed
        }));
    }
    let mut all = Vec::new();
    for p in pushers {
        all.extend(p.await.unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let runs = gc_task.await.unwrap();
    assert!(runs > 0);
    // One more collection after everything settled, then every image must be complete.
    gc::collect(&s.state.registry, opts(grace, false))
        .await
        .unwrap();
    for (repo, tag) in &all {
        verify_image(&c, &s, repo, tag).await;
    }
    assert_eq!(all.len(), 24);
    assert_eq!(
        c.head(s.url(&format!("/v2/seed/layers/blobs/{waste}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    s.stop().await;
}

async fn retention_policies(b: Backend) {
    let Some((_d, s)) = server(b, Duration::from_secs(3600)).await else {
        return;
    };
    let c = client();
    for t in ["v1", "b1", "b2", "b3", "b4"] {
        push_image(
            &c,
            &s,
            "ci/app",
            t,
            format!("cfg {t}").as_bytes(),
            &[b"base"],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1100)).await; // distinct tag times
    }
    push_image(&c, &s, "other/app", "old", b"cfg other", &[b"base"]).await;
    let rules = vec![RetentionRule {
        repositories: vec!["ci/*".into()],
        keep_last: Some(2),
        max_age: None,
        keep_tags: Some("^v\\d+$".into()),
    }];
    let dry = retention::apply(&s.state.registry, &rules, true)
        .await
        .unwrap();
    let mut tags: Vec<&str> = dry.tags_removed.iter().map(|r| r.tag.as_str()).collect();
    tags.sort();
    assert_eq!(tags, ["b1", "b2"]);
    assert_eq!(dry.manifests_removed.len(), 2);
    assert_eq!(
        c.get(s.url("/v2/ci/app/manifests/b1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let done = retention::apply(&s.state.registry, &rules, false)
        .await
        .unwrap();
    assert_eq!(done.tags_removed, dry.tags_removed);
    let v: serde_json::Value = c
        .get(s.url("/v2/ci/app/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"], serde_json::json!(["b3", "b4", "v1"]));
    // max_age removes everything older (except protected tags); other repos untouched.
    // (S3 reports modification times in whole seconds, hence the generous margins.)
    tokio::time::sleep(Duration::from_millis(3500)).await;
    push_image(&c, &s, "ci/app", "fresh", b"cfg fresh", &[b"base"]).await;
    let rules = vec![RetentionRule {
        repositories: vec!["ci/*".into()],
        keep_last: None,
        max_age: Some(Duration::from_secs(3)),
        keep_tags: Some("^v".into()),
    }];
    retention::apply(&s.state.registry, &rules, false)
        .await
        .unwrap();
    let v: serde_json::Value = c
        .get(s.url("/v2/ci/app/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"], serde_json::json!(["fresh", "v1"]));
    verify_image(&c, &s, "other/app", "old").await;
    // GC then reclaims the configs of the removed manifests but keeps shared layers.
    let r = gc::collect(&s.state.registry, opts(Duration::ZERO, false))
        .await
        .unwrap();
    assert!(
        r.blobs_deleted.contains(&digest(b"cfg b1").to_string()),
        "{r:?}"
    );
    verify_image(&c, &s, "ci/app", "v1").await;
    verify_image(&c, &s, "ci/app", "fresh").await;
    s.stop().await;
}

per_backend!(
    sweeps_unreferenced_blobs_and_uploads,
    gc_during_concurrent_pushes_loses_nothing,
    retention_policies
);

/// The push half of the protocol in `gc.rs`: while a deletion notice for a blob stands, a
/// manifest referencing it is refused (and the tag keeps what it had); a notice left by a
/// dead collector is ignored after its lifetime and removed by the next collection.
#[tokio::test]
async fn a_deletion_notice_makes_manifest_pushes_refuse_the_blob() {
    use strata_registry::storage::keys;
    let Some((_d, s)) = server(Backend::Fs, Duration::from_secs(3600)).await else {
        return;
    };
    let c = client();
    push_image(&c, &s, "n/app", "v1", b"cfg n1", &[b"layer n"]).await;
    push_blob(&c, &s, "n/app", b"cfg n2").await;
    let layer = digest(b"layer n");
    let storage = s.state.registry.storage().clone();
    let notice = keys::gc_pending(&layer);
    storage.put(&notice, bytes::Bytes::new()).await.unwrap();

    let put = |tag: &'static str| {
        let c = c.clone();
        let url = s.url(&format!("/v2/n/app/manifests/{tag}"));
        async move {
            c.put(url)
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .body(common::image_manifest(b"cfg n2", &[b"layer n"], None, None))
                .send()
                .await
                .unwrap()
        }
    };
    let r = put("v1").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("MANIFEST_BLOB_UNKNOWN"));
    verify_image(&c, &s, "n/app", "v1").await;

    // A notice older than its lifetime was left by a collector that died.
    let path = _d.path().join("data").join(&notice);
    let old = std::time::SystemTime::now() - gc::PENDING_TTL - Duration::from_secs(5);
    filetime::set_file_mtime(&path, filetime::FileTime::from_system_time(old)).unwrap();
    assert_eq!(put("v2").await.status(), 201);
    verify_image(&c, &s, "n/app", "v2").await;
    gc::collect(&s.state.registry, opts(Duration::from_secs(3600), false))
        .await
        .unwrap();
    assert!(storage.stat(&notice).await.unwrap().is_none());
    s.stop().await;
}
