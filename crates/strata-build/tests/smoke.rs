//! Builds against a real store and runc: the library path the CLI uses, end to end.

use std::collections::BTreeMap;
use std::fs;

use strata_build::progress::{Event, Recorder};
use strata_build::{build, BuildOptions};
use strata_oci::{media_type, Descriptor, ImageConfig, ImageManifest, MediaType};
use strata_store::Store;

/// A store holding the busybox fixture tagged `busybox:latest`.
fn store_with_busybox(root: &std::path::Path) -> anyhow::Result<Store> {
    let store = Store::open(root)?;
    let bb = strata_testkit::busybox()?;
    let tar = fs::read(&bb.layer_tar)?;
    let layer = store.put_bytes(&tar)?;
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        rootfs: strata_oci::RootFs {
            diff_ids: vec![layer.clone()],
            ..Default::default()
        },
        config: Some(strata_oci::ContainerConfig {
            env: Some(vec!["PATH=/bin:/usr/bin".into()]),
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let config = serde_json::to_vec(&config)?;
    let config_digest = store.put_bytes(&config)?;
    let manifest = ImageManifest::oci(
        Descriptor::new(media_type::OCI_CONFIG, config_digest, config.len() as u64),
        vec![Descriptor::new(
            media_type::OCI_LAYER_TAR,
            layer,
            tar.len() as u64,
        )],
    );
    let bytes = serde_json::to_vec(&manifest)?;
    let rec = store.add_image(&bytes, &MediaType::new(media_type::OCI_MANIFEST))?;
    store.tag("busybox:latest", &rec.manifest_digest)?;
    Ok(store)
}

fn opts(dockerfile: &str, ctx: &std::path::Path) -> BuildOptions {
    BuildOptions {
        dockerfile: dockerfile.into(),
        dockerfile_name: "Dockerfile".into(),
        dockerfile_id: ctx.display().to_string(),
        context_dir: Some(ctx.to_path_buf()),
        build_args: BTreeMap::new(),
        ..Default::default()
    }
}

#[test]
fn run_copy_and_cache() -> anyhow::Result<()> {
    if !strata_testkit::require_root()? || strata_testkit::require_tool("runc")?.is_none() {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let store = store_with_busybox(&tmp.path().join("store"))?;
    let ctx = tmp.path().join("ctx");
    fs::create_dir_all(ctx.join("src"))?;
    fs::write(ctx.join("src/a.txt"), "alpha")?;
    fs::write(ctx.join("requirements.txt"), "x==1")?;
    let df = "FROM busybox\nWORKDIR /app\nCOPY requirements.txt ./\nRUN echo built > /app/out && rm /bin/ls\nCOPY src/ ./src/\nRUN find /app -type f | wc -l\nENV A=b\nCMD [\"sh\"]\n";
    let rec = Recorder::default();
    let first = build(&store, &opts(df, &ctx), &rec)?;
    assert_eq!(first.cached_steps, 0);
    assert!(first.executed_steps >= 4, "{first:?}");
    let cfg = &first.state.config;
    assert_eq!(
        cfg.config.as_ref().unwrap().working_dir.as_deref(),
        Some("/app")
    );
    let outputs: Vec<String> = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Output { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect();
    assert!(
        outputs.iter().any(|l| l.trim() == "3"),
        "find output: {outputs:?}"
    );

    // No change: every layer step is cached and the image ID is the same.
    let second = build(&store, &opts(df, &ctx), &Recorder::default())?;
    assert_eq!(second.executed_steps, 0);
    assert_eq!(second.image.id, first.image.id);

    // One file changed: only the steps from that COPY on run again.
    fs::write(ctx.join("src/a.txt"), "beta")?;
    let mut o = opts(df, &ctx);
    o.explain = true;
    let rec = Recorder::default();
    let third = build(&store, &o, &rec)?;
    assert_eq!(third.executed_steps, 2, "{third:?}");
    let reasons: Vec<String> = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Explain { reasons, .. } => Some(reasons.join("; ")),
            _ => None,
        })
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("file src/a.txt changed")),
        "{reasons:?}"
    );

    // Same context in another directory: all cached.
    let ctx2 = tmp.path().join("elsewhere");
    fs::create_dir_all(ctx2.join("src"))?;
    fs::write(ctx2.join("src/a.txt"), "beta")?;
    fs::write(ctx2.join("requirements.txt"), "x==1")?;
    let fourth = build(&store, &opts(df, &ctx2), &Recorder::default())?;
    assert_eq!(fourth.executed_steps, 0);
    assert!(store.check()?.is_empty(), "{:?}", store.check()?);
    Ok(())
}
