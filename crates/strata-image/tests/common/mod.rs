//! Shared by the strata-image suites: an image built into a store from the busybox
//! fixture, real registries (strata's own in-process, Debian's docker-registry), skopeo,
//! and the conformance checks every transport must pass.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strata_image::content::ContentRead;
use strata_image::transport::store::StoreContent;
use strata_image::{ContentWrite, ErrorKind, Image, ImageSource};
use strata_oci::media_type as mt;
use strata_oci::{Descriptor, Digest, ImageManifest, Platform, RawManifest};
use strata_testkit::{busybox, require_tool, TempRoot};

/// The reference the fixture image is tagged with in the store.
pub const NAME: &str = "conformance:v1";

/// What every transport must agree on for the fixture image.
#[derive(Debug, Clone)]
pub struct Expected {
    pub manifest: Digest,
    pub config: Vec<u8>,
    pub diff_ids: Vec<Digest>,
}

/// A temporary store holding the fixture image: the busybox layer and a small second
/// layer, gzip-compressed. (Peers keep compressed layers as they are, so the manifest
/// digest survives their copies; skopeo's docker-archive decompresses them, which covers
/// uncompressed layers, and refuses zstd, which docker images cannot carry.)
pub struct Fixture {
    pub tmp: TempRoot,
    pub store_root: PathBuf,
    pub expected: Expected,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn small_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let body = b"hello from the second layer\n";
    let mut h = tar::Header::new_ustar();
    h.set_path("etc/conformance.txt").unwrap();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append(&h, &body[..]).unwrap();
    b.into_inner().unwrap()
}

pub fn fixture() -> Fixture {
    let fx = busybox().unwrap();
    let tmp = TempRoot::new().unwrap();
    let store_root = tmp.path().join("store");
    let store = strata_store::Store::open(&store_root).unwrap();
    let content = StoreContent::new(store);
    let base = std::fs::read(&fx.layer_tar).unwrap();
    let base_gz = gzip(&base);
    let second = small_layer();
    let second_gz = gzip(&second);
    let host = Platform::host();
    let diff_ids = vec![Digest::sha256_of(&base), Digest::sha256_of(&second)];
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": host.architecture,
        "os": host.os,
        "config": {"Cmd": ["sh"], "Labels": {"suite": "conformance"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created_by": "busybox", "created": "2024-01-01T00:00:00Z"},
            {"created_by": "COPY conformance.txt /etc/", "created": "2024-01-01T00:00:00Z"}
        ],
        "created": "2024-01-01T00:00:00Z"
    }))
    .unwrap();
    let config_desc = Descriptor::of_bytes(mt::OCI_CONFIG, &config);
    let layers = vec![
        Descriptor::of_bytes(mt::OCI_LAYER_GZIP, &base_gz),
        Descriptor::of_bytes(mt::OCI_LAYER_GZIP, &second_gz),
    ];
    content.put_bytes(&config_desc, &config).unwrap();
    content.put_bytes(&layers[0], &base_gz).unwrap();
    content.put_bytes(&layers[1], &second_gz).unwrap();
    let raw = RawManifest::from_manifest(&ImageManifest::oci(config_desc, layers)).unwrap();
    content.put_manifest(&raw, Some(NAME)).unwrap();
    Fixture {
        tmp,
        store_root,
        expected: Expected {
            manifest: raw.digest,
            config,
            diff_ids,
        },
    }
}

