//! Pull, push, login against a real `docker-registry` (distribution 2.8): round trips with
//! skopeo keeping digests, cross-repository mount, basic auth, TLS with a private CA,
//! resumed and corrupted transfers, hostile manifests.

mod distribution_support;

use std::process::Command;

use distribution_support::*;

#[test]
fn push_then_pull_round_trips_and_skopeo_agrees() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    let id = busybox_image(&t.store(), "bb:1", None);
    let name = format!("{}/team/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:1", &name]));
    let (out, err) = run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));
    assert!(err.contains("Pushed"), "{err}");
    let digest = out
        .split("digest: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();

    // RepoDigests: only what a registry took (push) or gave (pull).
    let repo_digests = |store: &std::path::Path, image: &str| {
        let (out, _) = run_ok(strata(store).command().args([
            "inspect",
            "--format",
            "{{json .RepoDigests}}",
            image,
        ]));
        out.trim().to_owned()
    };
    let want = format!("[\"{}/team/bb@{digest}\"]", reg.host);
    assert_eq!(repo_digests(&t.store(), &name), want);

    // A second push finds everything in place.
    let (_, err) = run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));
    assert!(err.contains("already exists"), "{err}");

    // Into an empty store: same image ID (config untouched), compressed layers.
    let (_, err) = run_ok(strata_cmd(&t.store2(), &dc).args(["pull", &name]));
    assert!(err.contains(&format!("Digest: {digest}")), "{err}");
    assert_eq!(repo_digests(&t.store2(), &name), want);
    let store2 = strata_store::Store::open(&t.store2()).unwrap();
    let img = store2.resolve(&name).unwrap();
    assert_eq!(img.record.config_digest.to_string(), id);
    // The pull counted the layer's size as docker shows it while checking its diffID.
    let noted = store2
        .get_record(
            strata_store::LAYER_CONTENT_SIZES_TABLE,
            &img.record.diff_ids[0].to_string(),
        )
        .unwrap()
        .expect("pull notes the layer's size");
    let layer_tar = std::fs::File::open(strata_testkit::busybox().unwrap().layer_tar).unwrap();
    assert_eq!(
        String::from_utf8(noted).unwrap(),
        strata_layer::tar_content_size(layer_tar)
            .unwrap()
            .to_string()
    );
    assert_eq!(img.record.manifest_digest.to_string(), digest);
    assert!(img.record.layers[0].media_type.as_str().ends_with("+gzip"));
    run_ok(strata(&t.store2()).command().args(["system", "check"]));
    // Sizes are shown unpacked, as docker shows them: the same on both sides although one
    // store holds the layer compressed.
    let size_in = |store: &std::path::Path| {
        run_ok(
            strata(store)
                .command()
                .args(["images", "--format", "{{.Size}}", &name]),
        )
        .0
    };
    let (built, pulled) = (size_in(&t.store()), size_in(&t.store2()));
    assert!(built.trim().ends_with("MB"), "{built}");
    assert_eq!(built, pulled);
    let tar = std::fs::metadata(strata_testkit::busybox().unwrap().layer_tar)
        .unwrap()
        .len();
    assert!(
        img.record.size > tar,
        "{} vs layer tar {tar}",
        img.record.size
    );

    // A pushed image is what skopeo sees, byte for byte.
    if let Some(sk) = skopeo() {
        let raw = Command::new(&sk)
            .args([
                "inspect",
                "--tls-verify=false",
                "--raw",
                &format!("docker://{name}"),
            ])
            .output()
            .unwrap();
        assert!(raw.status.success());
        assert_eq!(
            strata_oci::Digest::sha256_of(&raw.stdout).to_string(),
            digest
        );
        // skopeo pushes to another repository; strata pulls it with the same digest.
        let sk_name = format!("{}/sk/bb:2", reg.host);
        let oci = t.path().join("oci");
        run_ok(Command::new(&sk).args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{name}"),
            &format!("oci:{}:x", oci.display()),
        ]));
        run_ok(Command::new(&sk).args([
            "copy",
            "--dest-tls-verify=false",
            &format!("oci:{}:x", oci.display()),
            &format!("docker://{sk_name}"),
        ]));
        let sk_digest = strata_oci::Digest::sha256_of(
            &Command::new(&sk)
                .args([
                    "inspect",
                    "--tls-verify=false",
                    "--raw",
                    &format!("docker://{sk_name}"),
                ])
                .output()
                .unwrap()
                .stdout,
        );
        let t3 = tmp();
        let (_, err) = run_ok(strata_cmd(&t3.store(), &dc).args(["pull", &sk_name]));
        assert!(err.contains(&format!("Digest: {sk_digest}")), "{err}");
    }

    // Pushing the pulled (compressed) image to another repository mounts its layer.
    let other = format!("{}/other/bb:1", reg.host);
    run_ok(strata(&t.store2()).command().args(["tag", &name, &other]));
    let (out, err) = run_ok(strata_cmd(&t.store2(), &dc).args(["push", &other]));
    assert!(err.contains("Mounted from another repository"), "{err}");
    assert!(out.contains(&digest), "digest must be preserved: {out}");
    let log = reg.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("POST /v2/other/bb/blobs/uploads/?mount=") && l.contains("201")),
        "no mount in the registry log"
    );
}

