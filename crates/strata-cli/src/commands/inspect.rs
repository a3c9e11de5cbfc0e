//! `strata inspect` / `strata image inspect`: docker's image JSON (an array), or a
//! `--format` template applied to each image.

use std::process::ExitCode;

use clap::Args;
use serde_json::{json, Map, Value};
use strata_store::Image;

use super::image_source::resolve_image;
use crate::output::Formatter;
use crate::Global;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short, long)]
    pub format: Option<String>,
    /// Images to inspect: name, ID or ID prefix, or docker-archive:, oci:, oci-archive:,
    /// docker:// sources
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// docker's `ImageInspect` for one image, whose config is `config_bytes`.
pub(crate) fn inspect_value(img: &Image, config_bytes: &[u8]) -> anyhow::Result<Value> {
    let r = &img.record;
    let config: Map<String, Value> = serde_json::from_slice(config_bytes).map_err(|e| {
        anyhow::anyhow!("image config {} is not a JSON object: {e}", r.config_digest)
    })?;
    let get = |k: &str| config.get(k).cloned();
    let str_of = |k: &str| {
        get(k)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut repos: Vec<String> = img
        .tags
        .iter()
        .map(|t| t.familiar_repository().to_owned())
        .collect();
    repos.dedup();
    let mut v = json!({
        "Id": r.config_digest.to_string(),
        "RepoTags": img.tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
        "RepoDigests": repos.iter().map(|repo| format!("{repo}@{}", r.manifest_digest)).collect::<Vec<_>>(),
        "Parent": "",
        "Comment": str_of("comment"),
        "Created": get("created").unwrap_or(Value::String(String::new())),
        "DockerVersion": str_of("docker_version"),
        "Author": str_of("author"),
        "Config": get("config").unwrap_or(Value::Null),
        "Architecture": str_of("architecture"),
    });
    let o = v.as_object_mut().expect("object literal");
    if let Some(variant) = get("variant") {
        o.insert("Variant".into(), variant);
    }
    o.insert("Os".into(), Value::String(str_of("os")));
    if let Some(osv) = get("os.version") {
        o.insert("OsVersion".into(), osv);
    }
    o.insert("Size".into(), Value::from(r.size));
    o.insert(
        "RootFS".into(),
        json!({"Type": "layers", "Layers": r.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()}),
    );
    o.insert(
        "Metadata".into(),
        json!({"LastTagTime": r.added.to_rfc3339()}),
    );
    o.insert(
        "Descriptor".into(),
        json!({"mediaType": r.media_type.as_str(), "digest": r.manifest_digest.to_string(), "size": r.manifest_size}),
    );
    Ok(v)
}

pub fn run(args: InspectArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let mut values = Vec::new();
    let mut failed = false;
    for spec in &args.images {
        match resolve_image(global, spec) {
            Ok((img, config)) => values.push(inspect_value(&img, &config)?),
            Err(e) => {
                failed = true;
                eprintln!("Error: {e:#}");
            }
        }
    }
    match args.format.as_deref() {
        None | Some("") => {
            println!("{}", serde_json::to_string_pretty(&Value::Array(values))?);
        }
        Some(f) => {
            let f = if f.trim() == "json" { "{{json .}}" } else { f };
            let fmt = Formatter::new(Some(f), "", &[])?;
            if fmt.is_table() {
                anyhow::bail!("inspect does not support table formats\nhint: use a Go template such as '{{{{.Id}}}}' or 'json'");
            }
            print!("{}", fmt.render(&values)?);
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
