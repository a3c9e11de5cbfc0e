//! SPDX 2.3 JSON. The image is the described package (`SPDXRef-Image`, purpose CONTAINER);
//! the image `CONTAINS` every catalogued package. Identifiers are derived
//! from package content and the creation time is the image's `created`, so the same image
//! always gives the same bytes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::model::{Package, PackageKind, Sbom};
use crate::{spdx_id_hash, timestamp, TOOL_NAME, TOOL_VERSION};

/// The SPDX 2.3 JSON document for `sbom`.
pub fn to_spdx_json(sbom: &Sbom) -> Value {
    let mut packages = vec![image_package(sbom)];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    let mut refs: BTreeMap<String, String> = BTreeMap::new();
    for p in &sbom.packages {
        let id = package_id(p);
        packages.push(package(p, &id, &mut refs));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let image_hex = sbom.image.id.trim_start_matches("sha256:");
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": sbom.image.name,
        "documentNamespace": format!(
            "https://strata.dev/spdxdocs/{}-{}",
            sanitize(&sbom.image.name),
            image_hex
        ),
        "creationInfo": {
            "created": timestamp(sbom),
            "creators": [format!("Tool: {TOOL_NAME}-{TOOL_VERSION}")],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !refs.is_empty() {
        doc["hasExtractedLicensingInfos"] = refs
            .into_iter()
            .map(|(id, name)| {
                json!({
                    "licenseId": id,
                    "name": name,
                    "extractedText": format!(
                        "The package metadata names this licence \"{name}\"; SPDX lists no identifier for it."
                    ),
                })
            })
            .collect();
    }
    if !sbom.notes.is_empty() {
        doc["comment"] = Value::String(sbom.notes.join("\n"));
    }
    doc
}

fn image_package(sbom: &Sbom) -> Value {
    let mut p = json!({
        "name": sbom.image.name,
        "SPDXID": "SPDXRef-Image",
        "versionInfo": sbom.image.id,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
    });
    if let Some(hex) = sbom.image.id.strip_prefix("sha256:") {
        p["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": hex}]);
    }
    if let Some(d) = &sbom.distro {
        p["comment"] = Value::String(format!(
            "operating system: {}",
            d.pretty_name.clone().unwrap_or_else(|| d.id.clone())
        ));
    }
    p
}

fn package_id(p: &Package) -> String {
    format!(
        "SPDXRef-Package-{}-{}-{}",
        p.kind.as_str(),
        sanitize(&p.name),
        spdx_id_hash(p)
    )
}

fn package(p: &Package, id: &str, refs: &mut BTreeMap<String, String>) -> Value {
    let declared = if p.licenses.is_empty() {
        "NOASSERTION".to_owned()
    } else {
        for l in &p.licenses {
            if let Some(name) = l.strip_prefix("LicenseRef-") {
                refs.insert(l.clone(), name.to_owned());
            }
        }
        p.licenses.join(" AND ")
    };
    let mut source = format!("found at {}", p.location);
    if let Some(layer) = &p.layer {
        source.push_str(&format!(
            " in layer {} (index {})",
            layer.diff_id, layer.index
        ));
    }
    if let Some(s) = &p.source_name {
        source.push_str(&format!(
            "; source package {s} {}",
            p.source_version.as_deref().unwrap_or("")
        ));
    }
    let mut v = json!({
        "name": p.name,
        "SPDXID": id,
        "versionInfo": p.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": declared,
        "copyrightText": "NOASSERTION",
        "sourceInfo": source.trim_end(),
        "primaryPackagePurpose": match p.kind {
            PackageKind::Go | PackageKind::Cargo | PackageKind::Maven
            | PackageKind::Npm | PackageKind::Python => "LIBRARY",
            _ => "APPLICATION",
        },
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": p.purl,
        }],
    });
    if let Some(s) = p.supplier.as_deref().and_then(supplier) {
        v["supplier"] = Value::String(s);
    }
    v
}

/// `Name <mail>` → `Organization: Name (mail)`, the form SPDX's supplier field takes.
fn supplier(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (name, mail) = match raw.split_once('<') {
        Some((n, m)) => (n.trim(), Some(m.trim_end_matches('>').trim())),
        None => (raw, None),
    };
    let name: String = name
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | '\n'))
        .collect();
    if name.trim().is_empty() {
        return None;
    }
    Some(match mail {
        Some(m) if !m.is_empty() => format!("Organization: {} ({m})", name.trim()),
        _ => format!("Organization: {}", name.trim()),
    })
}

/// Letters, digits, `.` and `-` only, as SPDX identifiers and namespace paths allow.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
