//! From Dockerfile text to a build plan: parse, load base images from the store, inject
//! their ONBUILD triggers, resolve words with build args and the bases' ENV, and find the
//! stages the target needs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use strata_dockerfile::scope::{self, Base, Platform, ResolveOptions, Resolved};
use strata_dockerfile::stages::StageGraph;
use strata_dockerfile::{Dockerfile, ParseError, Span};
use strata_oci::{Digest, ImageConfig};
use strata_store::{ImageRecord, Store};

use crate::error::{BuildError, BuildErrorKind, Result};

/// A base image found in the store.
#[derive(Debug, Clone)]
pub struct BaseImage {
    pub reference: String,
    pub record: ImageRecord,
    pub config: ImageConfig,
}

impl BaseImage {
    /// Its layers, as the working image of a stage built on it holds them.
    pub fn layers(&self) -> Vec<crate::state::LayerRef> {
        self.record
            .layers
            .iter()
            .zip(&self.record.diff_ids)
            .map(|(l, d)| crate::state::LayerRef {
                digest: l.digest.clone(),
                diff_id: d.clone(),
                size: l.size,
                media_type: l.media_type.to_string(),
            })
            .collect()
    }
}

/// Everything the solver needs, with no Dockerfile text left to interpret.
pub struct Plan {
    pub dockerfile: Dockerfile,
    pub resolved: Resolved,
    pub graph: StageGraph,
    pub target: usize,
    /// Base images by the expanded reference a FROM or `--from` used.
    pub bases: HashMap<String, Arc<BaseImage>>,
    pub platform: Platform,
}

impl Plan {
    /// Render a Dockerfile location for an error at `span`.
    pub fn location(&self, span: Span, message: &str) -> String {
        let rendered = ParseError::new(strata_dockerfile::ErrorKind::Syntax, message.to_owned())
            .at(span)
            .with_source(&self.dockerfile.file, &self.dockerfile.source)
            .render();
        // Drop the first line (the message itself): the caller prints it already.
        rendered
            .split_once('\n')
            .map(|(_, rest)| rest.trim_end().to_owned())
            .unwrap_or_default()
    }

    /// The stages to build, in dependency order.
    pub fn required_stages(&self) -> Vec<usize> {
        self.graph
            .levels(self.target)
            .into_iter()
            .flatten()
            .collect()
    }
}

fn dockerfile_error(e: ParseError, file: &str, text: &str) -> BuildError {
    BuildError::new(
        BuildErrorKind::Dockerfile,
        e.with_source(file, text).render().trim_end(),
    )
}

/// Load a base image's record and config from the store.
pub fn load_base(store: &Store, reference: &str) -> Result<BaseImage> {
    let image = store.resolve(reference).map_err(|e| {
        if e.is_not_found() {
            BuildError::not_found(format!(
                "base image {reference} is not in the local store\nhint: `strata pull {reference}` or `strata load -i <archive>` first"
            ))
        } else {
            BuildError::internal(e)
        }
    })?;
    let bytes = store.read_blob_verified(&image.record.config_digest)?;
    let mut config: ImageConfig = serde_json::from_slice(&bytes).map_err(|e| {
        BuildError::internal(format!(
            "config {} of {reference}: {e}",
            image.record.config_digest
        ))
    })?;
    // BuildKit gives every stage a PATH: a base image without one gets the default, visible
    // to word expansion (`ENV PATH=/x:$PATH`) and to the new image's config.
    let env = config
        .config
        .get_or_insert_with(Default::default)
        .env
        .get_or_insert_with(Vec::new);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(crate::state::DEFAULT_PATH_ENV.to_owned());
    }
    Ok(BaseImage {
        reference: reference.to_owned(),
        record: image.record,
        config,
    })
}

/// A base image must be for the stage's platform: the store keeps one platform per name, so
/// another platform's image would silently become the wrong base (docker refuses the same).
fn check_base_platform(reference: &str, base: &BaseImage, wanted: &Platform) -> Result<()> {
    let Some(actual) = base.record.platform.as_deref() else {
        return Ok(());
    };
    let (Ok(have), Ok(want)) = (
        strata_oci::Platform::parse(actual),
        strata_oci::Platform::parse(&wanted.to_string()),
    ) else {
        return Ok(());
    };
    if want.matches(&have) {
        return Ok(());
    }
    Err(BuildError::not_found(format!(
        "image {reference} was found but does not match the specified platform: wanted {wanted}, actual: {actual}\nhint: `strata pull --platform {wanted} {reference}` (or load an archive for {wanted}) first, or build for {actual}"
    )))
}

