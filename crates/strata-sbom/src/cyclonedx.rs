//! CycloneDX 1.6 JSON. The image is `metadata.component` (type container); packages are
//! components with their PURL, licences, and strata properties for the layer, location,
//! package type and source package; owned files are evidence occurrences.

use serde_json::{json, Value};

use crate::model::{Package, Sbom};
use crate::{spdx_id_hash, timestamp, TOOL_NAME, TOOL_VERSION};

/// The CycloneDX 1.6 JSON document for `sbom`.
pub fn to_cyclonedx_json(sbom: &Sbom) -> Value {
    let components: Vec<Value> = sbom.packages.iter().map(component).collect();
    let refs: Vec<Value> = sbom
        .packages
        .iter()
        .map(|p| Value::String(bom_ref(p)))
        .collect();
    let mut metadata = json!({
        "timestamp": timestamp(sbom),
        "tools": {"components": [{"type": "application", "name": TOOL_NAME, "version": TOOL_VERSION}]},
        "component": {
            "type": "container",
            "bom-ref": "image",
            "name": sbom.image.name,
            "version": sbom.image.id,
        },
    });
    let mut props = Vec::new();
    if let Some(d) = &sbom.distro {
        props.push(prop("strata:os:id", &d.id));
        if let Some(v) = &d.version_id {
            props.push(prop("strata:os:version", v));
        }
    }
    for n in &sbom.notes {
        props.push(prop("strata:note", n));
    }
    if !props.is_empty() {
        metadata["properties"] = Value::Array(props);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial_number(&sbom.image.id),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": [{"ref": "image", "dependsOn": refs}],
    })
}

fn bom_ref(p: &Package) -> String {
    format!("{}#{}", p.purl, spdx_id_hash(p))
}

fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn component(p: &Package) -> Value {
    let mut c = json!({
        "type": "library",
        "bom-ref": bom_ref(p),
        "name": p.name,
        "version": p.version,
        "purl": p.purl,
    });
    if !p.licenses.is_empty() {
        c["licenses"] = p
            .licenses
            .iter()
            .map(|l| match l.strip_prefix("LicenseRef-") {
                Some(name) => json!({"license": {"name": name}}),
                None => json!({"license": {"id": l}}),
            })
            .collect();
    }
    if let Some(s) = &p.supplier {
        c["publisher"] = Value::String(s.clone());
    }
    let mut props = vec![
        prop("strata:package:type", p.kind.as_str()),
        prop("strata:location", &p.location),
    ];
    if let Some(l) = &p.layer {
        props.push(prop("strata:layer:diffID", &l.diff_id));
        props.push(prop("strata:layer:index", &l.index.to_string()));
    }
    if let Some(s) = &p.source_name {
        props.push(prop("strata:source:name", s));
    }
    if let Some(s) = &p.source_version {
        props.push(prop("strata:source:version", s));
    }
    if let Some(a) = &p.arch {
        props.push(prop("strata:arch", a));
    }
    c["properties"] = Value::Array(props);
    if !p.files.is_empty() {
        c["evidence"] = json!({
            "occurrences": p.files.iter().map(|f| json!({"location": f})).collect::<Vec<_>>(),
        });
    }
    c
}

/// A version-5-shaped UUID from the image ID: the same image always gets the same serial.
fn serial_number(image_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("strata-sbom:{image_id}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}
