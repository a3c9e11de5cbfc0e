//! Several `strata` processes tag, untag, remove and prune on one store at once; the end
//! state must be exactly what the operations imply and `system check` must pass.

mod image_fixtures;

use std::process::{Command, Stdio};

use image_fixtures::{image, ok};
use strata_store::Store;

#[test]
fn concurrent_processes_keep_the_store_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let base = image(&s, "base", &["base"]);
    for i in 0..4 {
        image(&s, &format!("dangling{i}"), &[]);
    }
    let root = dir.path().to_str().unwrap().to_owned();
    // Each worker runs a shell loop of strata commands; they all start at once.
    let mut children = Vec::new();
    for w in 0..4 {
        let script = format!(
            "for i in 1 2 3 4 5 6; do \
               \"$S\" tag base w{w}:$i || exit 1; \
               \"$S\" tag base tmp{w}:$i || exit 1; \
               \"$S\" rmi tmp{w}:$i >/dev/null || exit 1; \
               \"$S\" image prune -f >/dev/null || exit 1; \
             done"
        );
        children.push(
            Command::new("sh")
                .args(["-c", &script])
                .env("S", env!("CARGO_BIN_EXE_strata"))
                .env("STRATA_ROOT", &root)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let images = s.list_images().unwrap();
    assert_eq!(
        images.len(),
        1,
        "dangling images survived prune or base was lost"
    );
    let img = &images[0];
    assert_eq!(img.record.manifest_digest, base.manifest_digest);
    let mut tags: Vec<String> = img.tags.iter().map(|t| t.familiar()).collect();
    tags.sort();
    assert_eq!(tags.len(), 1 + 4 * 6, "{tags:?}");
    assert!(tags.iter().all(|t| !t.starts_with("tmp")), "{tags:?}");
    assert!(ok(dir.path(), &["system", "check"]).contains("consistent"));
    assert!(s.has_blob(&base.config_digest));
}