/// Parse and resolve `text` for `target`, loading base images from `store`.
pub fn plan(
    store: &Store,
    text: &str,
    file_name: &str,
    build_args: &BTreeMap<String, String>,
    target: Option<&str>,
    platform: Option<Platform>,
) -> Result<Plan> {
    let mut df = strata_dockerfile::parse(text, file_name)
        .map_err(|e| dockerfile_error(e, file_name, text))?;
    check_syntax_directive(&df, file_name)?;
    let mut opts = ResolveOptions::new(build_args.clone(), platform);
    let first = scope::resolve(&df, &opts).map_err(|e| dockerfile_error(e, file_name, text))?;

    // Load every external base, then resolve again with their ENV visible.
    let mut bases: HashMap<String, Arc<BaseImage>> = HashMap::new();
    let graph0 = StageGraph::new(&df, &first).map_err(|e| dockerfile_error(e, file_name, text))?;
    let target0 = graph0
        .target(target)
        .map_err(|e| dockerfile_error(e, file_name, text))?;
    let needed = graph0.required(target0);
    for &i in &needed {
        let stage = &first.stages[i];
        for r in stage_image_refs(&first, &graph0, i) {
            if let std::collections::hash_map::Entry::Vacant(slot) = bases.entry(r.clone()) {
                let base =
                    load_base(store, &r).map_err(|e| e.at(locate(&df, text, stage.index)))?;
                slot.insert(Arc::new(base));
            }
        }
    }
    // ONBUILD triggers a stage declares, run by the first stage built FROM it.
    let stage_triggers: Vec<Vec<String>> = df
        .stages
        .iter()
        .map(|st| {
            st.instructions
                .iter()
                .filter_map(|inst| match &inst.kind {
                    strata_dockerfile::ast::InstructionKind::Onbuild(ob) => {
                        Some(ob.expression.clone())
                    }
                    _ => None,
                })
                .collect()
        })
        .collect();
    for &i in &needed {
        if let Base::Stage(j) = &first.stages[i].base {
            if let Some(triggers) = stage_triggers.get(*j).filter(|t| !t.is_empty()) {
                let name = first.stages[*j]
                    .name
                    .clone()
                    .unwrap_or_else(|| j.to_string());
                inject_onbuild(&mut df, i, triggers, &format!("stage {name}"))?;
            }
        }
        if let Base::Image(r) = &first.stages[i].base {
            let base = &bases[r];
            let wanted = first.stages[i]
                .platform
                .as_ref()
                .unwrap_or(&opts.target_platform);
            check_base_platform(r, base, wanted).map_err(|e| e.at(locate(&df, text, i)))?;
            let env = base
                .config
                .config
                .as_ref()
                .and_then(|c| c.env.as_ref())
                .map(|e| {
                    e.iter()
                        .filter_map(|kv| {
                            kv.split_once('=')
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            opts.image_env.insert(r.clone(), env);
            if let Some(shell) = base.config.config.as_ref().and_then(|c| c.shell.clone()) {
                opts.image_shell.insert(r.clone(), shell);
            }
            let triggers = base
                .config
                .config
                .as_ref()
                .and_then(|c| c.on_build.clone())
                .unwrap_or_default();
            if !triggers.is_empty() {
                inject_onbuild(&mut df, i, &triggers, &format!("base image {r}"))?;
            }
        }
    }
    let resolved = scope::resolve(&df, &opts).map_err(|e| dockerfile_error(e, file_name, text))?;
    let graph =
        StageGraph::new(&df, &resolved).map_err(|e| dockerfile_error(e, file_name, text))?;
    let target = graph
        .target(target)
        .map_err(|e| dockerfile_error(e, file_name, text))?;
    Ok(Plan {
        dockerfile: df,
        resolved,
        graph,
        target,
        bases,
        platform: opts.target_platform,
    })
}

/// The images stage `i` reads: its FROM image and `--from` images.
fn stage_image_refs(resolved: &Resolved, graph: &StageGraph, i: usize) -> Vec<String> {
    let mut refs = Vec::new();
    if let Base::Image(r) = &resolved.stages[i].base {
        refs.push(r.clone());
    }
    for edge in &graph.stages[i].edges {
        if let strata_dockerfile::stages::Reference::Image(r) = &edge.to {
            refs.push(r.clone());
        }
    }
    refs
}

/// The external images (FROM and `--from`) building `target` needs, in stage order, without
/// touching the store: what `build --pull` looks up in registries first.
pub fn base_references(
    text: &str,
    file_name: &str,
    build_args: &BTreeMap<String, String>,
    target: Option<&str>,
    platform: Option<Platform>,
) -> Result<Vec<String>> {
    let df = strata_dockerfile::parse(text, file_name)
        .map_err(|e| dockerfile_error(e, file_name, text))?;
    check_syntax_directive(&df, file_name)?;
    let opts = ResolveOptions::new(build_args.clone(), platform);
    let resolved = scope::resolve(&df, &opts).map_err(|e| dockerfile_error(e, file_name, text))?;
    let graph =
        StageGraph::new(&df, &resolved).map_err(|e| dockerfile_error(e, file_name, text))?;
    let target = graph
        .target(target)
        .map_err(|e| dockerfile_error(e, file_name, text))?;
    let mut needed: Vec<usize> = graph.required(target).into_iter().collect();
    needed.sort_unstable();
    let mut refs: Vec<String> = Vec::new();
    for i in needed {
        for r in stage_image_refs(&resolved, &graph, i) {
            if !refs.contains(&r) {
                refs.push(r);
            }
        }
    }
    Ok(refs)
}

/// `# syntax=` names the frontend BuildKit would pull and run. strata's Dockerfile frontend is
/// built in: the official `docker/dockerfile` 1.x frontends are what it implements, anything
/// else (another major version, labs, a custom frontend) would silently build something
/// else, so it is refused.
fn check_syntax_directive(df: &Dockerfile, file_name: &str) -> Result<()> {
    let Some(d) = df.syntax.directives.iter().find(|d| d.name == "syntax") else {
        return Ok(());
    };
    let value = d.value.trim();
    if is_builtin_frontend(value) {
        return Ok(());
    }
    Err(BuildError::new(
        BuildErrorKind::Unsupported,
        format!(
            "{file_name}:{}: # syntax={value}: strata has its Dockerfile frontend built in and cannot run another frontend\nhint: use `# syntax=docker/dockerfile:1` or remove the directive",
            d.line
        ),
    ))
}

/// `docker/dockerfile` (optionally `docker.io/` prefixed) with no tag, `1`, `1.N` or
/// `1.N.M`, optionally pinned by digest.
fn is_builtin_frontend(reference: &str) -> bool {
    let name = reference.split('@').next().unwrap_or(reference);
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    let (repo, tag) = match name.rsplit_once(':') {
        Some((r, t)) => (r, Some(t)),
        None => (name, None),
    };
    if repo != "docker/dockerfile" {
        return false;
    }
    let Some(tag) = tag else { return true };
    let parts: Vec<&str> = tag.split('.').collect();
    parts[0] == "1"
        && parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// ONBUILD triggers of a base (an image, or an earlier stage of this Dockerfile) run first
/// in the stage built on it, as docker does.
fn inject_onbuild(
    df: &mut Dockerfile,
    stage: usize,
    triggers: &[String],
    base: &str,
) -> Result<()> {
    let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
    let parsed = strata_dockerfile::parse(&text, "onbuild").map_err(|e| {
        BuildError::new(
            BuildErrorKind::Dockerfile,
            format!("invalid ONBUILD trigger of {base}: {}", e.message),
        )
    })?;
    let from_span = df.stages[stage].span;
    let mut insts = parsed
        .stages
        .into_iter()
        .next()
        .map(|s| s.instructions)
        .unwrap_or_default();
    for i in &mut insts {
        i.span = from_span;
    }
    let rest = std::mem::take(&mut df.stages[stage].instructions);
    insts.extend(rest);
    df.stages[stage].instructions = insts;
    Ok(())
}

fn locate(df: &Dockerfile, text: &str, stage: usize) -> String {
    let span = df.stages[stage].span;
    ParseError::new(strata_dockerfile::ErrorKind::Syntax, String::new())
        .at(span)
        .with_source(&df.file, text)
        .render()
        .split_once('\n')
        .map(|(_, r)| r.trim_end().to_owned())
        .unwrap_or_default()
}

/// The manifest digest a base image contributes to cache keys.
pub fn base_key(base: &BaseImage) -> Digest {
    base.record.manifest_digest.clone()
}

#[cfg(test)]
mod tests {
    use super::is_builtin_frontend;

    #[test]
    fn builtin_frontends() {
        for ok in [
            "docker/dockerfile:1",
            "docker/dockerfile:1.4",
            "docker/dockerfile:1.7.1",
            "docker.io/docker/dockerfile:1",
            "docker/dockerfile",
            "docker/dockerfile:1.6@sha256:ac85f380a63b13dfcefa89046420e1781752bab202122f8f50032edf31be0021",
        ] {
            assert!(is_builtin_frontend(ok), "{ok}");
        }
        for bad in [
            "docker/dockerfile:1.4-labs",
            "docker/dockerfile:2",
            "docker/dockerfile-upstream:master",
            "tonistiigi/dockerfile:runmount",
            "example.com/my/frontend:1",
            "docker/dockerfile:1.x",
        ] {
            assert!(!is_builtin_frontend(bad), "{bad}");
        }
    }
}
