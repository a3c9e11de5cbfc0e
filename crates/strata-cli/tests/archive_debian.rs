//! The Debian minbase fixture through import → save → load (a real root filesystem:
//! hard links, device nodes, setuid files, long paths).

use strata_testkit::{debian_rootfs_tarball, require_root, require_tool, Strata, TempRoot};

#[test]
fn debian_rootfs_imports_saves_and_loads() {
    if !require_root().unwrap() || require_tool("debootstrap").unwrap().is_none() {
        return;
    }
    let tarball = debian_rootfs_tarball().unwrap();
    let tmp = TempRoot::new().unwrap();
    let a = Strata::new(env!("CARGO_BIN_EXE_strata"), tmp.store());
    let id = a
        .run(&[
            "import",
            tarball.to_str().unwrap(),
            "debian:bookworm",
            "-c",
            r#"CMD ["bash"]"#,
        ])
        .unwrap()
        .trim()
        .to_owned();
    let archive = tmp.path().join("debian.tar");
    a.run(&["save", "-o", archive.to_str().unwrap(), "debian:bookworm"])
        .unwrap();
    let b = Strata::new(env!("CARGO_BIN_EXE_strata"), tmp.store2());
    assert_eq!(
        b.run(&["load", "-i", archive.to_str().unwrap()]).unwrap(),
        "Loaded image: debian:bookworm\n"
    );
    let store = strata_store::Store::open(b.root()).unwrap();
    let image = store.resolve("debian:bookworm").unwrap();
    assert_eq!(image.record.config_digest.to_string(), id);
    // The layer is the rootfs tar byte for byte.
    let plain = strata_oci::Digest::sha256_of(&std::fs::read(&tarball).unwrap());
    assert_eq!(image.record.diff_ids, vec![plain]);
}
