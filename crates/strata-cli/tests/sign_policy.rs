//! `strata key generate`, `sign`, `verify` and `policy check` end to end: signatures in the
//! store (kept through save and load), in an OCI layout, and in a registry without the
//! referrers API (cosign's `sha256-<hex>.sig` tag, read back by skopeo), tampering caught;
//! a policy's rules failing and passing with their evidence.

mod distribution_support;

use std::path::Path;
use std::process::Command;

use distribution_support::{busybox_image, run_fail, run_ok, skopeo, strata, tmp, Mode, Registry};

fn cmd(root: &Path) -> Command {
    let mut c = strata(root).command();
    c.env("COSIGN_PASSWORD", "correct horse");
    c
}

fn keys(dir: &Path) -> (String, String) {
    let prefix = dir.join("cosign");
    run_ok(cmd(dir).args([
        "key",
        "generate",
        "--output-key-prefix",
        prefix.to_str().unwrap(),
    ]));
    let key = dir.join("cosign.key");
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{text}"
    );
    // Generating again must not overwrite the pair.
    let err = run_fail(cmd(dir).args([
        "key",
        "generate",
        "--output-key-prefix",
        prefix.to_str().unwrap(),
    ]));
    assert!(err.contains("already exists"), "{err}");
    (
        key.display().to_string(),
        dir.join("cosign.pub").display().to_string(),
    )
}

fn manifest_digest(root: &Path, image: &str) -> String {
    let store = strata_store::Store::open(root).unwrap();
    store
        .resolve(image)
        .unwrap()
        .record
        .manifest_digest
        .to_string()
}

#[test]
fn store_signatures_verify_survive_save_and_load_and_catch_tampering() {
    let root = tmp();
    let store = root.path().join("store");
    busybox_image(&store, "app:1", None);
    busybox_image(&store, "other:1", Some("linux/arm64"));
    let (key, public) = keys(root.path());
    run_ok(cmd(&store).args(["sign", "--key", &key, "-a", "env=prod", "app:1"]));

    let (out, err) = run_ok(cmd(&store).args(["verify", "--key", &public, "app:1"]));
    assert!(
        err.contains("signatures were verified against the specified public key"),
        "{err}"
    );
    let payloads: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let p = &payloads[0];
    assert_eq!(
        p["critical"]["image"]["docker-manifest-digest"],
        manifest_digest(&store, "app:1")
    );
    assert_eq!(
        p["critical"]["identity"]["docker-reference"],
        "docker.io/library/app"
    );
    assert_eq!(p["critical"]["type"], "cosign container image signature");
    assert_eq!(p["optional"]["env"], "prod");

    // Required annotations, another key, another image under the signed name.
    let err = run_fail(cmd(&store).args(["verify", "--key", &public, "-a", "env=dev", "app:1"]));
    assert!(
        err.contains("annotation env is \"prod\", not \"dev\""),
        "{err}"
    );
    let other_dir = root.path().join("other-key");
    std::fs::create_dir_all(&other_dir).unwrap();
    let (_, other_public) = keys(&other_dir);
    let err = run_fail(cmd(&store).args(["verify", "--key", &other_public, "app:1"]));
    assert!(err.contains("no matching signatures"), "{err}");
    run_ok(cmd(&store).args(["tag", "other:1", "app:1"]));
    let err = run_fail(cmd(&store).args(["verify", "--key", &public, "app:1"]));
    assert!(err.contains("the image has no signatures"), "{err}");
    run_ok(cmd(&store).args(["tag", "other:1", "other:2"]));

    // Wrong password: nothing is signed.
    let mut c = cmd(&store);
    c.env("COSIGN_PASSWORD", "wrong");
    let err = run_fail(c.args(["sign", "--key", &key, "other:1"]));
    assert!(err.contains("wrong password"), "{err}");
    let err = run_fail(cmd(&store).args(["sign", "--key", &key, "--tlog-upload=true", "other:1"]));
    assert!(err.contains("transparency log"), "{err}");

    // The signature travels with its image through save and load (signed image only).
    busybox_image(&store, "app:signed", None);
    run_ok(cmd(&store).args(["sign", "--key", &key, "app:signed"]));
    let archive = root.path().join("app.tar");
    run_ok(cmd(&store).args(["save", "-o", archive.to_str().unwrap(), "app:signed"]));
    let store2 = root.path().join("store2");
    run_ok(cmd(&store2).args(["load", "-i", archive.to_str().unwrap()]));
    run_ok(cmd(&store2).args(["verify", "--key", &public, "app:signed"]));
    // And it is read in place from the archive, without loading.
    let source = format!("oci-archive:{}:app:signed", archive.display());
    let (out, _) =
        run_ok(cmd(&store2).args(["verify", "--key", &public, "--ignore-reference", &source]));
    assert!(out.contains("docker-manifest-digest"), "{out}");
}