#[test]
fn zstd_push_keeps_the_config_and_pulls_back() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    let id = busybox_image(&t.store(), "bb:z", None);
    let name = format!("{}/z/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:z", &name]));
    run_ok(strata_cmd(&t.store(), &dc).args([
        "push",
        "--compression-format",
        "zstd",
        "--compression-level",
        "5",
        "--chunk-size",
        "65536",
        &name,
    ]));
    run_ok(strata_cmd(&t.store2(), &dc).args(["pull", "-q", &name]));
    let img = strata_store::Store::open(&t.store2())
        .unwrap()
        .resolve(&name)
        .unwrap();
    assert_eq!(img.record.config_digest.to_string(), id);
    assert_eq!(
        img.record.layers[0].media_type.as_str(),
        strata_oci::media_type::OCI_LAYER_ZSTD
    );
    let err = run_fail(strata_cmd(&t.store(), &dc).args([
        "push",
        "--compression-level",
        "30",
        "--compression-format",
        "zstd",
        &name,
    ]));
    assert!(err.contains("out of range"), "{err}");
}

#[test]
fn basic_auth_login_push_pull_logout() {
    let Some(reg) = Registry::start(Mode::Htpasswd {
        user: "alice".into(),
        password: "wonder land".into(),
    }) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    busybox_image(&t.store(), "bb:a", None);
    let name = format!("{}/private/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:a", &name]));

    let err = run_fail(strata_cmd(&t.store(), &dc).args(["push", &name]));
    assert!(
        err.contains(&reg.host) && err.contains("strata login"),
        "{err}"
    );

    let err = run_fail(
        strata_cmd(&t.store(), &dc).args(["login", "-u", "alice", "-p", "nope", &reg.host]),
    );
    assert!(err.contains("authentication required"), "{err}");
    assert!(
        !dc.join("config.json").exists()
            || !std::fs::read_to_string(dc.join("config.json"))
                .unwrap()
                .contains(&reg.host)
    );

    let mut login = strata_cmd(&t.store(), &dc);
    login
        .args(["login", "-u", "alice", "--password-stdin", &reg.host])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"wonder land\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Login Succeeded"));
    let cfg = std::fs::read_to_string(dc.join("config.json")).unwrap();
    assert!(cfg.contains(&reg.host), "{cfg}");

    run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));
    run_ok(strata_cmd(&t.store2(), &dc).args(["pull", &name]));

    let (out, _) = run_ok(strata_cmd(&t.store(), &dc).args(["logout", &reg.host]));
    assert!(out.contains("Removing login credentials"), "{out}");
    let err = run_fail(strata_cmd(&t.store2(), &dc).args(["pull", &name]));
    assert!(err.contains("strata login"), "{err}");
}

/// A CA and a server certificate for 127.0.0.1, made with openssl.
fn make_certs(
    dir: &std::path::Path,
) -> Option<(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)> {
    let openssl = strata_testkit::require_tool("openssl").unwrap()?;
    let sh = |args: &[&str]| run_ok(Command::new(&openssl).current_dir(dir).args(args));
    sh(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=strata test ca",
    ]);
    sh(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    sh(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Some((
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    ))
}

#[test]
fn tls_with_a_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = make_certs(certs.path()) else {
        return;
    };
    let Some(reg) = Registry::start(Mode::Tls { cert, key }) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    busybox_image(&t.store(), "bb:t", None);
    let name = format!("{}/tls/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:t", &name]));

    // Unknown CA: refused (no silent downgrade to plain http succeeds either).
    run_fail(strata_cmd(&t.store(), &dc).args(["push", &name]));

    let ca_dir = t.path().join("ca");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(&ca, ca_dir.join("ca.crt")).unwrap();
    run_ok(strata_cmd(&t.store(), &dc).args([
        "push",
        "--cert-dir",
        ca_dir.to_str().unwrap(),
        &name,
    ]));
    // certs.d/<host>/ca.crt, as docker reads it.
    let certs_d = t.path().join("certs.d");
    std::fs::create_dir_all(certs_d.join(&reg.host)).unwrap();
    std::fs::copy(&ca, certs_d.join(&reg.host).join("ca.crt")).unwrap();
    run_ok(
        strata_cmd(&t.store2(), &dc)
            .env("STRATA_CERTS_D", &certs_d)
            .args(["pull", &name]),
    );
    // Verification off: works without the CA.
    let t3 = tmp();
    run_ok(strata_cmd(&t3.store(), &dc).args(["pull", "--tls-verify=false", &name]));
    assert!(reg.log_text().contains("tls"), "registry did not serve tls");
}

