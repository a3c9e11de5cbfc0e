//! The linter's view of a Dockerfile: every instruction in file order (ONBUILD triggers
//! unwrapped and marked), typed by strata-dockerfile where the instruction validates,
//! with its stage, the SHELL in effect, and the comments between instructions.
//!
//! The model is built from the syntax tree rather than from a whole typed `Dockerfile`
//! because lint input is often a fragment (rules are specified on snippets with no FROM),
//! and one invalid instruction must not hide findings on the others.

use strata_dockerfile::syntax::{parse_syntax, Node};
use strata_dockerfile::{instruction_from_node, InstructionKind, KeyValue, ParseError};

use crate::pragma;

/// One instruction as the rules see it.
#[derive(Debug, Clone)]
pub struct Item {
    /// First and last source line (heredoc bodies included).
    pub line: usize,
    pub end_line: usize,
    pub column: usize,
    /// The effective keyword in upper case (the trigger's, for ONBUILD).
    pub keyword: String,
    /// The effective syntax node (for ONBUILD: the trigger, carrying the heredocs).
    pub node: Node,
    /// The typed instruction, when it validates.
    pub kind: Option<InstructionKind>,
    pub onbuild: bool,
    /// Index into [`Model::stages`]; `None` before the first FROM.
    pub stage: Option<usize>,
    /// SHELL in effect (`["/bin/sh", "-c"]` by default).
    pub shell: Vec<String>,
}

impl Item {
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword == keyword
    }

    /// The shell script of a shell-form RUN (or of a heredoc-only RUN), if any.
    pub fn run_script(&self) -> Option<String> {
        if self.keyword != "RUN" || self.node.json {
            return None;
        }
        let command = self.node.args.first().cloned().unwrap_or_default();
        let trimmed = command.trim();
        // `RUN <<EOF` (optionally `<<-EOF`): the heredoc is the script.
        if let Some(doc) = self.node.heredocs.first() {
            let only_heredoc = trimmed
                .trim_start_matches("<<")
                .trim_start_matches('-')
                .trim_matches(['"', '\''])
                == doc.name;
            if only_heredoc && trimmed.starts_with("<<") {
                return Some(doc.effective_content());
            }
            // Other heredocs feed a command's stdin: lint the command line itself.
            return Some(strip_heredoc_words(&command));
        }
        Some(command)
    }

    /// `--mount` values of a RUN, raw.
    pub fn mounts(&self) -> Vec<&str> {
        self.node
            .flags
            .iter()
            .filter_map(|f| f.strip_prefix("--mount="))
            .collect()
    }

    /// `(type, target)` of each RUN mount, read from the raw CSV.
    pub fn mount_targets(&self) -> Vec<(String, String)> {
        self.mounts()
            .iter()
            .map(|m| {
                let mut ty = "bind".to_string();
                let mut target = String::new();
                for field in m.split(',') {
                    let (k, v) = field.split_once('=').unwrap_or((field, ""));
                    match k.trim().to_ascii_lowercase().as_str() {
                        "type" => ty = v.trim().to_ascii_lowercase(),
                        "target" | "dst" | "destination" => {
                            target = v.trim().trim_end_matches('/').to_string()
                        }
                        _ => {}
                    }
                }
                (ty, target)
            })
            .collect()
    }

    /// True when a cache or tmpfs mount covers `dir` (exactly or as a parent).
    pub fn has_cache_mount(&self, dir: &str) -> bool {
        let dir = dir.trim_end_matches('/');
        self.mount_targets().iter().any(|(ty, target)| {
            (ty == "cache" || ty == "tmpfs")
                && (target == dir
                    || dir.starts_with(target.as_str()) && dir[target.len()..].starts_with('/'))
        })
    }

    pub fn env_pairs(&self) -> &[KeyValue] {
        match &self.kind {
            Some(InstructionKind::Env(p)) | Some(InstructionKind::Label(p)) => p,
            _ => &[],
        }
    }
}

