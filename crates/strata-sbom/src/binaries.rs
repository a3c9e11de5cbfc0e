//! Packages recorded inside ELF binaries:
//! - Go build info (the `\xff Go buildinf:` blob): the Go toolchain as `stdlib`, the main
//!   module and every dependency module, with `=>` replacements applied;
//! - cargo-auditable's `.dep-v0` section (zlib-compressed JSON of the crate graph);
//! - busybox, recognised by its `BusyBox vX.Y.Z` banner (it ships without a package database
//!   in `FROM scratch` images).

use std::io::Read;

use memchr::memmem;
use object::{Object, ObjectSection};
use serde::Deserialize;

use crate::model::{Package, PackageKind};
use crate::purl::purl;

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// cargo-auditable's decompressed JSON is refused past this size.
const MAX_AUDIT_JSON: u64 = 8 << 20;

/// Packages found in the ELF file at `location`, and notes about what could not be read.
pub fn catalog_elf(location: &str, bytes: &[u8]) -> (Vec<Package>, Vec<String>) {
    let mut pkgs = Vec::new();
    let mut notes = Vec::new();
    match go_build_info(bytes) {
        Ok(Some(info)) => pkgs.extend(go_packages(location, &info)),
        Ok(None) => {}
        Err(note) => notes.push(format!("{location}: {note}")),
    }
    match cargo_auditable(bytes) {
        Ok(Some(crates)) => pkgs.extend(crates.into_iter().filter_map(|c| {
            Some(Package {
                purl: purl("cargo", None, &c.name, &c.version, &[])?,
                name: c.name,
                version: c.version,
                kind: PackageKind::Cargo,
                licenses: Vec::new(),
                source_name: None,
                source_version: None,
                arch: None,
                supplier: None,
                location: location.to_owned(),
                files: Vec::new(),
                layer: None,
            })
        })),
        Ok(None) => {}
        Err(note) => notes.push(format!("{location}: {note}")),
    }
    if let Some(v) = busybox_version(bytes) {
        if let Some(purl) = purl("generic", None, "busybox", &v, &[]) {
            pkgs.push(Package {
                name: "busybox".to_owned(),
                version: v,
                kind: PackageKind::Binary,
                purl,
                licenses: vec!["GPL-2.0-only".to_owned()],
                source_name: None,
                source_version: None,
                arch: None,
                supplier: None,
                location: location.to_owned(),
                files: vec![location.to_owned()],
                layer: None,
            });
        }
    }
    (pkgs, notes)
}

/// What Go's `debug/buildinfo` reads: the toolchain version and the module lines.
#[derive(Debug, PartialEq, Eq)]
pub struct GoBuildInfo {
    pub go_version: String,
    pub path: Option<String>,
    /// (module path, version), the main module first when there is one.
    pub modules: Vec<(String, String)>,
}

/// Find and decode Go build info. `Ok(None)` when the binary has none; an error for the
/// pre-Go-1.18 pointer format, which needs address translation strata does not do.
pub fn go_build_info(bytes: &[u8]) -> Result<Option<GoBuildInfo>, String> {
    for at in memmem::find_iter(bytes, GO_MAGIC) {
        // The header is 32 bytes, 16-aligned in the data segment.
        let Some(header) = bytes.get(at..at + 32) else {
            continue;
        };
        let flags = header[15];
        if flags & 2 == 0 {
            return Err("Go build info in the pre-1.18 pointer format is not supported".into());
        }
        let mut rest = &bytes[at + 32..];
        let version = read_varint_string(&mut rest).ok_or("truncated Go build info")?;
        let modinfo = read_varint_string(&mut rest).ok_or("truncated Go build info")?;
        let version = String::from_utf8_lossy(version).into_owned();
        // The module text is wrapped in two 16-byte sentinels.
        let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
            &modinfo[16..modinfo.len() - 16]
        } else {
            modinfo
        };
        return Ok(Some(parse_modinfo(
            version,
            &String::from_utf8_lossy(modinfo),
        )));
    }
    Ok(None)
}

