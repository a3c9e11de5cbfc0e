//! Rules that follow state through a file: stages and the stages they build on, the
//! last USER, archives copied then extracted, caches left behind, duplicate CMDs.
//!
//! strata knows the stage graph, so "final" means a stage no other stage builds on or
//! copies from (any of those can be a build target), not simply every stage.

use std::collections::BTreeMap;

use strata_dockerfile::shell::Lexer;
use strata_dockerfile::InstructionKind;

use super::instructions::{copy_paths, is_archive};
use super::Ctx;
use crate::model::{item_from_refs, unquote, Model};

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let referenced = model.referenced_stages();
    last_user(ctx, &referenced);
    images(ctx);
    caches_left(ctx, model);
    archives(ctx);
    per_stage_duplicates(ctx);
    copy_from(ctx);
    copy_relative(ctx);
    healthcheck(ctx, &referenced);
    wget_and_curl(ctx);
    pipefail(ctx);
}

/// Leaf stages: no other stage builds on them or copies from them.
fn leaves(referenced: &[bool]) -> impl Iterator<Item = usize> + '_ {
    referenced
        .iter()
        .enumerate()
        .filter(|(_, r)| !**r)
        .map(|(i, _)| i)
}

/// DL3002: the USER a final stage ends with (inherited through FROM) is root.
fn last_user(ctx: &mut Ctx<'_>, referenced: &[bool]) {
    let model = ctx.model;
    let mut hits = Vec::new();
    for s in leaves(referenced) {
        let last = model.lineage(s).into_iter().find_map(|st| {
            model
                .stage_items(st)
                .iter()
                .rev()
                .find(|it| it.is("USER") && !it.onbuild)
        });
        if let Some(it) = last {
            let user = it.node.args.first().map(|u| unquote(u)).unwrap_or_default();
            let name = user.split(':').next().unwrap_or("");
            if name == "root" || name == "0" {
                hits.push(it.line);
            }
        }
    }
    hits.sort();
    hits.dedup();
    for l in hits {
        ctx.hit("DL3002", l);
    }
}

/// The FROM image with global ARG defaults substituted; `None` when a variable has no
/// value the linter can know (it comes from `--build-arg`).
fn expand_image(model: &Model, image: &str) -> Option<String> {
    if !image.contains('$') {
        return Some(unquote(image));
    }
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for it in &model.items {
        if it.stage.is_some() {
            break;
        }
        if let Some(InstructionKind::Arg(decls)) = &it.kind {
            for d in decls {
                if let Some(v) = &d.default {
                    let v = Lexer::new(model.escape)
                        .process_word(v, &env)
                        .map(|e| e.value)
                        .unwrap_or_default();
                    env.insert(d.name.clone(), v);
                }
            }
        }
    }
    let e = Lexer::new(model.escape).process_word(image, &env).ok()?;
    e.unmatched.is_empty().then_some(e.value)
}

/// `(registry, has tag or digest, tag)` of an image reference as written.
fn split_image(image: &str) -> (String, bool, Option<String>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, _)) => (r, true),
        None => (image, false),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let tag = rest[last_slash..]
        .rfind(':')
        .map(|i| rest[last_slash + i + 1..].to_string());
    let first = rest.split('/').next().unwrap_or("");
    let registry = if rest.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost")
    {
        first.to_string()
    } else {
        "docker.io".to_string()
    };
    (registry, digest || tag.is_some(), tag)
}

fn registry_allowed(registry: &str, trusted: &[String]) -> bool {
    let registry = registry.to_ascii_lowercase();
    trusted.iter().any(|t| {
        let t = t.to_ascii_lowercase();
        t == "*"
            || t == registry
            || (t == "docker.io" && registry == "index.docker.io")
            || t.strip_prefix("*.")
                .is_some_and(|suffix| registry.ends_with(&format!(".{suffix}")))
    })
}

/// DL3006, DL3007, DL3026 on FROM images (ARG defaults expanded), and DL3026 on
/// images named by `COPY --from` and `RUN --mount=from=`.
fn images(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let trusted = &ctx.config.trusted_registries;
    let mut hits = Vec::new();
    for st in &model.stages {
        let it = &model.items[st.from_item];
        let Some(image) = expand_image(model, &st.image) else {
            continue;
        };
        let lower = image.to_ascii_lowercase();
        let is_stage = model.stages[..st.index]
            .iter()
            .any(|s| s.name.as_deref() == Some(lower.as_str()));
        if is_stage || lower == "scratch" {
            continue;
        }
        let (registry, tagged, tag) = split_image(&image);
        if !tagged {
            hits.push(("DL3006", it.line));
        }
        if tag.as_deref() == Some("latest") && !image.contains('@') {
            hits.push(("DL3007", it.line));
        }
        if !trusted.is_empty() && !registry_allowed(&registry, trusted) {
            hits.push(("DL3026", it.line));
        }
    }
    if !trusted.is_empty() {
        for it in &model.items {
            for r in item_from_refs(it) {
                let is_stage = model.stage_ref(&r, it.stage.unwrap_or(0)).is_some();
                if is_stage || r.contains('$') || !(r.contains('/') || r.contains(':')) {
                    continue;
                }
                let (registry, _, _) = split_image(&r);
                if !registry_allowed(&registry, trusted) {
                    hits.push(("DL3026", it.line));
                }
            }
        }
    }
    for (c, l) in hits {
        ctx.hit(c, l);
    }
}

