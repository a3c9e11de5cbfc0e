//! Snapshots of the image commands' output (insta): the inspect JSON docker writes (key
//! order, 4-space indent, every key present), and the `images` / `history` tables. The
//! store is filled through the store API with fixed creation times. The inspected image is
//! untagged, so nothing in its JSON depends on when or where it was tagged.

mod image_fixtures;

use image_fixtures::{ok, Fixture};

fn store_with_images(tagged: bool) -> (tempfile::TempDir, strata_store::Store, String) {
    let dir = tempfile::tempdir().unwrap();
    let s = strata_store::Store::open(dir.path()).unwrap();
    let mut f = Fixture::new("web");
    f.layers = vec![
        image_fixtures::layer_tar("rootfs", &[1; 3000]),
        image_fixtures::layer_tar("app", b"hello world"),
    ];
    f.labels = vec![("org.example.team", "web"), ("version", "1.2")];
    f.history = vec![
        ("ADD rootfs.tar /", false),
        ("LABEL org.example.team=web version=1.2", true),
        ("COPY app /app # buildkit", false),
        ("CMD [\"sh\"]", true),
    ];
    let r = f.add(&s);
    if tagged {
        for t in ["web:1.2", "web:latest", "registry.example.com/team/web:1.2"] {
            s.tag(t, &r.manifest_digest).unwrap();
        }
        image_fixtures::image(&s, "dangling", &[]);
    }
    (dir, s, r.config_digest.to_string())
}

#[test]
fn inspect_json() {
    let (dir, _s, id) = store_with_images(false);
    insta::assert_snapshot!(ok(dir.path(), &["inspect", &id]));
}

#[test]
fn images_tables() {
    let (dir, _s, _) = store_with_images(true);
    let table = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}";
    insta::assert_snapshot!(ok(dir.path(), &["images", "--format", table]));
    let digests = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedAt}}\t{{.Size}}";
    insta::assert_snapshot!(ok(
        dir.path(),
        &["images", "--digests", "--format", digests]
    ));
}

#[test]
fn history_tables() {
    let (dir, _s, _) = store_with_images(true);
    insta::assert_snapshot!(ok(dir.path(), &["history", "-H=false", "web:1.2"]));
    insta::assert_snapshot!(ok(
        dir.path(),
        &[
            "history",
            "--format",
            "table {{.ID}}\t{{.CreatedBy}}\t{{.Size}}",
            "web:1.2"
        ]
    ));
}
