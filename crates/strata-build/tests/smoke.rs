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

/// Serve `body` over HTTP on a loopback port for as many requests as come; returns the port.
fn serve(body: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Tue, 15 Nov 1994 08:12:31 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body);
        }
    });
    port
}

/// The files of a layer blob: path -> (mode, mtime, content).
fn layer_files(
    store: &Store,
    digest: &strata_oci::Digest,
) -> BTreeMap<String, (u32, u64, Vec<u8>)> {
    use std::io::Read;
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(store.open_blob(digest).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let (mode, mtime) = (e.header().mode().unwrap(), e.header().mtime().unwrap());
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(path, (mode, mtime, data));
    }
    out
}

#[test]
fn add_from_url_with_checksum() -> anyhow::Result<()> {
    if !strata_testkit::require_root()? {
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let store = store_with_busybox(&tmp.path().join("store"))?;
    let ctx = tmp.path().join("ctx");
    fs::create_dir_all(&ctx)?;
    let port = serve(b"remote content\n");
    let sum = strata_oci::Digest::sha256_of(b"remote content\n");
    let df =
        format!("FROM busybox\nADD --checksum={sum} http://127.0.0.1:{port}/files/data.txt /dl/\n");
    let out = build(&store, &opts(&df, &ctx), &Recorder::default())?;
    let files = layer_files(&store, &out.state.layers.last().unwrap().digest);
    let (mode, mtime, data) = files.get("dl/data.txt").expect("downloaded file in layer");
    assert_eq!(
        (mode & 0o7777, *mtime, data.as_slice()),
        (0o600, 784887151, &b"remote content\n"[..])
    );

    // A wrong checksum fails the build and names the URL.
    let bad = format!(
        "FROM busybox\nADD --checksum=sha256:{} http://127.0.0.1:{port}/x /x\n",
        "0".repeat(64)
    );
    let err = build(&store, &opts(&bad, &ctx), &Recorder::default()).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    Ok(())
}