fn read_varint_string<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut len: u64 = 0;
    let mut shift = 0;
    loop {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let len = usize::try_from(len).ok()?;
    let s = buf.get(..len)?;
    *buf = &buf[len..];
    Some(s)
}

pub fn parse_modinfo(go_version: String, text: &str) -> GoBuildInfo {
    let mut info = GoBuildInfo {
        go_version,
        path: None,
        modules: Vec::new(),
    };
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["path", p, ..] => info.path = Some((*p).to_owned()),
            ["mod" | "dep", p, v, ..] => info.modules.push(((*p).to_owned(), (*v).to_owned())),
            ["=>", p, v, ..] => {
                if let Some(last) = info.modules.last_mut() {
                    *last = ((*p).to_owned(), (*v).to_owned());
                }
            }
            _ => {}
        }
    }
    info
}

fn go_packages(location: &str, info: &GoBuildInfo) -> Vec<Package> {
    let mut out = Vec::new();
    let stdlib_version = info
        .go_version
        .strip_prefix("go")
        .unwrap_or(&info.go_version)
        .split([' ', '-'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut add = |name: &str, version: &str| {
        if name.is_empty() || version.is_empty() {
            return;
        }
        let (namespace, last) = match name.rsplit_once('/') {
            Some((ns, n)) => (Some(ns), n),
            None => (None, name),
        };
        if let Some(purl) = purl("golang", namespace, last, version, &[]) {
            out.push(Package {
                name: name.to_owned(),
                version: version.to_owned(),
                kind: PackageKind::Go,
                purl,
                licenses: Vec::new(),
                source_name: None,
                source_version: None,
                arch: None,
                supplier: None,
                location: location.to_owned(),
                files: Vec::new(),
                layer: None,
            });
        }
    };
    add("stdlib", &stdlib_version);
    for (path, version) in &info.modules {
        add(path, version);
    }
    out
}

#[derive(Deserialize)]
struct AuditData {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
pub struct AuditPackage {
    pub name: String,
    pub version: String,
}

/// The crates cargo-auditable recorded in the `.dep-v0` section.
pub fn cargo_auditable(bytes: &[u8]) -> Result<Option<Vec<AuditPackage>>, String> {
    let Ok(file) = object::File::parse(bytes) else {
        return Ok(None);
    };
    let Some(section) = file.section_by_name(".dep-v0") else {
        return Ok(None);
    };
    let data = section
        .data()
        .map_err(|e| format!("unreadable .dep-v0 section: {e}"))?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_AUDIT_JSON)
        .read_to_end(&mut json)
        .map_err(|e| format!("cargo-auditable data does not decompress: {e}"))?;
    let audit: AuditData = serde_json::from_slice(&json)
        .map_err(|e| format!("cargo-auditable data is not valid JSON: {e}"))?;
    Ok(Some(audit.packages))
}

/// `BusyBox v1.35.0 (…)` → `1.35.0`.
fn busybox_version(bytes: &[u8]) -> Option<String> {
    let at = memmem::find(bytes, b"BusyBox v")?;
    let rest = &bytes[at + b"BusyBox v".len()..];
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')))?;
    let v = std::str::from_utf8(&rest[..end]).ok()?;
    (!v.is_empty() && v.as_bytes()[0].is_ascii_digit()).then(|| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modinfo_with_replacements() {
        let text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
                    dep\tgolang.org/x/net\tv0.1.0\th1:abc\n=>\tgolang.org/x/net\tv0.2.0\th1:def\n\
                    build\t-compiler=gc\n";
        let info = parse_modinfo("go1.21.4".into(), text);
        assert_eq!(info.path.as_deref(), Some("example.com/app"));
        assert_eq!(
            info.modules,
            vec![
                ("example.com/app".to_owned(), "(devel)".to_owned()),
                ("golang.org/x/net".to_owned(), "v0.2.0".to_owned())
            ]
        );
    }

    #[test]
    fn reads_busybox_banner() {
        assert_eq!(
            busybox_version(b"xx\0BusyBox v1.35.0 (Debian 1:1.35.0-4)\0").as_deref(),
            Some("1.35.0")
        );
    }
}
