//! Rules that look at one instruction (or one RUN script) at a time.

use strata_dockerfile::{Healthcheck, InstructionKind};

use super::Ctx;
use crate::model::unquote;
use crate::pragma::{self, Pragma};

pub(super) fn check(ctx: &mut Ctx<'_>) {
    pragmas(ctx);
    for idx in 0..ctx.items().len() {
        let it = &ctx.items()[idx];
        let line = it.line;
        match it.keyword.as_str() {
            "WORKDIR" => workdir(ctx, idx),
            "EXPOSE" => expose(ctx, idx),
            "ADD" => add(ctx, idx),
            "COPY" => copy(ctx, idx),
            "CMD" | "ENTRYPOINT" if !it.node.json && !it.node.args.is_empty() => {
                ctx.hit("DL3025", line);
            }
            "HEALTHCHECK" => {
                if let Some(InstructionKind::Healthcheck(Healthcheck::Cmd(h))) = &it.kind {
                    if h.test.first().map(String::as_str) == Some("CMD-SHELL") {
                        ctx.hit("DL3025", line);
                    }
                }
            }
            "FROM" => from(ctx, idx),
            "MAINTAINER" if !it.onbuild => ctx.hit("DL4000", line),
            "ENV" => {
                env_self_reference(ctx, idx);
                sensitive(ctx, idx);
            }
            "ARG" => sensitive(ctx, idx),
            "USER" => user(ctx, idx),
            _ => {}
        }
        if it.onbuild && matches!(it.keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
            ctx.hit("DL3043", line);
        }
    }
    run_commands(ctx);
    consecutive_runs(ctx);
    instruction_order(ctx);
}

/// DL1001: any inline ignore pragma.
fn pragmas(ctx: &mut Ctx<'_>) {
    for c in &ctx.model.comments {
        if let Some(Pragma::Ignore(_)) = pragma::parse(&c.text) {
            ctx.hit("DL1001", c.line);
        }
    }
}

fn is_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/')
        || path.starts_with('$')
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

fn workdir(ctx: &mut Ctx<'_>, idx: usize) {
    let it = &ctx.items()[idx];
    if let Some(dir) = it.node.args.first() {
        if !is_absolute(&unquote(dir)) {
            ctx.hit("DL3000", it.line);
        }
    }
}

fn expose(ctx: &mut Ctx<'_>, idx: usize) {
    let it = &ctx.items()[idx];
    let bad = it.node.args.iter().any(|p| {
        let port = p.split('/').next().unwrap_or(p);
        port.split('-')
            .any(|n| !n.contains('$') && n.parse::<u64>().is_ok_and(|n| n > 65535))
    });
    if bad {
        ctx.hit("DL3011", it.line);
    }
}

const ARCHIVE_EXTENSIONS: [&str; 16] = [
    ".tar", ".gz", ".tgz", ".bz2", ".tbz", ".tbz2", ".xz", ".txz", ".zst", ".tzst", ".lz", ".lzma",
    ".tlz", ".z", ".tz", ".taz",
];