/// `cmd <<EOF args` -> `cmd args`.
fn strip_heredoc_words(command: &str) -> String {
    command
        .split(' ')
        .filter(|w| {
            !w.trim_start_matches(|c: char| c.is_ascii_digit())
                .starts_with("<<")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One FROM and what follows it.
#[derive(Debug, Clone)]
pub struct StageInfo {
    pub index: usize,
    /// Lowercased `AS` name.
    pub name: Option<String>,
    /// The image word as written.
    pub image: String,
    pub platform: Option<String>,
    pub line: usize,
    /// The earlier stage this one builds on (`FROM base`), if any.
    pub base_stage: Option<usize>,
    /// Index of the FROM in [`Model::items`]; the stage's items follow up to `end`.
    pub from_item: usize,
    pub end: usize,
}

/// A comment line between instructions.
#[derive(Debug, Clone)]
pub struct Comment {
    pub line: usize,
    /// Text after `#`, trimmed.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub items: Vec<Item>,
    pub stages: Vec<StageInfo>,
    pub comments: Vec<Comment>,
    pub escape: char,
    /// Source lines without their newlines.
    pub lines: Vec<String>,
    /// Line numbers of parser directives (`# syntax=`, `# escape=`, `# check=`).
    pub directive_lines: Vec<usize>,
    /// Instructions that do not validate: `(line, column, the parser's message)`.
    pub invalid: Vec<(usize, usize, String)>,
}

const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

impl Model {
    pub fn parse(text: &str) -> Result<Model, ParseError> {
        let tree = parse_syntax(text)?;
        let lines: Vec<String> = text
            .strip_prefix('\u{feff}')
            .unwrap_or(text)
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        let mut covered = vec![false; lines.len() + 2];
        for n in &tree.children {
            let end = n.span.end.line.min(lines.len());
            if n.span.start.line <= end {
                covered[n.span.start.line..=end].fill(true);
            }
        }
        let comments: Vec<Comment> = lines
            .iter()
            .enumerate()
            .filter(|(i, l)| !covered[i + 1] && l.trim_start().starts_with('#'))
            .map(|(i, l)| Comment {
                line: i + 1,
                text: l.trim_start()[1..].trim().to_string(),
            })
            .collect();

        let mut items: Vec<Item> = Vec::new();
        let mut stages: Vec<StageInfo> = Vec::new();
        let mut shell: Vec<String> = DEFAULT_SHELL.iter().map(|s| s.to_string()).collect();
        let mut stage_shells: Vec<Vec<String>> = Vec::new();
        let mut pragma_shell: Option<String> = None;
        let mut next_comment = 0;
        let mut invalid = Vec::new();
        for node in &tree.children {
            // Shell pragmas above this instruction take effect from here on.
            while next_comment < comments.len()
                && comments[next_comment].line < node.span.start.line
            {
                if let Some(sh) = pragma::shell_pragma(&comments[next_comment].text) {
                    pragma_shell = Some(sh);
                }
                next_comment += 1;
            }
            let keyword = node.value.to_ascii_uppercase();
            let (effective, onbuild) = match (&node.sub, keyword.as_str()) {
                (Some(sub), "ONBUILD") => {
                    let mut sub = sub.as_ref().clone();
                    sub.heredocs = node.heredocs.clone();
                    sub.span = node.span;
                    (sub, true)
                }
                _ => (node.clone(), false),
            };
            let eff_keyword = effective.value.to_ascii_uppercase();
            let kind = match instruction_from_node(if onbuild { node } else { &effective }) {
                Ok(i) if onbuild => match i.kind {
                    InstructionKind::Onbuild(o) => Some(o.trigger.kind),
                    other => Some(other),
                },
                Ok(i) => Some(i.kind),
                Err(e) => {
                    let at = e.span.unwrap_or(node.span).start;
                    invalid.push((at.line, at.column, e.message));
                    // The rules still see the trigger when only the ONBUILD wrapper is
                    // refused (`ONBUILD FROM …` is DL3043's business).
                    instruction_from_node(&effective).ok().map(|i| i.kind)
                }
            };
            if eff_keyword == "FROM" && !onbuild {
                if let Some(last) = stages.last_mut() {
                    last.end = items.len();
                    stage_shells.push(shell.clone());
                }
                let (image, name, platform) = match &kind {
                    Some(InstructionKind::From(f)) => {
                        (f.image.clone(), f.name.clone(), f.platform.clone())
                    }
                    _ => (
                        effective.args.first().cloned().unwrap_or_default(),
                        effective.args.get(2).map(|n| n.to_ascii_lowercase()),
                        None,
                    ),
                };
                let base_stage = stages
                    .iter()
                    .position(|s| s.name.as_deref() == Some(image.to_ascii_lowercase().as_str()));
                shell = match base_stage {
                    Some(b) => stage_shells[b].clone(),
                    None => DEFAULT_SHELL.iter().map(|s| s.to_string()).collect(),
                };
                stages.push(StageInfo {
                    index: stages.len(),
                    name,
                    image,
                    platform,
                    line: node.span.start.line,
                    base_stage,
                    from_item: items.len(),
                    end: items.len(),
                });
            }
            if eff_keyword == "SHELL" && !onbuild && effective.json && !effective.args.is_empty() {
                shell = effective.args.clone();
            }
            let effective_shell = match (&pragma_shell, shell.as_slice()) {
                (Some(p), [first, ..]) if first == DEFAULT_SHELL[0] => vec![p.clone()],
                _ => shell.clone(),
            };
            items.push(Item {
                line: node.span.start.line,
                end_line: node.span.end.line,
                column: node.span.start.column,
                keyword: eff_keyword,
                node: effective,
                kind,
                onbuild,
                stage: stages.len().checked_sub(1),
                shell: effective_shell,
            });
        }
        if let Some(last) = stages.last_mut() {
            last.end = items.len();
        }
        Ok(Model {
            items,
            stages,
            comments,
            escape: tree.escape,
            lines,
            directive_lines: tree.directives.iter().map(|d| d.line).collect(),
            invalid,
        })
    }

    /// Items of stage `s`, FROM excluded.
    pub fn stage_items(&self, s: usize) -> &[Item] {
        let st = &self.stages[s];
        &self.items[st.from_item + 1..st.end]
    }

    /// The chain of stages `s` builds on, `s` first.
    pub fn lineage(&self, s: usize) -> Vec<usize> {
        let mut out = vec![s];
        let mut cur = s;
        while let Some(b) = self.stages[cur].base_stage {
            if out.contains(&b) {
                break;
            }
            out.push(b);
            cur = b;
        }
        out
    }

    /// Resolves a `--from` value (stage name or index) to a stage before `before`.
    pub fn stage_ref(&self, reference: &str, before: usize) -> Option<usize> {
        let lower = reference.to_ascii_lowercase();
        if let Ok(n) = lower.parse::<usize>() {
            return (n < before).then_some(n);
        }
        self.stages[..before.min(self.stages.len())]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// Stages that another stage builds on or copies from (`FROM s`, `COPY --from=s`,
    /// `RUN --mount=from=s`).
    pub fn referenced_stages(&self) -> Vec<bool> {
        let mut used = vec![false; self.stages.len()];
        for st in &self.stages {
            if let Some(b) = st.base_stage {
                used[b] = true;
            }
        }
        for it in &self.items {
            let Some(s) = it.stage else { continue };
            for from in item_from_refs(it) {
                if let Some(r) = self.stage_ref(&from, s) {
                    used[r] = true;
                }
            }
        }
        used
    }

    /// Every name declared by an ARG anywhere in the file.
    pub fn arg_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for it in &self.items {
            if let Some(InstructionKind::Arg(decls)) = &it.kind {
                out.extend(decls.iter().map(|d| d.name.clone()));
            }
        }
        out
    }

    /// ENV pairs set before item `idx` in its stage and the stages it builds on.
    pub fn env_before(&self, idx: usize) -> Vec<(String, String)> {
        let item = &self.items[idx];
        let mut out = Vec::new();
        let Some(s) = item.stage else {
            for it in &self.items[..idx] {
                push_env(it, &mut out);
            }
            return out;
        };
        let mut chain = self.lineage(s);
        chain.reverse();
        for st in chain {
            let start = self.stages[st].from_item + 1;
            let end = if st == s { idx } else { self.stages[st].end };
            for it in &self.items[start..end.max(start)] {
                push_env(it, &mut out);
            }
        }
        out
    }
}

fn push_env(it: &Item, out: &mut Vec<(String, String)>) {
    if it.onbuild {
        return;
    }
    if let Some(InstructionKind::Env(pairs)) = &it.kind {
        for p in pairs {
            out.push((p.key.clone(), unquote(&p.value)));
        }
    }
}

/// `--from` references of COPY and RUN mounts.
pub fn item_from_refs(it: &Item) -> Vec<String> {
    let mut out = Vec::new();
    for f in &it.node.flags {
        if let Some(v) = f.strip_prefix("--from=") {
            if it.keyword == "COPY" || it.keyword == "ADD" {
                out.push(v.to_string());
            }
        }
        if let Some(m) = f.strip_prefix("--mount=") {
            for field in m.split(',') {
                if let Some(v) = field.trim().strip_prefix("from=") {
                    out.push(v.to_string());
                }
            }
        }
    }
    out
}

/// Removes one level of surrounding quotes (`"x"`, `'x'`).
pub fn unquote(s: &str) -> String {
    let t = s.trim();
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return t[1..t.len() - 1].to_string();
        }
    }
    t.to_string()
}
