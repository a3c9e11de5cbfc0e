//! `strata inspect` / `strata image inspect`: docker's image JSON (an array), or a
//! `--format` template applied to each image.

use std::process::ExitCode;

use std::collections::BTreeMap;

use clap::Args;
use serde_json::{Map, Value};
use strata_store::{ErrorKind, Image, Store};

use super::images::{open_store, store_err};
use super::inspect_model::{image_inspect, InspectFacts};
use crate::output::template::Template;
use crate::output::GoValue;
use crate::Global;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes (images always show theirs; accepted as docker accepts it)
    #[arg(short, long)]
    pub size: bool,
    /// Return JSON for objects of this type only (strata's objects are images)
    #[arg(long = "type", value_name = "TYPE")]
    pub object_type: Option<String>,
    /// Images to inspect: name, ID or ID prefix, or docker-archive:, oci:, oci-archive:,
    /// docker:// sources
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// Object types `docker inspect --type` knows; strata has only images.
const DOCKER_TYPES: &[&str] = &[
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];

/// docker's `ImageInspect` for one image of `store`, whose config is `config_bytes`.
pub(crate) fn inspect_value(
    store: &Store,
    img: &Image,
    config_bytes: &[u8],
) -> anyhow::Result<GoValue> {
    let r = &img.record;
    let config: Map<String, Value> = serde_json::from_slice(config_bytes).map_err(|e| {
        anyhow::anyhow!("image config {} is not a JSON object: {e}", r.config_digest)
    })?;
    let sizes = store.layer_content_sizes(&[r]).map_err(store_err)?;
    let snapshots: Option<Vec<String>> = r
        .chain_ids()
        .iter()
        .map(|c| store.snapshot_path(c).map(|p| p.display().to_string()))
        .collect();
    let graph_data = snapshots.filter(|s| !s.is_empty()).map(|mut s| {
        let mut data = BTreeMap::new();
        data.insert("UpperDir".to_owned(), s.pop().expect("not empty"));
        if !s.is_empty() {
            s.reverse();
            data.insert("LowerDir".to_owned(), s.join(":"));
        }
        data
    });
    let facts = InspectFacts {
        id: r.config_digest.to_string(),
        repo_tags: img.tags.iter().map(|t| t.familiar()).collect(),
        // Only digests a registry gave or took (pull, push); never the local manifest's.
        repo_digests: store.repo_digests(&r.manifest_digest).map_err(store_err)?,
        size: store.image_content_size(r, &sizes),
        diff_ids: r.diff_ids.iter().map(|d| d.to_string()).collect(),
        graph_data,
        last_tag_time: (!img.tags.is_empty()).then_some(r.added),
    };
    Ok(image_inspect(&config, facts))
}

/// `ImageInspect` for an image read in place from another transport (`docker-archive:`,
/// `oci:`, `docker://`): what the store alone knows (snapshots, repository digests, file
/// content sizes) is absent, and the size is the sum of the layer blobs.
fn inspect_source_value(img: &Image, config_bytes: &[u8]) -> anyhow::Result<GoValue> {
    let r = &img.record;
    let config: Map<String, Value> = serde_json::from_slice(config_bytes).map_err(|e| {
        anyhow::anyhow!("image config {} is not a JSON object: {e}", r.config_digest)
    })?;
    let facts = InspectFacts {
        id: r.config_digest.to_string(),
        repo_tags: Vec::new(),
        repo_digests: Vec::new(),
        size: r.layers.iter().map(|l| l.size).sum(),
        diff_ids: r.diff_ids.iter().map(|d| d.to_string()).collect(),
        graph_data: None,
        last_tag_time: None,
    };
    Ok(image_inspect(&config, facts))
}

/// Whether `spec` names another transport than the local store.
fn is_transport(spec: &str) -> bool {
    matches!(
        spec.parse::<strata_image::ImageSource>(),
        Ok(s) if !matches!(s, strata_image::ImageSource::Store(_))
    )
}

/// `strata inspect` (docker's generic `inspect`: a missing name is "No such object").
pub fn run(args: InspectArgs, global: &Global) -> anyhow::Result<ExitCode> {
    inspect(args, global, "object")
}

/// `strata image inspect` (a missing name is "No such image").
pub fn run_image(args: InspectArgs, global: &Global) -> anyhow::Result<ExitCode> {
    inspect(args, global, "image")
}

fn inspect(args: InspectArgs, global: &Global, what: &str) -> anyhow::Result<ExitCode> {
    let what = match args.object_type.as_deref() {
        None => what,
        Some("image") => "image",
        Some(t) if DOCKER_TYPES.contains(&t) => t,
        Some(t) => {
            eprintln!("{t:?} is not a valid value for --type");
            return Ok(ExitCode::from(1));
        }
    };
    if args.size {
        eprintln!("WARNING: --size ignored for image");
    }
    // Parse the template before touching the store: a bad one exits 64, as docker's does.
    let template = match args.format.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}").expect("valid template")),
        Some(f) if f == "table" || f.starts_with("table ") => {
            anyhow::bail!("inspect does not support table formats\nhint: use a Go template such as '{{{{.Id}}}}' or 'json'")
        }
        Some(_) => {
            let text = args
                .format
                .as_deref()
                .unwrap_or_default()
                .replace("\\t", "\t")
                .replace("\\n", "\n");
            match Template::parse(&text) {
                Ok(t) => Some(t),
                Err(e) => {
                    eprintln!("template parsing error: {e}");
                    return Ok(ExitCode::from(64));
                }
            }
        }
    };
    let store = open_store(global)?;
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for spec in &args.images {
        if is_transport(spec) {
            match super::image_source::resolve_image(global, spec) {
                Ok((img, config)) => values.push(inspect_source_value(&img, &config)?),
                Err(e) => errors.push(format!("Error: {e:#}")),
            }
            continue;
        }
        let found = if what == "image" || what == "object" {
            store.resolve(spec)
        } else {
            Err(strata_store::Error::new(ErrorKind::NotFound, spec.clone()))
        };
        match found {
            Ok(img) => {
                let config = store
                    .read_blob_verified(&img.record.config_digest)
                    .map_err(store_err)?;
                values.push(inspect_value(&store, &img, &config)?)
            }
            Err(e) if e.kind() == ErrorKind::NotFound || what == "object" => {
                errors.push(format!("Error: No such {what}: {spec}"))
            }
            Err(e) => errors.push(format!("Error: {:#}", store_err(e))),
        }
    }
    match template {
        None => println!("{}", GoValue::List(Some(values)).to_json(Some("    "))),
        Some(t) => {
            let mut out = String::new();
            for v in &values {
                // As docker: the typed struct first, then the raw JSON with missing keys as
                // errors, so both `.ID` and `.Id` work.
                let rendered = t.render(v).or_else(|_| {
                    let raw: Value =
                        serde_json::from_str(&v.to_json(None)).expect("inspect JSON parses back");
                    t.render_strict(&GoValue::from_raw_json(&raw))
                });
                match rendered {
                    Ok(text) => {
                        out.push_str(&text);
                        out.push('\n');
                    }
                    Err(e) => errors.push(format!("template parsing error: {e}")),
                }
            }
            if out.is_empty() {
                out.push('\n');
            }
            print!("{out}");
        }
    }
    for e in &errors {
        eprintln!("{e}");
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