#[test]
fn interrupted_pull_resumes_with_range() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    busybox_image(&t.store(), "bb:r", None);
    let name = format!("{}/r/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:r", &name]));
    run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));

    let proxy = FaultProxy::start(&reg.host, Fault::Cut, 200_000);
    let via = format!("{}/r/bb:1", proxy.host);
    let (_, err) = run_ok(strata_cmd(&t.store2(), &dc).args(["pull", &via]));
    assert!(proxy.fired.load(std::sync::atomic::Ordering::SeqCst));
    assert!(err.contains("Retrying from byte"), "{err}");
    // Resumed from where the cut happened, not from zero: the registry honoured Range.
    let offsets: Vec<u64> = err
        .lines()
        .filter_map(|l| l.split("Retrying from byte ").nth(1))
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert!(
        !offsets.is_empty() && offsets.iter().all(|&o| o > 0),
        "{err}"
    );
    let a = strata_store::Store::open(&t.store()).unwrap();
    let b = strata_store::Store::open(&t.store2()).unwrap();
    assert_eq!(
        a.resolve(&name).unwrap().record.config_digest,
        b.resolve(&via).unwrap().record.config_digest
    );
    run_ok(strata(&t.store2()).command().args(["system", "check"]));
}

#[test]
fn corrupted_blob_is_rejected_and_nothing_is_stored() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    busybox_image(&t.store(), "bb:c", None);
    let name = format!("{}/c/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:c", &name]));
    run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));

    let proxy = FaultProxy::start(&reg.host, Fault::Corrupt, 300_000);
    let via = format!("{}/c/bb:1", proxy.host);
    let err = run_fail(strata_cmd(&t.store2(), &dc).args(["pull", &via]));
    assert!(err.contains("digest"), "{err}");
    let store = strata_store::Store::open(&t.store2()).unwrap();
    assert!(store.list_images().unwrap().is_empty());
    // At most the config (fetched alongside) was committed; never the corrupted layer.
    let config = strata_store::Store::open(&t.store())
        .unwrap()
        .resolve(&name)
        .unwrap()
        .record
        .config_digest;
    let blobs = store.list_blobs().unwrap();
    assert!(
        blobs.iter().all(|b| b == &config),
        "unexpected blobs {blobs:?}"
    );
    run_ok(strata(&t.store2()).command().args(["system", "check"]));
}

#[test]
fn killed_pull_leaves_a_clean_store() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    busybox_image(&t.store(), "bb:k", None);
    let name = format!("{}/k/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:k", &name]));
    run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));

    let proxy = FaultProxy::start(&reg.host, Fault::Stall, 100_000);
    let via = format!("{}/k/bb:1", proxy.host);
    let mut child = strata_cmd(&t.store2(), &dc)
        .args(["pull", &via])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !proxy.fired.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "pull never reached the stall"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    run_ok(strata(&t.store2()).command().args(["system", "check"]));
    let store = strata_store::Store::open(&t.store2()).unwrap();
    assert!(store.list_images().unwrap().is_empty());
}

#[test]
fn hostile_manifests_are_refused() {
    let t = tmp();
    let dc = t.path().join("docker");
    let big = fake_registry(
        "application/vnd.oci.image.manifest.v1+json",
        vec![b' '; 5 * 1024 * 1024],
    );
    let err = run_fail(strata_cmd(&t.store(), &dc).args(["pull", &format!("{big}/x:1")]));
    assert!(err.contains("4 MiB"), "{err}");
    let odd = fake_registry("application/vnd.example.thing+json", b"{}".to_vec());
    let err = run_fail(strata_cmd(&t.store(), &dc).args(["pull", &format!("{odd}/x:1")]));
    assert!(
        err.contains("unsupported media type application/vnd.example.thing+json"),
        "{err}"
    );
    let store = strata_store::Store::open(&t.store()).unwrap();
    assert!(store.list_blobs().unwrap().is_empty());
}

