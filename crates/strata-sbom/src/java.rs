//! Java archives (jar, war, ear): `META-INF/maven/<group>/<artifact>/pom.properties` name
//! Maven coordinates; without them, `META-INF/MANIFEST.MF` gives a name and version. Archives
//! nested inside (Spring Boot's `BOOT-INF/lib/*.jar`, `WEB-INF/lib/*.jar`) are read too, to a
//! bounded depth.

use std::io::{Cursor, Read};

use crate::model::{Package, PackageKind};
use crate::purl::purl;

/// Nested archives deeper than this are not opened (a zip bomb of jars in jars stops here).
const MAX_DEPTH: usize = 2;
/// Entries read from an archive into memory are capped at this size.
const MAX_ENTRY: u64 = 64 << 20;

/// The packages in the archive at `location` (image-absolute path, `!`-joined for nested
/// archives). An archive that is not a readable zip gives a note instead.
pub fn catalog_archive(location: &str, bytes: &[u8]) -> Result<Vec<Package>, String> {
    let mut out = Vec::new();
    walk(location, bytes, 0, &mut out)?;
    Ok(out)
}

fn walk(location: &str, bytes: &[u8], depth: usize, out: &mut Vec<Package>) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("{location}: not a readable Java archive ({e}); skipped"))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let mut found_pom = false;
    let mut pom_names: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("META-INF/maven/") && n.ends_with("/pom.properties"))
        .collect();
    pom_names.sort();
    for name in pom_names {
        let Some(text) = read_entry(&mut zip, name) else {
            continue;
        };
        let props = properties(&text);
        let get = |k: &str| props.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
        let (Some(group), Some(artifact), Some(version)) =
            (get("groupId"), get("artifactId"), get("version"))
        else {
            continue;
        };
        if let Some(p) = package(location, Some(group), artifact, version, None) {
            found_pom = true;
            out.push(p);
        }
    }
    if !found_pom {
        if let Some(text) = read_entry(&mut zip, "META-INF/MANIFEST.MF") {
            let manifest = manifest(&text);
            let get = |k: &str| {
                manifest
                    .iter()
                    .find(|(p, _)| p.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.as_str())
            };
            let version = get("Implementation-Version")
                .or(get("Bundle-Version"))
                .or(get("Specification-Version"));
            let file_stem = location
                .rsplit(['/', '!'])
                .next()
                .unwrap_or(location)
                .rsplit_once('.')
                .map_or(location, |(s, _)| s);
            let name = get("Implementation-Title")
                .or(get("Bundle-SymbolicName").map(|s| s.split(';').next().unwrap_or(s)))
                .unwrap_or(file_stem);
            let group = get("Implementation-Vendor-Id")
                .or(get("Automatic-Module-Name").and_then(|m| m.rsplit_once('.').map(|(g, _)| g)));
            if let Some(version) = version {
                if let Some(p) =
                    package(location, group, name, version, get("Implementation-Vendor"))
                {
                    out.push(p);
                }
            }
        }
    }
    if depth < MAX_DEPTH {
        for name in &names {
            let lower = name.to_ascii_lowercase();
            if !(lower.ends_with(".jar") || lower.ends_with(".war")) {
                continue;
            }
            let Some(inner) = read_bytes(&mut zip, name) else {
                continue;
            };
            // A nested archive that cannot be read is not worth failing the outer one.
            let _ = walk(&format!("{location}!/{name}"), &inner, depth + 1, out);
        }
    }
    Ok(())
}

fn package(
    location: &str,
    group: Option<&str>,
    artifact: &str,
    version: &str,
    vendor: Option<&str>,
) -> Option<Package> {
    let purl = purl("maven", group, artifact, version, &[])?;
    let name = match group {
        Some(g) => format!("{g}:{artifact}"),
        None => artifact.to_owned(),
    };
    Some(Package {
        name,
        version: version.to_owned(),
        kind: PackageKind::Maven,
        purl,
        licenses: Vec::new(),
        source_name: None,
        source_version: None,
        arch: None,
        supplier: vendor.map(str::to_owned),
        location: location.to_owned(),
        files: Vec::new(),
        layer: None,
    })
}

fn read_bytes(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<Vec<u8>> {
    let entry = zip.by_name(name).ok()?;
    if entry.size() > MAX_ENTRY {
        return None;
    }
    let mut buf = Vec::with_capacity(entry.size() as usize);
    entry.take(MAX_ENTRY).read_to_end(&mut buf).ok()?;
    Some(buf)
}

fn read_entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<String> {
    read_bytes(zip, name).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// `key=value` lines of a Java properties file (comments and blank lines skipped).
fn properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', '!']))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The main section of a JAR manifest (72-byte lines continued with a leading space).
fn manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some((_, v)) = out.last_mut() {
                v.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}