/// The checks every transport passes (containerd's content test suite idea): the image
/// opens with the expected identity, every layer streams and verifies, and what is not
/// there is `NotFound`.
pub fn check_transport(
    what: &str,
    content: Box<dyn ContentRead>,
    reference: Option<&str>,
    expected: &Expected,
    same_manifest: bool,
) -> Image {
    let source: ImageSource = "strata:conformance-suite".parse().unwrap();
    // NotFound for a reference and a blob that are not there.
    let e = content.resolve(Some("no-such-image-here")).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::NotFound,
        "{what}: missing reference: {e}"
    );
    let absent = Descriptor::of_bytes(mt::OCI_LAYER_TAR, format!("absent {what}").as_bytes());
    assert!(
        !content.has_blob(&absent).unwrap(),
        "{what}: has_blob(absent)"
    );
    match content.open_blob(&absent) {
        Err(e) => assert_eq!(e.kind, ErrorKind::NotFound, "{what}: open absent blob: {e}"),
        Ok(mut r) => {
            let mut sink = Vec::new();
            let err = r.read_to_end(&mut sink).unwrap_err();
            panic!("{what}: absent blob opened, read gave {err}");
        }
    }
    let image = Image::from_content(source, content, reference.map(str::to_owned), None)
        .unwrap_or_else(|e| panic!("{what}: open: {e}"));
    if same_manifest {
        assert_eq!(
            image.manifest_digest(),
            &expected.manifest,
            "{what}: manifest digest"
        );
    }
    assert_eq!(
        image.config_raw(),
        &expected.config[..],
        "{what}: config bytes"
    );
    assert_eq!(
        image.id(),
        &Digest::sha256_of(&expected.config),
        "{what}: image ID"
    );
    let diff_ids: Vec<Digest> = image.layers().iter().map(|l| l.diff_id.clone()).collect();
    assert_eq!(diff_ids, expected.diff_ids, "{what}: diff ids");
    for (i, layer) in image.layers().iter().enumerate() {
        let mut tar = image.open_layer(i).unwrap();
        let mut bytes = Vec::new();
        tar.read_to_end(&mut bytes)
            .unwrap_or_else(|e| panic!("{what}: layer {i}: {e}"));
        assert_eq!(
            Digest::sha256_of(&bytes),
            layer.diff_id,
            "{what}: layer {i} bytes"
        );
        assert!(
            image.content().has_blob(&layer.descriptor).unwrap(),
            "{what}: has layer {i}"
        );
    }
    assert!(
        image.open_layer(image.layers().len()).is_err(),
        "{what}: layer out of range"
    );
    image
}

/// Read layer `i` of `image` to the end and return the error it must end with.
pub fn layer_error(image: &Image, i: usize) -> String {
    match image.open_layer(i) {
        Err(e) => e.to_string(),
        Ok(mut r) => {
            let mut sink = Vec::new();
            match r.read_to_end(&mut sink) {
                Ok(n) => panic!("corrupt layer {i} read {n} bytes without error"),
                Err(e) => e.to_string(),
            }
        }
    }
}

/// Flip one byte in the middle of `path`.
pub fn corrupt(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// Copy a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Run skopeo (no signature policy needed for local copies); `None` when it is missing
/// outside CI.
pub fn skopeo(args: &[&str]) -> Option<()> {
    let bin = require_tool("skopeo").unwrap()?;
    let out = Command::new(bin)
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16, child: Option<&mut Child>, log: Option<&Path>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut child = child;
    loop {
        let logged = match log {
            Some(l) => std::fs::read_to_string(l)
                .unwrap_or_default()
                .contains(&format!("listening on 127.0.0.1:{port}")),
            None => true,
        };
        if logged && TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Some(c) = child.as_deref_mut() {
            if c.try_wait().unwrap().is_some() {
                return false;
            }
        }
        assert!(
            Instant::now() < deadline,
            "registry on {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Debian's docker-registry (distribution 2.8: no referrers API), killed on drop.
pub struct DockerRegistry {
    child: Child,
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn docker_registry() -> Option<DockerRegistry> {
    let bin = require_tool("docker-registry").unwrap()?;
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = dir.path().join(format!("registry-{port}.log"));
        let logf = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(&bin)
            .args(["serve", cfg.to_str().unwrap()])
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        if wait_for(port, Some(&mut child), Some(&log)) {
            return Some(DockerRegistry {
                child,
                host: format!("127.0.0.1:{port}"),
                _dir: dir,
            });
        }
    }
    panic!("docker-registry did not start on any of 5 ports");
}

/// `strata registry serve`, in process on its own runtime thread (OCI 1.1, referrers API).
pub struct StrataRegistry {
    pub host: String,
    _dir: tempfile::TempDir,
}

pub fn strata_registry() -> StrataRegistry {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = format!(
        "addr = \"127.0.0.1:{port}\"\n[storage]\npath = \"{}\"\n",
        dir.path().join("data").display()
    );
    let cfg =
        strata_registry::config::Config::from_toml(&text, Path::new("registry.toml")).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let storage = strata_registry::server::open_storage(&cfg).unwrap();
            let state = strata_registry::server::build_state(&cfg, storage).unwrap();
            let listener = strata_registry::server::bind(&cfg).await.unwrap();
            strata_registry::server::serve(cfg, listener, state, std::future::pending())
                .await
                .unwrap();
        });
    });
    assert!(wait_for(port, None, None));
    StrataRegistry {
        host: format!("127.0.0.1:{port}"),
        _dir: dir,
    }
}
