//! Peers read what `strata save` writes, and strata loads what peers write:
//! skopeo (docker-archive, oci, oci-archive) and umoci (OCI layout validation, unpack).

use std::path::Path;
use std::process::Command;

use strata_testkit::{busybox, require_tool, Strata, TempRoot};

fn strata(root: &Path) -> Strata {
    Strata::new(env!("CARGO_BIN_EXE_strata"), root)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn image_id(root: &Path, name: &str) -> String {
    let store = strata_store::Store::open(root).unwrap();
    store
        .resolve(name)
        .unwrap()
        .record
        .config_digest
        .to_string()
}

/// A store holding the busybox fixture imported as `busybox:latest`.
fn busybox_store(tmp: &TempRoot) -> (Strata, String) {
    let fx = busybox().unwrap();
    let s = strata(&tmp.store());
    let id = s
        .run(&[
            "import",
            fx.layer_tar.to_str().unwrap(),
            "busybox:latest",
            "-c",
            r#"CMD ["sh"]"#,
        ])
        .unwrap()
        .trim()
        .to_owned();
    (s, id)
}

#[test]
fn skopeo_reads_saved_archives_and_strata_loads_skopeo_output() {
    let Some(skopeo) = require_tool("skopeo").unwrap() else {
        return;
    };
    let tmp = TempRoot::new().unwrap();
    let (s, id) = busybox_store(&tmp);
    let archive = tmp.path().join("bb.tar");
    s.run(&["save", "-o", archive.to_str().unwrap(), "busybox"])
        .unwrap();
    let a = archive.to_str().unwrap();

    // docker-archive: and oci-archive: transports both read the one archive.
    let inspect: serde_json::Value = serde_json::from_str(&run(
        Command::new(&skopeo).args(["inspect", &format!("docker-archive:{a}")])
    ))
    .unwrap();
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
    let raw_cfg = run(Command::new(&skopeo).args([
        "inspect",
        "--config",
        "--raw",
        &format!("docker-archive:{a}"),
    ]));
    assert_eq!(
        strata_oci::Digest::sha256_of(raw_cfg.as_bytes()).to_string(),
        id
    );
    run(Command::new(&skopeo).args(["inspect", &format!("oci-archive:{a}")]));

    // docker-archive → oci dir with skopeo, readable by skopeo.
    let oci = tmp.path().join("oci");
    let oci_ref = format!("oci:{}:busybox", oci.display());
    run(Command::new(&skopeo).args(["copy", "-q", &format!("docker-archive:{a}"), &oci_ref]));
    run(Command::new(&skopeo).args(["inspect", &oci_ref]));

    // strata's own OCI layout → skopeo → docker-archive → strata load: same image ID.
    let layout = tmp.path().join("layout");
    s.run(&[
        "save",
        "--format",
        "oci-dir",
        "-o",
        layout.to_str().unwrap(),
        "busybox:latest",
    ])
    .unwrap();
    let back = tmp.path().join("back.tar");
    run(Command::new(&skopeo).args([
        "copy",
        "-q",
        &format!("oci:{}:latest", layout.display()),
        &format!("docker-archive:{}:roundtrip:1", back.display()),
    ]));
    let t = strata(&tmp.store2());
    let out = t.run(&["load", "-i", back.to_str().unwrap()]).unwrap();
    assert_eq!(out, "Loaded image: roundtrip:1\n");
    assert_eq!(image_id(t.root(), "roundtrip:1"), id);

    // skopeo's oci-archive output loads too.
    let ociarc = tmp.path().join("bb-oci.tar");
    run(Command::new(&skopeo).args([
        "copy",
        "-q",
        &format!("docker-archive:{a}"),
        &format!("oci-archive:{}:x", ociarc.display()),
    ]));
    let u = strata(&tmp.path().join("store3"));
    let out = u.run(&["load", "-i", ociarc.to_str().unwrap()]).unwrap();
    assert!(out.starts_with("Loaded image"), "{out}");
}

#[test]
fn umoci_validates_and_unpacks_the_saved_layout() {
    let Some(umoci) = require_tool("umoci").unwrap() else {
        return;
    };
    let tmp = TempRoot::new().unwrap();
    let (s, _) = busybox_store(&tmp);
    let layout = tmp.path().join("layout");
    s.run(&[
        "save",
        "--format",
        "oci-dir",
        "-o",
        layout.to_str().unwrap(),
        "busybox:latest",
    ])
    .unwrap();
    let tags = run(Command::new(&umoci).args(["ls", "--layout", layout.to_str().unwrap()]));
    assert_eq!(tags.trim(), "latest");
    let stat = run(Command::new(&umoci).args([
        "stat",
        "--image",
        &format!("{}:latest", layout.display()),
    ]));
    assert!(stat.contains("strata import"), "{stat}");
    let bundle = tmp.path().join("bundle");
    run(Command::new(&umoci).args([
        "unpack",
        "--rootless",
        "--image",
        &format!("{}:latest", layout.display()),
        bundle.to_str().unwrap(),
    ]));
    let rootfs = bundle.join("rootfs");
    assert!(rootfs.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert!(std::fs::read_to_string(rootfs.join("etc/passwd"))
        .unwrap()
        .contains("nobody"));
}