pub(super) fn is_archive(path: &str) -> bool {
    let lower = path.trim_matches(['"', '\'']).to_ascii_lowercase();
    ARCHIVE_EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

fn is_url(s: &str) -> bool {
    s.contains("://") || s.starts_with("git@")
}

/// Sources and destination of COPY/ADD as written, quotes removed.
pub(super) fn copy_paths(it: &crate::model::Item) -> (Vec<String>, Option<String>) {
    let args: Vec<String> = it.node.args.iter().map(|a| unquote(a)).collect();
    match args.split_last() {
        Some((dest, sources)) => (sources.to_vec(), Some(dest.clone())),
        None => (Vec::new(), None),
    }
}

fn add(ctx: &mut Ctx<'_>, idx: usize) {
    let it = &ctx.items()[idx];
    let (sources, _) = copy_paths(it);
    let heredoc_names: Vec<&str> = it.node.heredocs.iter().map(|h| h.name.as_str()).collect();
    let plain_file = sources.iter().any(|s| {
        !is_url(s) && !is_archive(s) && !s.starts_with("<<") && !heredoc_names.contains(&s.as_str())
    });
    if plain_file && !sources.is_empty() {
        ctx.hit("DL3020", it.line);
    }
}

fn many_sources_need_dir(ctx: &mut Ctx<'_>, idx: usize) {
    let it = &ctx.items()[idx];
    let (sources, dest) = copy_paths(it);
    if let Some(dest) = dest {
        if sources.len() > 1 && !dest.ends_with('/') && !dest.ends_with('\\') && !dest.contains('$')
        {
            ctx.hit("DL3021", it.line);
        }
    }
}

fn copy(ctx: &mut Ctx<'_>, idx: usize) {
    many_sources_need_dir(ctx, idx);
    let it = &ctx.items()[idx];
    let from = it
        .node
        .flags
        .iter()
        .find_map(|f| f.strip_prefix("--from="))
        .is_some();
    let (sources, dest) = copy_paths(it);
    if from && sources.iter().any(|s| s == "/") && dest.as_deref() == Some("/") {
        ctx.hit("DL3067", it.line);
    }
}

fn from(ctx: &mut Ctx<'_>, idx: usize) {
    let it = &ctx.items()[idx];
    if it.onbuild {
        return;
    }
    let line = it.line;
    if let Some(platform) = it
        .node
        .flags
        .iter()
        .find_map(|f| f.strip_prefix("--platform="))
    {
        let p = unquote(platform);
        if !p.contains('$') {
            ctx.hit("DL3029", line);
        } else if p == "$TARGETPLATFORM" || p == "${TARGETPLATFORM}" {
            ctx.hit("DL3065", line);
        }
    }
    if let Some(name) = it.node.args.get(2) {
        if matches!(name.to_ascii_lowercase().as_str(), "scratch" | "context") {
            ctx.hit("DL3063", line);
        }
    }
}

/// `$NAME` / `${NAME…}` references in `value`.
pub(crate) fn var_refs(value: &str) -> Vec<String> {
    let chars: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == '$' {
            let braced = chars.get(i + 1) == Some(&'{');
            let start = if braced { i + 2 } else { i + 1 };
            let mut j = start;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j > start {
                out.push(chars[start..j].iter().collect());
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// DL3044: `ENV A=1 B=$A` refers to A before this ENV has set it.
fn env_self_reference(ctx: &mut Ctx<'_>, idx: usize) {
    let it = &ctx.items()[idx];
    let pairs = it.env_pairs();
    let bad = pairs.iter().enumerate().any(|(i, p)| {
        let earlier: Vec<&str> = pairs[..i].iter().map(|q| q.key.as_str()).collect();
        var_refs(&p.value)
            .iter()
            .any(|r| earlier.contains(&r.as_str()))
    });
    if bad {
        ctx.hit("DL3044", it.line);
    }
}

/// Name parts that mark a secret, as BuildKit's SecretsUsedInArgOrEnv reads them.
const SECRET_WORDS: [&str; 9] = [
    "apikey",
    "auth",
    "credential",
    "credentials",
    "key",
    "password",
    "pword",
    "passwd",
    "secret",
];

/// True for ARG/ENV names that look like they hold a secret.
pub fn is_sensitive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split(['_', '-', '.']).collect();
    if parts.iter().any(|p| *p == "public" || *p == "gpg") {
        return false;
    }
    parts
        .iter()
        .any(|p| SECRET_WORDS.contains(p) || *p == "token")
}

fn sensitive(ctx: &mut Ctx<'_>, idx: usize) {
    let it = &ctx.items()[idx];
    let names: Vec<String> = match &it.kind {
        Some(InstructionKind::Arg(decls)) => decls.iter().map(|d| d.name.clone()).collect(),
        Some(InstructionKind::Env(pairs)) => pairs.iter().map(|p| p.key.clone()).collect(),
        _ => Vec::new(),
    };
    if names.iter().any(|n| is_sensitive_name(n)) {
        ctx.hit("DL3064", it.line);
    }
}

fn user(ctx: &mut Ctx<'_>, idx: usize) {
    let it = &ctx.items()[idx];
    let Some(u) = it.node.args.first() else {
        return;
    };
    let name = u.split(':').next().unwrap_or(u);
    if !name.contains('$') && !name.chars().all(|c| c.is_ascii_digit()) {
        ctx.hit("DL3066", it.line);
    }
}

const NOT_IN_CONTAINERS: [&str; 10] = [
    "ssh", "vim", "shutdown", "service", "ps", "free", "top", "kill", "mount", "ifconfig",
];

fn run_commands(ctx: &mut Ctx<'_>) {
    let mut hits = Vec::new();
    for (_, it, script) in ctx.runs() {
        let line = it.line;
        let mut codes = Vec::new();
        for c in &script.commands {
            let n = c.name();
            if NOT_IN_CONTAINERS.contains(&n) {
                codes.push("DL3001");
            }
            if n == "cd" {
                codes.push("DL3003");
            }
            if n == "sudo" {
                codes.push("DL3004");
            }
            if c.is("apt") {
                codes.push("DL3027");
            }
            if c.is("useradd") {
                let uid = c
                    .args()
                    .iter()
                    .position(|w| w.text == "-u" || w.text == "--uid")
                    .and_then(|p| c.args().get(p + 1))
                    .map(|w| w.text.clone())
                    .or_else(|| {
                        c.args()
                            .iter()
                            .find_map(|w| w.text.strip_prefix("--uid=").map(str::to_string))
                    });
                let long_uid =
                    uid.is_some_and(|u| u.len() > 5 && u.chars().all(|d| d.is_ascii_digit()));
                if long_uid && !c.has_flag(&["l", "no-log-init"]) {
                    codes.push("DL3046");
                }
            }
            if c.is("wget") {
                let quiet = c.has_flag(&[
                    "progress",
                    "q",
                    "quiet",
                    "no-verbose",
                    "output-file",
                    "o",
                    "append-output",
                    "a",
                ]) || c.has_arg("-nv");
                if !quiet {
                    codes.push("DL3047");
                }
            }
            if c.is("ln") && c.args().iter().any(|w| w.text == "/bin/sh") {
                codes.push("DL4005");
            }
        }
        codes.dedup();
        codes.sort();
        codes.dedup();
        hits.extend(codes.into_iter().map(|c| (c, line)));
    }
    for (c, l) in hits {
        ctx.hit(c, l);
    }
}

/// DL3059: two RUNs in a row, each a single command, with the same flags.
fn consecutive_runs(ctx: &mut Ctx<'_>) {
    let items = ctx.items();
    let mut hits = Vec::new();
    for i in 1..items.len() {
        let (prev, cur) = (&items[i - 1], &items[i]);
        if !(prev.is("RUN") && cur.is("RUN")) || prev.onbuild != cur.onbuild {
            continue;
        }
        if prev.node.flags != cur.node.flags {
            continue;
        }
        let simple = |j: usize| match &ctx.scripts[j] {
            Some(s) => s.top_level <= 1,
            None => items[j].node.json,
        };
        if simple(i - 1) && simple(i) {
            hits.push(cur.line);
        }
    }
    for l in hits {
        ctx.hit("DL3059", l);
    }
}

/// DL3061: only ARG (and comments) may come before the first FROM.
fn instruction_order(ctx: &mut Ctx<'_>) {
    let mut hits = Vec::new();
    for it in ctx.items() {
        if it.is("FROM") && !it.onbuild {
            break;
        }
        if !it.is("ARG") || it.onbuild {
            hits.push(it.line);
            break;
        }
    }
    for l in hits {
        ctx.hit("DL3061", l);
    }
}