/// True when the stage's filesystem ends up in the image: the last stage, a stage a
/// later one builds on, or instructions before any FROM (a fragment).
fn stage_in_image(model: &Model, stage: Option<usize>) -> bool {
    let Some(s) = stage else { return true };
    s + 1 == model.stages.len() || model.stages.iter().any(|o| o.base_stage == Some(s))
}

/// DL3009 (apt lists) and DL3060 (yarn cache) left in a stage that reaches an image.
fn caches_left(ctx: &mut Ctx<'_>, model: &Model) {
    let mut hits = Vec::new();
    for (_, it, script) in ctx.runs() {
        if !(it.onbuild || stage_in_image(model, it.stage)) {
            continue;
        }
        let cmds = &script.commands;
        let apt_update = cmds.iter().position(|c| {
            (c.is("apt-get") || c.is("apt") || c.is("aptitude")) && c.has_arg("update")
        });
        if let Some(pos) = apt_update {
            let cleaned = cmds[pos..].iter().any(|c| {
                c.is("rm")
                    && c.args()
                        .iter()
                        .any(|w| w.text.starts_with("/var/lib/apt/lists"))
            });
            let mounted = it.has_cache_mount("/var/lib/apt/lists")
                && !it.mount_targets().iter().any(|(_, t)| t == "/var/lib/apt")
                || it.has_cache_mount("/var/lib/apt") && it.has_cache_mount("/var/cache/apt");
            if !cleaned && !mounted {
                hits.push(("DL3009", it.line));
            }
        }
        let yarn = cmds
            .iter()
            .position(|c| c.is("yarn") && c.args().first().is_some_and(|w| w.text == "install"));
        if let Some(pos) = yarn {
            let cleaned = cmds[pos..].iter().any(|c| {
                c.is("yarn")
                    && c.args().first().is_some_and(|w| w.text == "cache")
                    && c.args().get(1).is_some_and(|w| w.text == "clean")
            });
            let mounted = it.has_cache_mount("/root/.cache/yarn")
                || it.has_cache_mount("/usr/local/share/.cache/yarn");
            if !cleaned && !mounted {
                hits.push(("DL3060", it.line));
            }
        }
    }
    for (c, l) in hits {
        ctx.hit(c, l);
    }
}

fn basename(p: &str) -> &str {
    // COPY splits words on blanks, so a quoted path with a space keeps a stray quote.
    p.rsplit(['/', '\\'])
        .next()
        .unwrap_or(p)
        .trim_matches(['"', '\''])
}

/// DL3010: a local archive COPYed, then extracted with tar in the same stage.
fn archives(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let mut copied: Vec<(String, usize, Option<usize>)> = Vec::new();
    let mut hits = Vec::new();
    for (idx, it) in model.items.iter().enumerate() {
        if it.is("FROM") {
            copied.clear();
            continue;
        }
        if it.is("COPY") && !it.node.flags.iter().any(|f| f.starts_with("--from=")) {
            let (sources, dest) = copy_paths(it);
            for s in sources.iter().filter(|s| is_archive(s)) {
                copied.push((basename(s).to_string(), it.line, it.stage));
            }
            if let Some(d) = dest.filter(|d| is_archive(d)) {
                copied.push((basename(&d).to_string(), it.line, it.stage));
            }
        }
        let Some(script) = &ctx.scripts[idx] else {
            continue;
        };
        for c in script.named("tar") {
            let extracts = c.has_flag(&["x", "extract", "get"])
                || c.args()
                    .first()
                    .is_some_and(|w| !w.text.starts_with('-') && w.text.contains('x'));
            if !extracts {
                continue;
            }
            for w in c.args() {
                let name = basename(&w.text);
                if let Some((_, line, _)) = copied.iter().find(|(n, _, _)| n == name) {
                    hits.push(*line);
                }
            }
        }
    }
    hits.sort();
    hits.dedup();
    for l in hits {
        ctx.hit("DL3010", l);
    }
}

