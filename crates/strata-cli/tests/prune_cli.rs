//! `strata image prune` (dangling, -a, filters, retention policies, dry run) and
//! `strata system df|prune|check`.

mod image_fixtures;

use image_fixtures::{image, ok, stderr, stdout, strata, Fixture};
use strata_store::Store;

fn setup() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s)
}

#[test]
fn prune_removes_dangling_and_reports_space() {
    let (dir, s) = setup();
    let kept = image(&s, "kept", &["kept:1"]);
    let gone = image(&s, "gone", &[]);
    let dry = ok(dir.path(), &["image", "prune", "--dry-run"]);
    assert!(
        dry.contains(&format!("Would delete: {}", gone.config_digest)),
        "{dry}"
    );
    assert!(s.has_blob(&gone.config_digest));
    let out = ok(dir.path(), &["image", "prune", "-f"]);
    assert!(out.starts_with("Deleted Images:\n"), "{out}");
    assert!(out.contains(&format!("deleted: {}", gone.config_digest)));
    assert!(
        out.contains("Total reclaimed space: ") && !out.contains("space: 0B"),
        "{out}"
    );
    assert!(!s.has_blob(&gone.config_digest));
    assert!(s.has_blob(&kept.config_digest));
    assert_eq!(
        ok(dir.path(), &["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
}

#[test]
fn prune_asks_for_confirmation() {
    let (dir, s) = setup();
    image(&s, "gone", &[]);
    let o = strata(dir.path(), &["image", "prune"]); // stdin is empty: answer is no
    assert!(o.status.success());
    assert!(stdout(&o).contains("WARNING! This will remove all dangling images."));
    assert_eq!(s.list_images().unwrap().len(), 1);
}

#[test]
fn system_prune_removes_dangling_images_and_the_build_cache() {
    let (dir, s) = setup();
    let kept = image(&s, "kept", &["kept:1"]);
    let gone = image(&s, "gone", &[]);
    s.put_record("build-cache", "sha256:0123", b"{}").unwrap();
    let mounts = dir.path().join("build-v1/cache-mounts/m1");
    std::fs::create_dir_all(&mounts).unwrap();
    std::fs::write(mounts.join("f"), vec![7u8; 10_000]).unwrap();

    let o = strata(dir.path(), &["system", "prune"]); // stdin is empty: answer is no
    assert!(o.status.success());
    assert!(
        stdout(&o)
            .contains("WARNING! This will remove:\n  - all dangling images\n  - all build cache"),
        "{}",
        stdout(&o)
    );
    assert_eq!(s.list_images().unwrap().len(), 2);

    let out = ok(dir.path(), &["system", "prune", "-f"]);
    assert!(out.starts_with("Deleted Images:\n"), "{out}");
    assert!(
        out.contains(&format!("deleted: {}", gone.config_digest)),
        "{out}"
    );
    assert!(
        out.contains("Deleted build cache objects:\n0123\n"),
        "{out}"
    );
    assert!(!out.contains("space: 0B"), "{out}");
    assert!(!mounts.exists());
    assert!(s.has_blob(&kept.config_digest) && !s.has_blob(&gone.config_digest));
    assert_eq!(s.list_records("build-cache").unwrap(), vec![]);

    let o = strata(dir.path(), &["system", "prune", "-f", "--volumes"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no volumes"), "{}", stderr(&o));
    // -a takes tagged images too.
    let out = ok(dir.path(), &["system", "prune", "-af"]);
    assert!(out.contains("untagged: kept:1"), "{out}");
    assert!(s.list_images().unwrap().is_empty());
}

#[test]
fn prune_all_with_filters() {
    let (dir, s) = setup();
    let mut f = Fixture::new("old");
    f.created = "2020-01-01T00:00:00Z";
    f.labels = vec![("keep", "yes")];
    let old_kept = f.add(&s);
    s.tag("oldkept", &old_kept.manifest_digest).unwrap();
    let mut f = Fixture::new("old2");
    f.created = "2020-01-01T00:00:00Z";
    let old = f.add(&s);
    s.tag("old", &old.manifest_digest).unwrap();
    let fresh = image(&s, "fresh", &["fresh"]);
    fresh.created.unwrap();
    let out = ok(
        dir.path(),
        &[
            "image",
            "prune",
            "-a",
            "-f",
            "--filter",
            "until=2021-01-01",
            "--filter",
            "label!=keep",
        ],
    );
    assert!(out.contains("untagged: old:latest"), "{out}");
    let left: Vec<String> = s
        .list_images()
        .unwrap()
        .iter()
        .flat_map(|i| i.tags.iter().map(|t| t.familiar()))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    let o = strata(dir.path(), &["image", "prune", "--filter", "dangling=true"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn retention_policy_keeps_latest_and_removes_old_and_excess() {
    let (dir, s) = setup();
    let dates = [
        "2020-01-01",
        "2020-02-01",
        "2020-03-01",
        "2099-01-01",
        "2099-02-01",
    ];
    for (i, d) in dates.iter().enumerate() {
        let mut f = Fixture::new(d);
        let created = format!("{d}T00:00:00Z");
        f.created = &created;
        let r = f.add(&s);
        s.tag(&format!("app:v{i}"), &r.manifest_digest).unwrap();
    }
    image(&s, "other", &["other:1"]);
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[rule]]\npattern = \"app:*\"\nkeep_latest = 1\nmax_count = 3\nmax_age = \"30d\"\n",
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let dry = ok(dir.path(), &["image", "prune", "--policy", p, "--dry-run"]);
    // Newest first: v4 (kept: keep_latest), v3 (future, young), v2 (old), v1, v0 (beyond 3).
    assert!(
        dry.contains("Would untag: app:v2 (rule 1 (app:*): older than 30d)"),
        "{dry}"
    );
    assert!(
        dry.contains("Would untag: app:v1") && dry.contains("Would untag: app:v0"),
        "{dry}"
    );
    assert!(
        !dry.contains("app:v3") && !dry.contains("app:v4") && !dry.contains("other"),
        "{dry}"
    );
    assert_eq!(
        s.list_images().unwrap().len(),
        6,
        "dry run removed something"
    );
    let out = ok(dir.path(), &["image", "prune", "--policy", p, "-f"]);
    assert!(
        out.contains("untagged: app:v0") && out.contains("deleted: sha256:"),
        "{out}"
    );
    let mut left: Vec<String> = s
        .list_images()
        .unwrap()
        .iter()
        .flat_map(|i| i.tags.iter().map(|t| t.familiar()))
        .collect();
    left.sort();
    assert_eq!(left, ["app:v3", "app:v4", "other:1"]);
    std::fs::write(&policy, "[[rule]]\npattern = \"x\"\nmax_age = \"soon\"\n").unwrap();
    let o = strata(dir.path(), &["image", "prune", "--policy", p, "-f"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid max_age \"soon\""),
        "{}",
        stderr(&o)
    );
    std::fs::write(&policy, "[[rule]]\npattern = \"x\"\nmax_agee = \"1d\"\n").unwrap();
    let o = strata(dir.path(), &["image", "prune", "--policy", p, "-f"]);
    assert!(
        stderr(&o).contains("max_agee"),
        "unknown keys must be rejected: {}",
        stderr(&o)
    );
}

#[test]
fn system_df_and_check() {
    let (dir, s) = setup();
    image(&s, "a", &["a"]);
    image(&s, "b", &[]);
    let out = ok(dir.path(), &["system", "df"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("TYPE") && lines[0].contains("RECLAIMABLE"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("Images ") && lines[1].contains("%)"),
        "{out}"
    );
    let json = ok(
        dir.path(),
        &[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}}",
        ],
    );
    assert_eq!(json.lines().next().unwrap(), "Images 2 1");
    let v = ok(dir.path(), &["system", "df", "-v"]);
    assert!(
        v.contains("Images space usage:") && v.contains("UNIQUE SIZE"),
        "{v}"
    );
    assert!(ok(dir.path(), &["system", "check"]).contains("consistent"));
    let r = s.resolve("a").unwrap().record;
    std::fs::write(s.blob_path(&r.layers[0].digest).unwrap(), b"garbage").unwrap();
    let o = strata(dir.path(), &["system", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(&r.layers[0].digest.to_string()),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("problem(s) found"));
}

/// Issue 11, defect 1: a snapshot left half deleted (no completion marker) is reported
/// precisely with a hint that fits, and `system check --repair` removes it.
#[test]
fn defect_1_check_reports_an_incomplete_snapshot_and_repair_fixes_it() {
    let (dir, s) = setup();
    let r = image(&s, "snap", &["snap"]);
    let snaps = s
        .ensure_unpacked(&r.manifest_digest, &Default::default())
        .unwrap();
    let snap_dir = snaps[0].fs_path.parent().unwrap().to_owned();
    std::fs::remove_file(snap_dir.join("complete")).unwrap();
    std::fs::remove_file(snap_dir.join("diffid")).unwrap();
    let o = strata(dir.path(), &["system", "check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains(snaps[0].chain_id.hex()), "{out}");
    assert!(out.contains("incomplete"), "{out}");
    let err = stderr(&o);
    assert!(err.contains("system check --repair"), "{err}");
    assert!(!err.contains("rmi"), "the hint must fit the problem: {err}");
    let repaired = ok(dir.path(), &["system", "check", "--repair"]);
    assert!(repaired.contains("repaired snapshot"), "{repaired}");
    assert!(repaired.contains("consistent"), "{repaired}");
    assert!(!snap_dir.exists());
    // Used again, it is unpacked whole.
    let again = s
        .ensure_unpacked(&r.manifest_digest, &Default::default())
        .unwrap();
    assert!(again[0].fs_path.join("snap.txt").is_file());
    assert!(ok(dir.path(), &["system", "check"]).contains("consistent"));
}