#[test]
fn all_tags_push_and_pull() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    busybox_image(&t.store(), "bb:x", None);
    let repo = format!("{}/all/bb", reg.host);
    for tag in ["one", "two"] {
        run_ok(
            strata(&t.store())
                .command()
                .args(["tag", "bb:x", &format!("{repo}:{tag}")]),
        );
    }
    let (out, _) = run_ok(strata_cmd(&t.store(), &dc).args(["push", "-a", &repo]));
    assert!(
        out.contains("one: digest:") && out.contains("two: digest:"),
        "{out}"
    );
    let err = run_fail(strata_cmd(&t.store(), &dc).args(["pull", "-a", &format!("{repo}:one")]));
    assert!(err.contains("--all-tags"), "{err}");
    let (out, _) = run_ok(strata_cmd(&t.store2(), &dc).args(["pull", "-a", "-q", &repo]));
    assert_eq!(out.lines().count(), 2, "{out}");
    let store = strata_store::Store::open(&t.store2()).unwrap();
    for tag in ["one", "two"] {
        store.resolve(&format!("{repo}:{tag}")).unwrap();
    }
}

/// An OCI layout whose config names the wrong diffID for its one gzip layer.
fn layout_with_wrong_diff_id(dir: &std::path::Path) {
    use std::io::Write;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = strata_oci::Digest::sha256_of(bytes);
        std::fs::write(blobs.join(d.hex()), bytes).unwrap();
        (d.to_string(), bytes.len())
    };
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(5);
    h.set_mode(0o644);
    tar.append_data(&mut h, "hello", &b"hello"[..]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar.into_inner().unwrap()).unwrap();
    let (layer, layer_size) = put(&gz.finish().unwrap());
    let wrong = strata_oci::Digest::sha256_of(b"not this layer").to_string();
    let (config, config_size) = put(&serde_json::to_vec(&serde_json::json!({
        "architecture": strata_oci::Platform::host().architecture, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [wrong]},
    }))
    .unwrap());
    let (manifest, manifest_size) = put(
        &serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}],
        }))
        .unwrap(),
    );
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "digest": manifest, "size": manifest_size,
                           "annotations": {"org.opencontainers.image.ref.name": "x"}}],
        }))
        .unwrap(),
    )
    .unwrap();
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_is_refused_at_pull() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let Some(sk) = skopeo() else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    let layout = t.path().join("layout");
    layout_with_wrong_diff_id(&layout);
    let name = format!("{}/liar/img:1", reg.host);
    run_ok(Command::new(&sk).args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:x", layout.display()),
        &format!("docker://{name}"),
    ]));
    let err = run_fail(strata_cmd(&t.store(), &dc).args(["pull", &name]));
    assert!(
        err.contains("unpacks to") && err.contains("but the image config says"),
        "{err}"
    );
    let store = strata_store::Store::open(&t.store()).unwrap();
    assert!(store.list_images().unwrap().is_empty());
    run_ok(strata(&t.store()).command().args(["system", "check"]));
}

#[test]
fn push_and_pull_carry_attachments() {
    let Some(reg) = Registry::start(Mode::Plain) else {
        return;
    };
    let t = tmp();
    let dc = t.path().join("docker");
    busybox_image(&t.store(), "bb:att", None);
    let opts = strata_image::OpenOptions::new(t.store());
    let local: strata_image::ImageSource = "bb:att".parse().unwrap();
    let image = strata_image::open(&local, &opts).unwrap();
    strata_image::attach(
        strata_image::open_write(&local, &opts).unwrap().as_ref(),
        &image.manifest().descriptor(),
        "application/spdx+json",
        &[strata_image::ArtifactBlob::new(
            "application/spdx+json",
            br#"{"spdxVersion":"SPDX-2.3"}"#.to_vec(),
        )],
        Default::default(),
    )
    .unwrap();
    let name = format!("{}/att/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:att", &name]));
    // The store's layer is uncompressed: the pushed manifest is a new one, and the
    // attachment follows it (distribution 2.8 has no referrers API: the tag schema).
    let (_, err) = run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));
    assert!(!err.contains("warning"), "{err}");
    let (_, err) = run_ok(strata_cmd(&t.store2(), &dc).args(["pull", &name]));
    assert!(!err.contains("warning"), "{err}");
    let store2 = strata_store::Store::open(&t.store2()).unwrap();
    let pulled = store2.resolve(&name).unwrap();
    assert_ne!(&pulled.record.manifest_digest, image.manifest_digest());
    let attached = store2.attachments(&pulled.record.manifest_digest).unwrap();
    assert_eq!(attached.len(), 1, "{attached:?}");
    assert_eq!(
        attached[0].artifact_type.as_ref().map(|a| a.as_str()),
        Some("application/spdx+json")
    );
}
