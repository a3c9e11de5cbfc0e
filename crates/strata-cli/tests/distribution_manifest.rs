//! Multi-platform indexes (`manifest create/annotate/inspect/push`, pull `--platform`)
//! and `copy` between transports, against `docker-registry` and skopeo.

mod distribution_support;

use std::process::Command;

use distribution_support::*;

#[test]
fn two_platform_index_round_trips() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    let amd = busybox_image(&t.store(), "bb:amd64", Some("linux/amd64"));
    let arm = busybox_image(&t.store(), "bb:arm64", Some("linux/arm64/v8"));
    assert_ne!(amd, arm);
    let s = |args: &[&str]| run_ok(strata_cmd(&t.store(), &dc).args(args));
    let a_ref = format!("{}/multi/bb:amd64", reg.host);
    let b_ref = format!("{}/multi/bb:arm64", reg.host);
    s(&["tag", "bb:amd64", &a_ref]);
    s(&["tag", "bb:arm64", &b_ref]);
    s(&["push", "-q", &a_ref]);
    s(&["push", "-q", &b_ref]);
    let list = format!("{}/multi/bb:all", reg.host);
    s(&["manifest", "create", &list, &a_ref, &b_ref]);
    let err = run_fail(strata_cmd(&t.store(), &dc).args(["manifest", "create", &list, &a_ref]));
    assert!(err.contains("--amend"), "{err}");
    s(&["manifest", "annotate", "--os-version", "1.0", &list, &b_ref]);
    let (local, _) = s(&["manifest", "inspect", &list]);
    let v: serde_json::Value = serde_json::from_str(&local).unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(v["manifests"][1]["platform"]["os.version"], "1.0");
    let (out, _) = s(&["manifest", "push", "--purge", &list]);
    let index_digest = out.trim().to_owned();

    // The registry serves exactly those bytes; skopeo sees the same index.
    let (remote, _) = s(&["manifest", "inspect", &list]);
    let rv: serde_json::Value = serde_json::from_str(&remote).unwrap();
    assert_eq!(rv["manifests"].as_array().unwrap().len(), 2);
    if let Some(sk) = skopeo() {
        let raw = Command::new(&sk)
            .args([
                "inspect",
                "--tls-verify=false",
                "--raw",
                &format!("docker://{list}"),
            ])
            .output()
            .unwrap();
        assert_eq!(
            strata_oci::Digest::sha256_of(&raw.stdout).to_string(),
            index_digest
        );
    }

    // Pulling picks the requested platform.
    for (platform, id) in [("linux/arm64/v8", &arm), ("linux/amd64", &amd)] {
        let t2 = tmp();
        let (_, err) =
            run_ok(strata_cmd(&t2.store(), &dc).args(["pull", "--platform", platform, &list]));
        assert!(err.contains(&format!("Digest: {index_digest}")), "{err}");
        let img = strata_store::Store::open(&t2.store())
            .unwrap()
            .resolve(&list)
            .unwrap();
        assert_eq!(&img.record.config_digest.to_string(), id);
    }
    let err =
        run_fail(strata_cmd(&t.store2(), &dc).args(["pull", "--platform", "linux/s390x", &list]));
    assert!(err.contains("no manifest for platform"), "{err}");

    // A registry-to-registry copy keeps the index digest; so does pinning by digest.
    let copy = format!("{}/copied/bb:all", reg.host);
    let (out, _) = s(&[
        "copy",
        &format!("docker://{list}"),
        &format!("docker://{copy}"),
    ]);
    assert_eq!(out.trim(), index_digest);
    let pinned = format!("{}/copied/bb@{index_digest}", reg.host);
    run_ok(strata_cmd(&t.store2(), &dc).args(["pull", "--platform", "linux/amd64", &pinned]));
}

#[test]
fn copy_between_transports_keeps_digests() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    busybox_image(&t.store(), "bb:c", None);
    let name = format!("{}/c/bb:1", reg.host);
    let s = |args: &[&str]| run_ok(strata_cmd(&t.store(), &dc).args(args));
    let (out, _) = s(&["copy", "strata:bb:c", &format!("docker://{name}")]);
    let pushed = out.trim().to_owned();

    // registry -> oci dir -> docker-archive -> store -> registry: same manifest digest.
    let oci = t.path().join("layout");
    let (out, _) = s(&[
        "copy",
        &format!("docker://{name}"),
        &format!("oci:{}:v1", oci.display()),
    ]);
    assert_eq!(out.trim(), pushed);
    // Nothing was staged in the store on the way.
    let scratch = t.store().join("tmp");
    assert!(std::fs::read_dir(&scratch)
        .map(|d| d.count() == 0)
        .unwrap_or(true));
    if let Some(sk) = skopeo() {
        run_ok(Command::new(&sk).args(["inspect", &format!("oci:{}:v1", oci.display())]));
    }
    let archive = t.path().join("bb.tar");
    let (out, _) = s(&[
        "copy",
        &format!("oci:{}:v1", oci.display()),
        &format!("docker-archive:{}:bb:v2", archive.display()),
    ]);
    assert_eq!(out.trim(), pushed);
    let (out, _) = run_ok(strata_cmd(&t.store2(), &dc).args([
        "copy",
        &format!("docker-archive:{}", archive.display()),
        "strata:bb:from-archive",
    ]));
    assert_eq!(out.trim(), pushed);
    let back = format!("{}/c/bb:2", reg.host);
    let (out, _) = run_ok(strata_cmd(&t.store2(), &dc).args([
        "copy",
        "strata:bb:from-archive",
        &format!("docker://{back}"),
    ]));
    assert_eq!(out.trim(), pushed);

    let err = run_fail(strata_cmd(&t.store(), &dc).args(["copy", "ftp://x", "strata:y"]));
    assert!(err.contains("unknown transport"), "{err}");
}