#[test]
fn layout_signatures_are_referrers() {
    let root = tmp();
    let store = root.path().join("store");
    busybox_image(&store, "app:1", None);
    let (key, public) = keys(root.path());
    let layout = root.path().join("layout");
    let dest = format!("oci:{}:app", layout.display());
    run_ok(cmd(&store).args(["copy", "app:1", &dest]));
    run_ok(cmd(&store).args(["sign", "--key", &key, &dest]));
    let (out, _) =
        run_ok(cmd(&store).args(["verify", "--key", &public, "--ignore-reference", &dest]));
    assert!(out.contains("docker-manifest-digest"), "{out}");
    let index = std::fs::read_to_string(layout.join("index.json")).unwrap();
    assert!(
        index.contains("application/vnd.dev.cosign.artifact.sig.v1+json"),
        "{index}"
    );
}

#[test]
fn registry_signatures_use_cosigns_tag_and_skopeo_reads_them() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let root = tmp();
    let store = root.path().join("store");
    busybox_image(&store, "app:1", None);
    let (key, public) = keys(root.path());
    let image = format!("{}/team/app:1", reg.host);
    run_ok(cmd(&store).args(["tag", "app:1", &image]));
    run_ok(cmd(&store).args(["push", &image]));
    let remote = format!("docker://{image}");
    run_ok(cmd(&store).args(["sign", "--key", &key, &remote]));
    run_ok(cmd(&store).args(["sign", "--key", &key, "-a", "second=yes", &remote]));
    let (out, _) = run_ok(cmd(&store).args(["verify", "--key", &public, &remote]));
    let payloads: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(payloads.as_array().unwrap().len(), 2, "{out}");
    assert_eq!(
        payloads[0]["critical"]["identity"]["docker-reference"],
        format!("{}/team/app", reg.host)
    );
    let digest = payloads[0]["critical"]["image"]["docker-manifest-digest"]
        .as_str()
        .unwrap()
        .to_owned();

    let Some(skopeo) = skopeo() else { return };
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let out = Command::new(skopeo)
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/team/app:{tag}", reg.host),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "two signatures, appended: {m}");
    for l in layers {
        assert_eq!(
            l["mediaType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        assert!(l["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
    }

    // Pushing another image under the tag: the signatures name the old digest.
    busybox_image(&store, "next:1", Some("linux/arm64"));
    run_ok(cmd(&store).args(["tag", "next:1", &image]));
    run_ok(cmd(&store).args(["push", &image]));
    let err = run_fail(cmd(&store).args(["verify", "--key", &public, &remote]));
    assert!(err.contains("no matching signatures"), "{err}");
}

#[test]
fn policy_check_reports_each_rule_with_evidence() {
    let root = tmp();
    let store = root.path().join("store");
    busybox_image(&store, "app:1", None);
    let (key, public) = keys(root.path());
    std::fs::copy(&public, root.path().join("team.pub")).unwrap();
    let policy = root.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "rules:\n  requiredLabels:\n    - name: org.opencontainers.image.source\n  maxLayers: 5\n  maxImageSize: 1kB\n  nonRootUser: true\n  noSecrets: true\n  requiredSignature:\n    key: team.pub\n  requireSbom: true\n",
    )
    .unwrap();
    let out = cmd(&store)
        .args([
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "app:1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for line in [
        "FAIL  requiredLabels",
        "label org.opencontainers.image.source is missing",
        "PASS  maxLayers",
        "FAIL  maxImageSize",
        "FAIL  nonRootUser",
        "no USER is set",
        "PASS  noSecrets",
        "FAIL  requiredSignature",
        "FAIL  requireSbom",
        "Result: FAIL",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    run_ok(cmd(&store).args(["sign", "--key", &key, "app:1"]));
    let (json, _) = run_ok(cmd(&store).args([
        "policy",
        "check",
        "--warn-only",
        "--format",
        "json",
        "--policy",
        policy.to_str().unwrap(),
        "app:1",
    ]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let sig = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "requiredSignature")
        .unwrap();
    assert_eq!(sig["status"], "pass", "{json}");

    // A bad policy names the file and the key.
    let bad = root.path().join("bad.yaml");
    std::fs::write(&bad, "rules:\n  maxLayer: 3\n").unwrap();
    let err = run_fail(cmd(&store).args([
        "policy",
        "check",
        "--policy",
        bad.to_str().unwrap(),
        "app:1",
    ]));
    assert!(
        err.contains("bad.yaml") && err.contains("maxLayer"),
        "{err}"
    );
}
