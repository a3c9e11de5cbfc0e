//! Typed documents: kind detection, raw-byte digests, round trips and builders.

use strata_oci::media_type as mt;
use strata_oci::{
    ContainerConfig, Descriptor, Digest, ErrorKind, Healthcheck, History, ImageConfig, ImageIndex,
    ImageManifest, Manifest, Platform, RawConfig, RawManifest,
};

fn sample_manifest() -> ImageManifest {
    let config = Descriptor::of_bytes(mt::OCI_CONFIG, b"{}");
    let layer = Descriptor::of_bytes(mt::OCI_LAYER_GZIP, b"layer");
    ImageManifest::oci(config, vec![layer])
}

#[test]
fn digest_is_over_received_bytes_not_reserialisation() {
    let m = sample_manifest();
    let pretty = serde_json::to_vec_pretty(&m).unwrap();
    let compact = serde_json::to_vec(&m).unwrap();
    let a = RawManifest::parse(pretty.clone(), None).unwrap();
    let b = RawManifest::parse(compact.clone(), None).unwrap();
    assert_eq!(a.parsed, b.parsed);
    assert_ne!(a.digest, b.digest);
    assert_eq!(a.digest, Digest::sha256_of(&pretty));
    assert_eq!(a.bytes, pretty);
    let d = a.descriptor();
    assert_eq!(
        (d.media_type.as_str(), d.size),
        (mt::OCI_MANIFEST, pretty.len() as u64)
    );
    d.verify(&pretty).unwrap();
}

#[test]
fn detects_kind_from_media_type_then_shape() {
    let m = sample_manifest();
    let mut untyped = m.clone();
    untyped.media_type = None;
    let raw = RawManifest::parse(serde_json::to_vec(&untyped).unwrap(), None).unwrap();
    assert_eq!(raw.media_type.as_str(), mt::OCI_MANIFEST);
    assert!(raw.as_image().is_some() && raw.as_index().is_none());

    // A declared Docker type is taken when the document does not say.
    let raw = RawManifest::parse(
        serde_json::to_vec(&untyped).unwrap(),
        Some(mt::DOCKER_MANIFEST),
    )
    .unwrap();
    assert_eq!(raw.media_type.as_str(), mt::DOCKER_MANIFEST);
    // A generic Content-Type is ignored.
    assert!(RawManifest::parse(serde_json::to_vec(&m).unwrap(), Some("application/json")).is_ok());

    let idx = ImageIndex::oci(vec![RawManifest::from_manifest(&m).unwrap().descriptor()]);
    let mut untyped_idx = idx.clone();
    untyped_idx.media_type = None;
    let raw = RawManifest::parse(serde_json::to_vec(&untyped_idx).unwrap(), None).unwrap();
    assert!(matches!(raw.parsed, Manifest::Index(_)));
    assert_eq!(raw.media_type.as_str(), mt::OCI_INDEX);
}

#[test]
fn rejects_mismatched_ambiguous_and_legacy_documents() {
    let bytes = serde_json::to_vec(&sample_manifest()).unwrap();
    let e = RawManifest::parse(bytes, Some(mt::OCI_INDEX)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidDocument);
    assert!(
        e.message.contains("does not match declared"),
        "{}",
        e.message
    );

    let ambiguous = br#"{"schemaVersion":2,"manifests":[],"layers":[]}"#;
    assert!(RawManifest::parse(ambiguous.to_vec(), None)
        .unwrap_err()
        .message
        .contains("ambiguous"));

    let schema1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
    assert_eq!(
        RawManifest::parse(schema1.to_vec(), None).unwrap_err().kind,
        ErrorKind::Unsupported
    );

    let other = br#"{"schemaVersion":2,"mediaType":"application/vnd.example+json"}"#;
    assert_eq!(
        RawManifest::parse(other.to_vec(), None).unwrap_err().kind,
        ErrorKind::Unsupported
    );

    let e = RawManifest::parse(b"not json".to_vec(), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidDocument);
    assert!(e.message.starts_with("manifest sha256:"), "{}", e.message);
}

