//! `strata images`, `inspect`, `history`, `tag`, `rmi` against a store filled through the
//! store API, asserting on docker-compatible output and exit codes.

mod image_fixtures;

use image_fixtures::{image, ok, stderr, stdout, strata, Fixture};
use strata_store::Store;

fn setup() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s)
}

#[test]
fn images_table_lists_tags_and_dangling() {
    let (dir, s) = setup();
    let a = image(&s, "alpha", &["busybox:latest", "me/app:1.0"]);
    let b = image(&s, "beta", &[]);
    let out = ok(dir.path(), &["images"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{out}"
    );
    assert!(lines[0].ends_with("SIZE"));
    let busy = lines
        .iter()
        .find(|l| l.starts_with("busybox "))
        .expect("busybox row");
    assert!(
        busy.contains(a.config_digest.short()) && busy.contains(" ago "),
        "{busy}"
    );
    assert!(lines
        .iter()
        .any(|l| l.starts_with("me/app ") && l.contains("1.0")));
    let none = lines
        .iter()
        .find(|l| l.starts_with("<none>"))
        .expect("dangling row");
    assert!(none.contains(b.config_digest.short()));
    // `image ls` and `image list` are the same command.
    assert_eq!(ok(dir.path(), &["image", "ls"]), out);
    assert_eq!(ok(dir.path(), &["image", "list"]), out);
}

#[test]
fn images_quiet_digests_no_trunc_and_formats() {
    let (dir, s) = setup();
    let a = image(&s, "alpha", &["busybox:1"]);
    assert_eq!(
        ok(dir.path(), &["images", "-q"]),
        format!("{}\n", a.config_digest.short())
    );
    assert_eq!(
        ok(dir.path(), &["images", "-q", "--no-trunc"]),
        format!("{}\n", a.config_digest)
    );
    // Never pushed or pulled: no repository digest, whatever the local manifest digest.
    let out = ok(dir.path(), &["images", "--digests"]);
    assert!(out.lines().next().unwrap().contains("DIGEST"));
    assert!(!out.contains(&a.manifest_digest.to_string()), "{out}");
    assert!(out.lines().nth(1).unwrap().contains("<none>"), "{out}");
    let pushed = format!(
        "busybox@{}",
        strata_oci::Digest::sha256_of(b"registry copy")
    );
    s.add_repo_digest(&a.manifest_digest, &pushed).unwrap();
    let out = ok(dir.path(), &["images", "--digests"]);
    assert!(out.contains(pushed.split_once('@').unwrap().1), "{out}");
    assert_eq!(
        ok(
            dir.path(),
            &["images", "--format", "{{.Repository}}:{{.Tag}}"]
        ),
        "busybox:1\n"
    );
    assert_eq!(
        ok(
            dir.path(),
            &[
                "images",
                "--format",
                "table {{.Repository}}\\t{{.Tag | upper}}"
            ]
        ),
        "REPOSITORY   TAG\nbusybox      1\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(ok(dir.path(), &["images", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["Repository"], "busybox");
    assert_eq!(json["ID"], a.config_digest.short());
    assert_eq!(json["CreatedAt"], "2024-01-02 03:04:05 +0000 UTC");
    let o = strata(dir.path(), &["images", "--format", "{{.Nope}}"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("Nope"), "{}", stderr(&o));
}

#[test]
fn images_filters() {
    let (dir, s) = setup();
    let mut f = Fixture::new("old");
    f.created = "2020-01-01T00:00:00Z";
    f.labels = vec![("team", "infra")];
    let old = f.add(&s);
    s.tag("old:1", &old.manifest_digest).unwrap();
    let mut f = Fixture::new("new");
    f.created = "2023-06-01T00:00:00Z";
    let new = f.add(&s);
    s.tag("app/new:2", &new.manifest_digest).unwrap();
    image(&s, "dangler", &[]);
    let q = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        a.extend_from_slice(args);
        ok(dir.path(), &a).lines().map(str::to_owned).collect()
    };
    assert_eq!(q(&["--filter", "dangling=true"]), ["<none>:<none>"]);
    assert_eq!(
        q(&["-f", "dangling=false", "-f", "label=team=infra"]),
        ["old:1"]
    );
    assert_eq!(q(&["--filter", "label=team"]), ["old:1"]);
    assert_eq!(q(&["--filter", "reference=app/*"]), ["app/new:2"]);
    assert_eq!(q(&["--filter", "reference=old:*"]), ["old:1"]);
    assert_eq!(q(&["--filter", "before=app/new:2"]), ["old:1"]);
    assert_eq!(
        q(&["--filter", "since=old:1", "--filter", "dangling=false"]),
        ["app/new:2"]
    );
    assert_eq!(q(&["--filter", "until=2021-01-01"]), ["old:1"]);
    assert_eq!(q(&["app/new"]), ["app/new:2"]);
    let o = strata(dir.path(), &["images", "--filter", "color=red"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid filter 'color'"),
        "{}",
        stderr(&o)
    );
    let o = strata(dir.path(), &["images", "--filter", "before=nosuch:1"]);
    assert!(stderr(&o).contains("No such image: nosuch:1"));
}

#[test]
fn inspect_has_docker_shape() {
    let (dir, s) = setup();
    let a = image(&s, "alpha", &["busybox", "busybox:1"]);
    let out = ok(dir.path(), &["inspect", "busybox"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let i = &v.as_array().unwrap()[0];
    assert_eq!(i["Id"], a.config_digest.to_string());
    assert_eq!(
        i["RepoTags"],
        serde_json::json!(["busybox:1", "busybox:latest"])
    );
    // No registry gave or took this image: docker shows `[]`.
    assert_eq!(i["RepoDigests"], serde_json::json!([]));
    assert_eq!(i["Os"], "linux");
    assert_eq!(i["Architecture"], "amd64");
    assert_eq!(i["Author"], "tests");
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(i["RootFS"]["Type"], "layers");
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    // docker's size: the layer's file content ("alpha", 5 bytes), not its tar.
    assert_eq!(i["Size"], 5);
    assert_eq!(i["VirtualSize"], 5);
    for k in ["Parent", "Comment", "Created", "Metadata"] {
        assert!(i.get(k).is_some(), "missing {k}");
    }
    assert_eq!(
        ok(
            dir.path(),
            &[
                "image",
                "inspect",
                "-f",
                "{{.Os}}/{{.Architecture}}",
                "busybox"
            ]
        ),
        "linux/amd64\n"
    );
    assert_eq!(
        ok(
            dir.path(),
            &[
                "inspect",
                "--format",
                "{{range .RepoTags}}{{.}} {{end}}",
                a.config_digest.short()
            ]
        ),
        "busybox:1 busybox:latest \n"
    );
    let o = strata(dir.path(), &["inspect", "busybox", "foo:1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Error: No such object: foo:1"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout(&o))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn history_lists_steps_newest_first() {
    let (dir, s) = setup();
    let mut f = Fixture::new("h");
    let long = "RUN /bin/sh -c apt-get update && apt-get install -y curl ca-certificates";
    f.layers = vec![
        image_fixtures::layer_tar("a", &[1; 3000]),
        image_fixtures::layer_tar("b", b"x"),
    ];
    f.history = vec![
        ("ADD rootfs.tar /", false),
        ("ENV A=1", true),
        (long, false),
        ("CMD [\"sh\"]", true),
    ];
    let r = f.add(&s);
    s.tag("hist", &r.manifest_digest).unwrap();
    let out = ok(dir.path(), &["history", "hist"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("IMAGE          CREATED"), "{out}");
    assert!(lines[0].contains("CREATED BY") && lines[0].contains("COMMENT"));
    assert!(
        lines[1].starts_with(r.config_digest.short())
            && lines[1].contains("CMD [\"sh\"]")
            && lines[1].contains("0B")
    );
    assert!(
        lines[2].starts_with("<missing>") && lines[2].contains('…'),
        "{}",
        lines[2]
    );
    assert!(
        lines[4].contains("ADD rootfs.tar /") && lines[4].contains(" 3kB "),
        "{}",
        lines[4]
    );
    let full = ok(dir.path(), &["history", "--no-trunc", "hist"]);
    assert!(full.contains(long) && full.contains(&r.config_digest.to_string()));
    let raw = ok(
        dir.path(),
        &["history", "-H=false", "--format", "{{.Size}}", "hist"],
    );
    assert_eq!(raw, "0\n1\n0\n3000\n");
    let q = ok(dir.path(), &["history", "-q", "hist"]);
    assert_eq!(
        q.lines().collect::<Vec<_>>(),
        [
            r.config_digest.short(),
            "<missing>",
            "<missing>",
            "<missing>"
        ]
    );
}

#[test]
fn tag_then_rmi_untags_and_deletes() {
    let (dir, s) = setup();
    let a = image(&s, "alpha", &["src:1"]);
    ok(dir.path(), &["tag", "src:1", "dst:2"]);
    ok(
        dir.path(),
        &[
            "image",
            "tag",
            &a.config_digest.hex()[..5],
            "localhost:5000/x",
        ],
    );
    assert_eq!(
        s.resolve("dst:2").unwrap().record.config_digest,
        a.config_digest
    );
    // An ID with several tags needs -f.
    let o = strata(dir.path(), &["rmi", a.config_digest.short()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("must be forced"), "{}", stderr(&o));
    assert_eq!(ok(dir.path(), &["rmi", "dst:2"]), "Untagged: dst:2\n");
    assert_eq!(
        ok(dir.path(), &["image", "rm", "localhost:5000/x"]),
        "Untagged: localhost:5000/x:latest\n"
    );
    let out = ok(dir.path(), &["rmi", "src:1"]);
    assert_eq!(
        out,
        format!("Untagged: src:1\nDeleted: {}\n", a.config_digest)
    );
    assert!(
        !s.has_blob(&a.config_digest),
        "rmi did not collect the image's blobs"
    );
    let o = strata(dir.path(), &["rmi", "src:1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Error: No such image: src:1"));
    let o = strata(dir.path(), &["tag", "nosuch", "x"]);
    assert_eq!(o.status.code(), Some(1));
    let o = strata(dir.path(), &["tag", "src", "Bad:Tag"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn rmi_force_deletes_all_tags_and_ambiguous_prefix_errors() {
    let (dir, s) = setup();
    let a = image(&s, "alpha", &["a:1", "a:2"]);
    let out = ok(dir.path(), &["rmi", "-f", &a.config_digest.to_string()]);
    assert_eq!(
        out,
        format!(
            "Untagged: a:1\nUntagged: a:2\nDeleted: {}\n",
            a.config_digest
        )
    );
    let o = strata(dir.path(), &["rmi", "--bogus", "x"]);
    // docker's exit status for a usage error.
    assert_eq!(o.status.code(), Some(125), "unknown flags are errors");
}
