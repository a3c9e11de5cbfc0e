//! Catalogers over hand-made layers: every package type, the layer that introduced each
//! package, whiteouts and opaque directories, and deterministic output.

use std::io::Write;

use strata_sbom::{catalog, ImageFs, ImageSubject, PackageKind, Sbom};

/// A layer tar from (path, mode, contents) files; `None` contents make a directory, and a
/// mode with the `S_IFLNK` bits a symbolic link to the contents.
fn layer(entries: &[(&str, u32, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(*mode);
        h.set_mtime(0);
        match data {
            Some(target) if mode & 0o170000 == 0o120000 => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, path, std::str::from_utf8(target).unwrap())
                    .unwrap();
            }
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_cksum();
                b.append_data(&mut h, path, *d).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_cksum();
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn sbom_of(layers: &[Vec<u8>]) -> Sbom {
    let mut fs = ImageFs::new();
    for (i, l) in layers.iter().enumerate() {
        fs.add_layer(&format!("sha256:{i:064}"), &l[..]).unwrap();
    }
    let subject = ImageSubject {
        name: "test".into(),
        id: format!("sha256:{:064}", 7),
        manifest_digest: None,
        created: None,
        layers: fs.layers().to_vec(),
    };
    catalog(&fs, subject)
}

const OS_RELEASE: &[u8] =
    b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";

const STATUS_1: &[u8] = b"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\n\
Version: 12.4+deb12u5\nMaintainer: Santiago Vila <sanvila@debian.org>\n\n\
Package: libssl3\nStatus: deinstall ok config-files\nVersion: 3.0.11-1~deb12u2\n\n";

const STATUS_2: &[u8] = b"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\n\
Version: 12.4+deb12u5\nMaintainer: Santiago Vila <sanvila@debian.org>\n\n\
Package: libzstd1\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\n\
Source: libzstd (1.5.4+dfsg2-5)\nVersion: 1.5.4+dfsg2-5\n\n";

#[test]
fn dpkg_packages_with_files_licences_source_and_introducing_layer() {
    let base = layer(&[
        ("etc/os-release", 0o644, Some(OS_RELEASE)),
        ("var/lib/dpkg/status", 0o644, Some(STATUS_1)),
        ("var/lib/dpkg/info/base-files.list", 0o644, Some(b"/.\n/etc\n/etc/issue\n")),
        ("etc/issue", 0o644, Some(b"Debian\n")),
        (
            "usr/share/doc/base-files/copyright",
            0o644,
            Some(b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nLicense: GPL-2+\n"),
        ),
    ]);
    // Merged /usr: the list names /lib/…, the file lives under /usr/lib through a link.
    let add = layer(&[
        ("lib", 0o120777, Some(b"usr/lib")),
        ("var/lib/dpkg/status", 0o644, Some(STATUS_2)),
        (
            "var/lib/dpkg/info/libzstd1:amd64.list",
            0o644,
            Some(b"/lib/x86_64-linux-gnu/libzstd.so.1.5.4\n/usr/share/doc/libzstd1/gone\n"),
        ),
        (
            "usr/lib/x86_64-linux-gnu/libzstd.so.1.5.4",
            0o644,
            Some(b"\x7fELF"),
        ),
    ]);
    let sbom = sbom_of(&[base, add]);
    let debs: Vec<_> = sbom
        .packages
        .iter()
        .filter(|p| p.kind == PackageKind::Deb)
        .collect();
    assert_eq!(
        debs.len(),
        2,
        "config-files-only packages are not installed: {debs:#?}"
    );
    let base_files = debs.iter().find(|p| p.name == "base-files").unwrap();
    assert_eq!(
        base_files.layer.as_ref().unwrap().index,
        0,
        "status rewritten in layer 1 keeps its origin"
    );
    assert_eq!(base_files.files, vec!["/etc/issue"]);
    assert_eq!(base_files.licenses, vec!["GPL-2.0-or-later"]);
    assert_eq!(
        base_files.purl,
        "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12"
    );
    let zstd = debs.iter().find(|p| p.name == "libzstd1").unwrap();
    assert_eq!(zstd.layer.as_ref().unwrap().index, 1);
    assert_eq!(zstd.source_name.as_deref(), Some("libzstd"));
    assert_eq!(zstd.source_version.as_deref(), Some("1.5.4+dfsg2-5"));
    assert_eq!(
        zstd.files,
        vec!["/lib/x86_64-linux-gnu/libzstd.so.1.5.4"],
        "only files that exist"
    );
    assert_eq!(
        sbom.distro.as_ref().unwrap().version_id.as_deref(),
        Some("12")
    );
    assert_eq!(
        zstd.osv_ecosystem(sbom.distro.as_ref()).as_deref(),
        Some("Debian:12")
    );
}

#[test]
fn apk_python_npm_and_whiteouts() {
    let apk_db = b"C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nL:MIT\no:musl\nm:Natanael Copa <ncopa@alpinelinux.org>\nF:lib\nR:ld-musl-x86_64.so.1\n\n\
P:libcrypto3\nV:3.1.4-r5\nA:x86_64\nL:Apache-2.0\no:openssl\nF:usr/lib\nR:libcrypto.so.3\n\n";
    let one = layer(&[
        ("etc/os-release", 0o644, Some(b"ID=alpine\nVERSION_ID=3.19.1\n")),
        ("lib/apk/db/installed", 0o644, Some(apk_db)),
        ("lib/ld-musl-x86_64.so.1", 0o755, Some(b"not really elf")),
        (
            "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
            0o644,
            Some(b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nbody\n"),
        ),
        (
            "usr/lib/python3.11/site-packages/Old_Thing-1.0.egg-info/PKG-INFO",
            0o644,
            Some(b"Metadata-Version: 1.0\nName: Old_Thing\nVersion: 1.0\nLicense: MIT\n"),
        ),
        ("app/node_modules/left-pad/package.json", 0o644, Some(br#"{"name":"left-pad","version":"1.3.0","license":"WTFPL"}"#)),
        ("app/node_modules/@types/node/package.json", 0o644, Some(br#"{"name":"@types/node","version":"20.11.5","license":"MIT"}"#)),
        ("app/node_modules/gone/package.json", 0o644, Some(br#"{"name":"gone","version":"1.0.0"}"#)),
        ("opt/old/node_modules/x/package.json", 0o644, Some(br#"{"name":"x","version":"0.1.0"}"#)),
    ]);
    let two = layer(&[
        ("app/node_modules/.wh.gone", 0o644, Some(b"")),
        ("opt/old/.wh..wh..opq", 0o644, Some(b"")),
        (
            "app/node_modules/left-pad/package.json",
            0o644,
            Some(br#"{"name":"left-pad","version":"1.3.1","license":"WTFPL"}"#),
        ),
    ]);
    let sbom = sbom_of(&[one, two]);
    let find = |name: &str| sbom.packages.iter().find(|p| p.name == name);
    let musl = find("musl").unwrap();
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1"
    );
    assert_eq!(musl.files, vec!["/lib/ld-musl-x86_64.so.1"]);
    assert_eq!(
        find("libcrypto3").unwrap().source_name.as_deref(),
        Some("openssl")
    );
    assert_eq!(
        musl.osv_ecosystem(sbom.distro.as_ref()).as_deref(),
        Some("Alpine:v3.19")
    );
    let requests = find("requests").unwrap();
    assert_eq!(requests.purl, "pkg:pypi/requests@2.31.0");
    assert_eq!(requests.licenses, vec!["Apache-2.0"]);
    assert_eq!(find("Old_Thing").unwrap().purl, "pkg:pypi/old-thing@1.0");
    let left_pad = find("left-pad").unwrap();
    assert_eq!(left_pad.version, "1.3.1");
    assert_eq!(
        left_pad.layer.as_ref().unwrap().index,
        1,
        "rewritten in layer 1"
    );
    assert_eq!(
        find("@types/node").unwrap().purl,
        "pkg:npm/%40types/node@20.11.5"
    );
    assert!(find("gone").is_none(), "whited out in layer 1");
    assert!(find("x").is_none(), "under an opaque directory of layer 1");
}

fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// An ELF object with the given extra sections, built with `object`'s writer.
fn elf_with_sections(sections: &[(&str, &[u8])]) -> Vec<u8> {
    use object::write::Object;
    let mut obj = Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::X86_64,
        object::Endianness::Little,
    );
    for (name, data) in sections {
        let id = obj.add_section(
            Vec::new(),
            name.as_bytes().to_vec(),
            object::SectionKind::ReadOnlyData,
        );
        obj.append_section_data(id, data, 16);
    }
    obj.write().unwrap()
}

#[test]
fn java_go_cargo_auditable_and_busybox() {
    let inner = jar(&[(
        "META-INF/maven/org.slf4j/slf4j-api/pom.properties",
        b"groupId=org.slf4j\nartifactId=slf4j-api\nversion=2.0.9\n",
    )]);
    let app = jar(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nImplementation-Title: demo-app\r\nImplementation-Version: 1.4.2\r\nImplementation-Vendor-Id: com.example\r\n\r\n"),
        ("BOOT-INF/lib/slf4j-api-2.0.9.jar", &inner),
    ]);
    // Go build info, inline-string format (Go >= 1.18): header, then varint-prefixed strings.
    let mut go = b"\xff Go buildinf:".to_vec();
    go.extend_from_slice(&[8, 2]);
    go.resize(32, 0);
    let version = b"go1.21.4";
    let mut modinfo = vec![0x30u8; 16];
    modinfo.extend_from_slice(b"path\texample.com/tool\nmod\texample.com/tool\tv1.2.3\th1:x\ndep\tgolang.org/x/text\tv0.13.0\th1:y\n");
    modinfo.extend_from_slice(&[0x31u8; 16]);
    go.push(version.len() as u8);
    go.extend_from_slice(version);
    go.extend_from_slice(&[
        (modinfo.len() & 0x7f) as u8 | 0x80,
        (modinfo.len() >> 7) as u8,
    ]);
    go.extend_from_slice(&modinfo);
    let go_elf = elf_with_sections(&[(".go.buildinfo", &go)]);
    let audit_json = br#"{"packages":[{"name":"mytool","version":"0.1.0","source":"local","root":true,"dependencies":[1]},{"name":"serde","version":"1.0.193","source":"crates.io"}]}"#;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(audit_json).unwrap();
    let rust_elf = elf_with_sections(&[(".dep-v0", &z.finish().unwrap())]);
    let mut bb = elf_with_sections(&[]);
    bb.extend_from_slice(b"\0BusyBox v1.35.0 (Debian 1:1.35.0-4+b3)\0");

    let l0 = layer(&[("bin/busybox", 0o755, Some(&bb))]);
    let l1 = layer(&[
        ("opt/app/app.jar", 0o644, Some(&app)),
        ("usr/local/bin/tool", 0o755, Some(&go_elf)),
        ("usr/local/bin/mytool", 0o755, Some(&rust_elf)),
        (
            "usr/local/bin/script",
            0o755,
            Some(b"#!/bin/sh\necho this is a shell script, not an ELF file\n"),
        ),
    ]);
    let sbom = sbom_of(&[l0, l1]);
    let find = |name: &str| {
        sbom.packages
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} not found in {:#?}", sbom.packages))
    };
    let demo = find("com.example:demo-app");
    assert_eq!(demo.purl, "pkg:maven/com.example/demo-app@1.4.2");
    assert_eq!(demo.layer.as_ref().unwrap().index, 1);
    let slf4j = find("org.slf4j:slf4j-api");
    assert_eq!(
        slf4j.location,
        "/opt/app/app.jar!/BOOT-INF/lib/slf4j-api-2.0.9.jar"
    );
    assert_eq!(find("stdlib").version, "1.21.4");
    assert_eq!(
        find("example.com/tool").purl,
        "pkg:golang/example.com/tool@v1.2.3"
    );
    assert_eq!(find("golang.org/x/text").version, "v0.13.0");
    assert_eq!(find("serde").purl, "pkg:cargo/serde@1.0.193");
    assert_eq!(find("mytool").location, "/usr/local/bin/mytool");
    let busybox = find("busybox");
    assert_eq!(
        (busybox.version.as_str(), busybox.kind),
        ("1.35.0", PackageKind::Binary)
    );
    assert_eq!(busybox.layer.as_ref().unwrap().index, 0);
    assert_eq!(sbom.packages.len(), 8, "{:#?}", sbom.packages);
}

#[test]
fn same_layers_give_the_same_documents() {
    let l = layer(&[
        ("etc/os-release", 0o644, Some(OS_RELEASE)),
        ("var/lib/dpkg/status", 0o644, Some(STATUS_2)),
    ]);
    let a = sbom_of(std::slice::from_ref(&l));
    let b = sbom_of(&[l]);
    assert_eq!(
        strata_sbom::to_spdx_json(&a).to_string(),
        strata_sbom::to_spdx_json(&b).to_string()
    );
    assert_eq!(
        strata_sbom::to_cyclonedx_json(&a).to_string(),
        strata_sbom::to_cyclonedx_json(&b).to_string()
    );
    let cdx = strata_sbom::to_cyclonedx_json(&a);
    assert_eq!(cdx["metadata"]["timestamp"], "1970-01-01T00:00:00Z");
    assert_eq!(cdx["components"].as_array().unwrap().len(), 2);
}