/// DL3012 (HEALTHCHECK), DL4003 (CMD), DL4004 (ENTRYPOINT) repeated within a stage.
fn per_stage_duplicates(ctx: &mut Ctx<'_>) {
    let mut seen: BTreeMap<(Option<usize>, &'static str), usize> = BTreeMap::new();
    let mut hits = Vec::new();
    for it in ctx.items() {
        if it.onbuild {
            continue;
        }
        let code = match it.keyword.as_str() {
            "HEALTHCHECK" => "DL3012",
            "CMD" => "DL4003",
            "ENTRYPOINT" => "DL4004",
            _ => continue,
        };
        if it.stage.is_none() && code != "DL3012" {
            continue;
        }
        let n = seen.entry((it.stage, code)).or_default();
        *n += 1;
        if *n > 1 {
            hits.push((code, it.line));
        }
    }
    for (c, l) in hits {
        ctx.hit(c, l);
    }
}

/// DL3022 (unknown stage), DL3023 (own stage), DL3024 (duplicate stage names).
fn copy_from(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let mut hits = Vec::new();
    for (i, st) in model.stages.iter().enumerate() {
        if let Some(name) = &st.name {
            if model.stages[..i]
                .iter()
                .any(|o| o.name.as_ref() == Some(name))
            {
                hits.push(("DL3024", st.line));
            }
        }
    }
    for it in model.items.iter().filter(|it| it.is("COPY")) {
        let Some(from) = it.node.flags.iter().find_map(|f| f.strip_prefix("--from=")) else {
            continue;
        };
        let from = unquote(from);
        let current = it.stage.and_then(|s| model.stages[s].name.clone());
        if current.as_deref() == Some(from.to_ascii_lowercase().as_str()) {
            hits.push(("DL3023", it.line));
            continue;
        }
        if from.contains('$') || from.contains(':') || from.contains('/') {
            continue;
        }
        let before = it.stage.unwrap_or(0);
        if model.stage_ref(&from, before).is_none() {
            hits.push(("DL3022", it.line));
        }
    }
    for (c, l) in hits {
        ctx.hit(c, l);
    }
}

fn is_absolute_dest(d: &str) -> bool {
    let b = d.as_bytes();
    d.starts_with('/')
        || d.starts_with('\\')
        || d.starts_with('$')
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// DL3045: COPY to a relative path with no WORKDIR in the stage or its bases.
fn copy_relative(ctx: &mut Ctx<'_>) {
    let model = ctx.model;
    let mut hits = Vec::new();
    for (idx, it) in model.items.iter().enumerate() {
        if !it.is("COPY") {
            continue;
        }
        let (_, Some(dest)) = copy_paths(it) else {
            continue;
        };
        if is_absolute_dest(&dest) {
            continue;
        }
        let workdir_set = match it.stage {
            None => model.items[..idx].iter().any(|o| o.is("WORKDIR")),
            Some(s) => model.lineage(s).into_iter().any(|st| {
                let start = model.stages[st].from_item + 1;
                let end = if st == s { idx } else { model.stages[st].end };
                model.items[start..end.max(start)]
                    .iter()
                    .any(|o| o.is("WORKDIR"))
            }),
        };
        if !workdir_set {
            hits.push(it.line);
        }
    }
    for l in hits {
        ctx.hit("DL3045", l);
    }
}

/// DL3057: a final stage (and the stages it builds on) without HEALTHCHECK.
fn healthcheck(ctx: &mut Ctx<'_>, referenced: &[bool]) {
    let model = ctx.model;
    let mut hits = Vec::new();
    for s in leaves(referenced) {
        let has = model.lineage(s).into_iter().any(|st| {
            model
                .stage_items(st)
                .iter()
                .any(|it| it.is("HEALTHCHECK") && !it.onbuild)
        });
        if !has {
            hits.push(model.stages[s].line);
        }
    }
    for l in hits {
        ctx.hit("DL3057", l);
    }
}

/// DL4001: wget and curl both used in one stage; each RUN that adds the second tool.
fn wget_and_curl(ctx: &mut Ctx<'_>) {
    let mut seen: BTreeMap<Option<usize>, (bool, bool)> = BTreeMap::new();
    let mut hits = Vec::new();
    for (_, it, script) in ctx.runs() {
        let wget = script.any_named(&["wget"]);
        let curl = script.any_named(&["curl"]);
        let state = seen.entry(it.stage).or_default();
        let before = *state;
        state.0 |= wget;
        state.1 |= curl;
        // This RUN uses both, or uses one while the stage already used the other.
        if wget && (curl || before.1) || curl && before.0 {
            hits.push(it.line);
        }
    }
    for l in hits {
        ctx.hit("DL4001", l);
    }
}

fn sets_pipefail(shell: &[String]) -> bool {
    let Some(first) = shell.first() else {
        return false;
    };
    let base = first.rsplit('/').next().unwrap_or(first);
    if !matches!(base, "bash" | "zsh" | "ash" | "ksh" | "mksh") {
        return false;
    }
    shell
        .windows(2)
        .any(|w| w[1] == "pipefail" && w[0].starts_with('-') && w[0].ends_with('o'))
}

/// DL4006: a piped RUN without `-o pipefail` in SHELL (or set by the script itself).
fn pipefail(ctx: &mut Ctx<'_>) {
    let mut hits = Vec::new();
    for (_, it, script) in ctx.runs() {
        if !script.has_pipe || sets_pipefail(&it.shell) {
            continue;
        }
        let script_sets = script.commands.iter().any(|c| {
            c.name() == "set"
                && c.args().windows(2).any(|w| {
                    w[1].text == "pipefail"
                        && w[0].text.starts_with('-')
                        && w[0].text.ends_with('o')
                })
        });
        if !script_sets {
            hits.push(it.line);
        }
    }
    for l in hits {
        ctx.hit("DL4006", l);
    }
}