#[test]
fn parse_verified_checks_expected_digest() {
    let bytes = serde_json::to_vec(&sample_manifest()).unwrap();
    let good = Digest::sha256_of(&bytes);
    assert_eq!(
        RawManifest::parse_verified(bytes.clone(), None, &good)
            .unwrap()
            .digest,
        good
    );
    let bad = Digest::sha256_of(b"other");
    assert_eq!(
        RawManifest::parse_verified(bytes, None, &bad)
            .unwrap_err()
            .kind,
        ErrorKind::DigestMismatch
    );
}

#[test]
fn empty_layers_are_read_but_schema_rejects_them() {
    let m = ImageManifest::docker(Descriptor::of_bytes(mt::DOCKER_CONFIG, b"{}"), vec![]);
    let bytes = serde_json::to_vec(&m).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains(r#""layers":[]"#));
    assert!(RawManifest::parse(bytes.clone(), None)
        .unwrap()
        .as_image()
        .unwrap()
        .is_docker());
    assert!(strata_oci::validate(mt::DOCKER_MANIFEST, &bytes).is_err());
}

#[test]
fn index_selects_by_platform() {
    let amd = Descriptor::of_bytes(mt::OCI_MANIFEST, b"a")
        .with_platform(Platform::parse("linux/amd64").unwrap());
    let arm = Descriptor::of_bytes(mt::OCI_MANIFEST, b"b")
        .with_platform(Platform::parse("linux/arm64").unwrap());
    let att = Descriptor::of_bytes(mt::OCI_MANIFEST, b"c")
        .with_annotation("vnd.docker.reference.type", "attestation-manifest");
    let idx = ImageIndex::oci(vec![amd.clone(), arm.clone(), att]);
    let want = Platform::parse("linux/aarch64").unwrap();
    let hits: Vec<_> = idx.manifests_for(&want).collect();
    assert_eq!(hits, vec![&arm]);
    assert_eq!(idx.best_for(&want), Some(&arm));
    assert_eq!(
        idx.best_for(&Platform::parse("linux/amd64/v2").unwrap()),
        Some(&amd)
    );
    assert_eq!(idx.best_for(&Platform::parse("linux/s390x").unwrap()), None);
    let v7 = Descriptor::of_bytes(mt::OCI_MANIFEST, b"d")
        .with_platform(Platform::parse("linux/arm/v7").unwrap());
    let v6 = Descriptor::of_bytes(mt::OCI_MANIFEST, b"e")
        .with_platform(Platform::parse("linux/arm/v6").unwrap());
    let arm_only = ImageIndex::oci(vec![v6.clone(), v7.clone()]);
    assert_eq!(
        arm_only.best_for(&want),
        Some(&v7),
        "arm64 prefers arm/v7 over arm/v6"
    );
    let raw = RawManifest::from_index(&idx).unwrap();
    assert_eq!(raw.as_index().unwrap(), &idx);
}

fn sample_config() -> ImageConfig {
    let mut c = ImageConfig::default();
    c.set_platform(&Platform::parse("linux/arm64").unwrap());
    c.created = Some("2024-05-01T10:00:00.123456789Z".into());
    c.config = Some(ContainerConfig {
        env: Some(vec!["PATH=/usr/bin:/bin".into(), "A=b=c".into()]),
        cmd: Some(vec!["sh".into()]),
        working_dir: Some("/app".into()),
        healthcheck: Some(Healthcheck {
            test: Some(vec!["CMD".into(), "true".into()]),
            interval: Some(30_000_000_000),
            start_interval: Some(5_000_000_000),
            retries: Some(3),
            ..Default::default()
        }),
        on_build: Some(vec!["RUN true".into()]),
        shell: Some(vec!["/bin/bash".into(), "-c".into()]),
        ..Default::default()
    });
    c.rootfs.diff_ids = vec![Digest::sha256_of(b"l1"), Digest::sha256_of(b"l2")];
    c.history = vec![
        History {
            created_by: Some("ADD x /".into()),
            ..Default::default()
        },
        History {
            created_by: Some("ENV A=b".into()),
            empty_layer: Some(true),
            ..Default::default()
        },
        History {
            created_by: Some("RUN y".into()),
            ..Default::default()
        },
    ];
    c
}

#[test]
fn config_uses_docker_field_names_and_round_trips() {
    let c = sample_config();
    let raw = RawConfig::from_config(&c).unwrap();
    let text = String::from_utf8(raw.bytes.clone()).unwrap();
    for needle in [
        r#""architecture":"arm64""#,
        r#""variant":"v8""#,
        r#""Env":["PATH=/usr/bin:/bin""#,
        r#""WorkingDir":"/app""#,
        r#""OnBuild":["RUN true"]"#,
        r#""StartInterval":5000000000"#,
        r#""rootfs":{"type":"layers","diff_ids":["#,
        r#""empty_layer":true"#,
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    // Absent stays absent.
    for absent in [
        "Entrypoint",
        "Labels",
        "author",
        "container_config",
        "os.version",
        "null",
    ] {
        assert!(!text.contains(absent), "{absent} present in {text}");
    }
    assert_eq!(raw.parsed, c);
    assert_eq!(raw.digest, Digest::sha256_of(&raw.bytes));
    assert_eq!(
        raw.parsed.config.as_ref().unwrap().env_var("A"),
        Some("b=c")
    );
    assert_eq!(
        raw.parsed.platform(),
        Platform::parse("linux/arm64/v8").unwrap()
    );
    assert_eq!(raw.parsed.chain_ids().len(), 2);
    assert_eq!(raw.descriptor(mt::OCI_CONFIG).size, raw.bytes.len() as u64);
}

#[test]
fn config_keeps_unknown_fields_at_every_level() {
    let text = r#"{"architecture":"amd64","os":"linux","x-top":1,
        "config":{"Cmd":null,"X-Cfg":"a","Healthcheck":{"Test":["NONE"],"X-Hc":true}},
        "rootfs":{"type":"layers","diff_ids":[],"x-rootfs":[1]},
        "history":[{"created_by":"x","x-hist":"y"}]}"#;
    let raw = RawConfig::parse(text.as_bytes().to_vec()).unwrap();
    let c = &raw.parsed;
    assert_eq!(c.extra["x-top"], 1);
    let cc = c.config.as_ref().unwrap();
    assert_eq!(cc.cmd, None);
    assert_eq!(cc.extra["X-Cfg"], "a");
    assert_eq!(cc.healthcheck.as_ref().unwrap().extra["X-Hc"], true);
    assert_eq!(c.rootfs.extra["x-rootfs"][0], 1);
    assert_eq!(c.history[0].extra["x-hist"], "y");
    let out = serde_json::to_value(c).unwrap();
    assert_eq!(out["config"]["Healthcheck"]["X-Hc"], true);
    assert_eq!(out["history"][0]["x-hist"], "y");
    assert!(
        out["config"].get("Cmd").is_none(),
        "null reads and writes as absent"
    );
}

#[test]
fn config_validation_errors_name_the_problem() {
    let cases: [(&str, &str); 5] = [
        (
            r#"{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
            "architecture is required",
        ),
        (
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"bogus","diff_ids":[]}}"#,
            "rootfs.type",
        ),
        (
            r#"{"architecture":"amd64","os":"linux"}"#,
            "rootfs is required",
        ),
        (
            r#"{"architecture":"amd64","os":"linux","created":"yesterday","rootfs":{"type":"layers","diff_ids":[]}}"#,
            "config.created",
        ),
        (
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:abc"]}}"#,
            "invalid digest",
        ),
    ];
    for (doc, fragment) in cases {
        let e = RawConfig::parse(doc.as_bytes().to_vec()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidDocument, "{doc}");
        assert!(e.message.contains(fragment), "{doc}: {}", e.message);
        assert!(e.message.starts_with("config sha256:"), "{}", e.message);
    }
}
