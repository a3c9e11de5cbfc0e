//! BuildKit's build checks (docs.docker.com/reference/build-checks), with BuildKit's rule
//! names and messages, for `strata build` (every build) and `strata build --check`.
//!
//! The `# check=skip=<rules|all>;error=<bool>` directive (or the
//! `BUILDKIT_DOCKERFILE_CHECK` build arg) selects rules and makes violations fail the build.
//! `InvalidBaseImagePlatform` needs the pulled base image: callers that know base image
//! platforms pass them in [`CheckOptions::base_platforms`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use strata_dockerfile::dockerignore::Matcher;
use strata_dockerfile::shell::Lexer;
use strata_dockerfile::syntax::CheckDirective;
use strata_dockerfile::{InstructionKind, ParseError};

use crate::model::{unquote, Item, Model};
use crate::rules::instructions_public::{is_sensitive_name, var_refs};

/// Every build check, in the order BuildKit's reference lists them.
pub const CHECKS: [&str; 19] = [
    "StageNameCasing",
    "FromAsCasing",
    "NoEmptyContinuation",
    "ConsistentInstructionCasing",
    "DuplicateStageName",
    "ReservedStageName",
    "JSONArgsRecommended",
    "MaintainerDeprecated",
    "UndefinedArgInFrom",
    "WorkdirRelativePath",
    "UndefinedVar",
    "MultipleInstructionsDisallowed",
    "LegacyKeyValueFormat",
    "InvalidBaseImagePlatform",
    "RedundantTargetPlatform",
    "SecretsUsedInArgOrEnv",
    "InvalidDefaultArgInFrom",
    "FromPlatformFlagConstDisallowed",
    "CopyIgnoredFile",
];

/// One violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub rule: &'static str,
    pub message: String,
    pub line: usize,
    pub end_line: usize,
}

impl Warning {
    /// BuildKit's documentation page for the rule.
    pub fn url(&self) -> String {
        // CamelCase to kebab-case, keeping acronyms whole: JSONArgs -> json-args.
        let chars: Vec<char> = self.rule.chars().collect();
        let mut slug = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = c.is_uppercase()
                && (prev.is_some_and(|p| p.is_lowercase())
                    || prev.is_some_and(|p| p.is_uppercase())
                        && next.is_some_and(|n| n.is_lowercase()));
            if boundary {
                slug.push('-');
            }
            slug.push(c.to_ascii_lowercase());
        }
        format!("https://docs.docker.com/go/dockerfile/rule/{slug}/")
    }
}

/// What the checks may know besides the Dockerfile.
#[derive(Default)]
pub struct CheckOptions<'a> {
    pub build_args: BTreeMap<String, String>,
    /// The `.dockerignore` in effect, for CopyIgnoredFile.
    pub ignore: Option<&'a Matcher>,
    /// `(image as written in FROM, its platform, the platform the build expected)` for
    /// base images whose platform differs (InvalidBaseImagePlatform).
    pub base_platforms: Vec<(String, String, String)>,
}

/// The checks' outcome: warnings after `skip`, and whether they fail the build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub warnings: Vec<Warning>,
    /// `# check=error=true`: violations are errors.
    pub error: bool,
}

/// Variables every build defines (BuildKit's automatic platform args and proxies).
const PREDEFINED_ARGS: [&str; 18] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "BUILDKIT_SYNTAX",
];

/// Environment that base images nearly always carry; without the image the linter
/// assumes these are set, so `ENV PATH=$PATH:/x` is not an undefined variable.
const COMMON_IMAGE_ENV: [&str; 6] = ["PATH", "HOME", "HOSTNAME", "TERM", "LANG", "USER"];

/// Runs the build checks on Dockerfile `text`.
pub fn check(text: &str, opts: &CheckOptions<'_>) -> Result<Report, ParseError> {
    let model = Model::parse(text)?;
    let tree = strata_dockerfile::syntax::parse_syntax(text)?;
    let directive = match opts.build_args.get("BUILDKIT_DOCKERFILE_CHECK") {
        Some(v) => Some(CheckDirective::parse(v, 0)?),
        None => tree.check_directive()?,
    }
    .unwrap_or_default();
    let mut w = Vec::new();
    casing(&model, &mut w);
    for warn in &tree.warnings {
        w.push(warning(
            "NoEmptyContinuation",
            "Empty continuation line".into(),
            warn.span.start.line,
            warn.span.end.line,
        ));
    }
    stages(&model, &mut w);
    instructions(&model, &mut w);
    from_args(&model, &mut w);
    undefined_vars(&model, &mut w);
    if let Some(m) = opts.ignore {
        ignored_copies(&model, m, &mut w);
    }
    for (image, got, want) in &opts.base_platforms {
        if let Some(st) = model.stages.iter().find(|s| &s.image == image) {
            w.push(warning(
                "InvalidBaseImagePlatform",
                format!("Base image {image} was pulled with platform \"{got}\", expected \"{want}\" for current build"),
                st.line,
                st.line,
            ));
        }
    }
    w.retain(|x| {
        !directive.skip_all
            && !directive
                .skip
                .iter()
                .any(|s| s.eq_ignore_ascii_case(x.rule))
    });
    w.sort_by_key(|x| (x.line, x.rule));
    w.dedup();
    Ok(Report {
        warnings: w,
        error: directive.error,
    })
}

fn warning(rule: &'static str, message: String, line: usize, end_line: usize) -> Warning {
    Warning {
        rule,
        message,
        line,
        end_line,
    }
}

fn casing(model: &Model, w: &mut Vec<Warning>) {
    let keywords: Vec<(&Item, &str)> = model
        .items
        .iter()
        .map(|it| (it, it.node.value.as_str()))
        .collect();
    let upper = keywords
        .iter()
        .filter(|(_, k)| k.chars().all(|c| !c.is_lowercase()))
        .count();
    let lower = keywords
        .iter()
        .filter(|(_, k)| k.chars().all(|c| !c.is_uppercase()))
        .count();
    let majority_upper = upper >= lower;
    for (it, kw) in &keywords {
        let ok = if majority_upper {
            kw.chars().all(|c| !c.is_lowercase())
        } else {
            kw.chars().all(|c| !c.is_uppercase())
        };
        if !ok {
            let case = if majority_upper {
                "uppercase"
            } else {
                "lowercase"
            };
            w.push(warning(
                "ConsistentInstructionCasing",
                format!("Command '{kw}' should match the case of the command majority ({case})"),
                it.line,
                it.end_line,
            ));
        }
    }
    for st in &model.stages {
        let it = &model.items[st.from_item];
        if let Some(kw_as) = it.node.args.get(1) {
            let from_upper = it.node.value.chars().all(|c| !c.is_lowercase());
            let as_upper = kw_as.chars().all(|c| !c.is_lowercase());
            if from_upper != as_upper {
                let (a, f) = if from_upper {
                    ("as", "FROM")
                } else {
                    ("AS", "from")
                };
                w.push(warning(
                    "FromAsCasing",
                    format!("'{a}' and '{f}' keywords' casing do not match"),
                    it.line,
                    it.end_line,
                ));
            }
        }
    }
}

fn stages(model: &Model, w: &mut Vec<Warning>) {
    let mut seen = BTreeSet::new();
    for st in &model.stages {
        let it = &model.items[st.from_item];
        let Some(written) = it.node.args.get(2) else {
            continue;
        };
        if written.chars().any(|c| c.is_uppercase()) {
            w.push(warning(
                "StageNameCasing",
                format!("Stage name '{written}' should be lowercase"),
                st.line,
                st.line,
            ));
        }
        let lower = written.to_ascii_lowercase();
        if matches!(lower.as_str(), "scratch" | "context") {
            w.push(warning(
                "ReservedStageName",
                format!("'{lower}' is reserved and should not be used as a stage name"),
                st.line,
                st.line,
            ));
        }
        if !seen.insert(lower.clone()) {
            w.push(warning(
                "DuplicateStageName",
                format!("Duplicate stage name '{lower}', stage names should be unique"),
                st.line,
                st.line,
            ));
        }
        if let Some(p) = it
            .node
            .flags
            .iter()
            .find_map(|f| f.strip_prefix("--platform="))
        {
            let p = unquote(p);
            if p == "$TARGETPLATFORM" || p == "${TARGETPLATFORM}" {
                w.push(warning("RedundantTargetPlatform", "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior".into(), st.line, st.line));
            } else if !p.contains('$') {
                w.push(warning(
                    "FromPlatformFlagConstDisallowed",
                    format!("FROM --platform flag should not use constant value \"{p}\""),
                    st.line,
                    st.line,
                ));
            }
        }
    }
}

fn instructions(model: &Model, w: &mut Vec<Warning>) {
    let mut counts: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    let mut relative_ok: BTreeMap<usize, bool> = BTreeMap::new();
    for it in &model.items {
        let (line, end) = (it.line, it.end_line);
        match it.keyword.as_str() {
            "MAINTAINER" => w.push(warning(
                "MaintainerDeprecated",
                "Maintainer instruction is deprecated in favor of using label".into(),
                line,
                end,
            )),
            "CMD" | "ENTRYPOINT" if !it.node.json && !it.onbuild => {
                let custom_shell = it
                    .stage
                    .is_some_and(|s| model.stage_items(s).iter().any(|o| o.is("SHELL")));
                if !custom_shell {
                    w.push(warning("JSONArgsRecommended", format!("JSON arguments recommended for {} to prevent unintended behavior related to OS signals", it.keyword), line, end));
                }
            }
            "ENV" | "LABEL" => {
                // Legacy `ENV key value`: the whole instruction is one pair and its
                // original text has no `=` right after the key.
                let rest = it.node.original.trim_start()[it.node.value.len()..].trim_start();
                let key = rest.split_whitespace().next().unwrap_or("");
                if !rest.is_empty() && !key.contains('=') {
                    w.push(warning("LegacyKeyValueFormat", format!("\"{} key=value\" should be used instead of legacy \"{} key value\" format", it.keyword, it.keyword), line, end));
                }
                if it.is("ENV") {
                    for kv in it.env_pairs() {
                        if is_sensitive_name(&kv.key) {
                            w.push(warning("SecretsUsedInArgOrEnv", format!("Do not use ARG or ENV instructions for sensitive data (ENV \"{}\")", kv.key), line, end));
                        }
                    }
                }
            }
            "ARG" => {
                if let Some(InstructionKind::Arg(decls)) = &it.kind {
                    for d in decls.iter().filter(|d| is_sensitive_name(&d.name)) {
                        w.push(warning("SecretsUsedInArgOrEnv", format!("Do not use ARG or ENV instructions for sensitive data (ARG \"{}\")", d.name), line, end));
                    }
                }
            }
            "WORKDIR" => {
                if let (Some(s), Some(dir)) = (it.stage, it.node.args.first()) {
                    let dir = unquote(dir);
                    let absolute = dir.starts_with('/')
                        || dir.starts_with('$')
                        || dir.as_bytes().get(1) == Some(&b':');
                    let ok = relative_ok.entry(s).or_insert(false);
                    if absolute {
                        *ok = true;
                    } else if !*ok {
                        w.push(warning("WorkdirRelativePath", format!("Relative workdir \"{dir}\" can have unexpected results if the base image changes"), line, end));
                    }
                }
            }
            _ => {}
        }
        if let (Some(s), false) = (it.stage, it.onbuild) {
            if matches!(it.keyword.as_str(), "CMD" | "ENTRYPOINT" | "HEALTHCHECK") {
                let n = counts.entry((s, it.keyword.as_str())).or_default();
                *n += 1;
                if *n == 2 {
                    let first = model
                        .stage_items(s)
                        .iter()
                        .find(|o| o.keyword == it.keyword && !o.onbuild);
                    let l = first.map_or(line, |f| f.line);
                    w.push(warning("MultipleInstructionsDisallowed", format!("Multiple {} instructions should not be used in the same stage because only the last one will be used", it.keyword), l, l));
                }
            }
        }
    }
}

/// Global ARGs (before the first FROM) with their defaults.
fn global_args(model: &Model) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for it in model.items.iter().take_while(|it| it.stage.is_none()) {
        if let Some(InstructionKind::Arg(decls)) = &it.kind {
            for d in decls {
                out.insert(d.name.clone(), d.default.clone());
            }
        }
    }
    out
}

fn from_args(model: &Model, w: &mut Vec<Warning>) {
    let globals = global_args(model);
    for st in &model.stages {
        let it = &model.items[st.from_item];
        let mut words = vec![st.image.clone()];
        words.extend(st.platform.clone());
        for word in &words {
            for v in var_refs(word) {
                if !globals.contains_key(&v) && !PREDEFINED_ARGS.contains(&v.as_str()) {
                    w.push(warning(
                        "UndefinedArgInFrom",
                        format!("FROM argument '{v}' is not declared"),
                        st.line,
                        st.line,
                    ));
                }
            }
        }
        if st.image.contains('$') {
            let env: BTreeMap<String, String> = globals
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect();
            let expanded = Lexer::new(model.escape)
                .process_word(&st.image, &env)
                .map(|e| e.value)
                .unwrap_or_default();
            let is_stage = model.stages[..st.index]
                .iter()
                .any(|s| s.name.as_deref() == Some(expanded.to_ascii_lowercase().as_str()));
            let valid = expanded == "scratch"
                || is_stage
                || strata_oci::Reference::parse(&expanded).is_ok();
            if !valid {
                let args: Vec<String> = var_refs(&st.image)
                    .into_iter()
                    .filter(|v| globals.contains_key(v))
                    .collect();
                w.push(warning(
                    "InvalidDefaultArgInFrom",
                    format!(
                        "Default value for ARG {} results in empty or invalid base image name",
                        args.iter()
                            .map(|a| format!("${{{a}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    it.line,
                    it.line,
                ));
            }
        }
    }
}

fn undefined_vars(model: &Model, w: &mut Vec<Warning>) {
    let globals = global_args(model);
    for (idx, it) in model.items.iter().enumerate() {
        let Some(s) = it.stage else { continue };
        if it.onbuild
            || matches!(
                it.keyword.as_str(),
                "RUN" | "FROM" | "CMD" | "ENTRYPOINT" | "HEALTHCHECK" | "SHELL" | "ONBUILD"
            )
        {
            continue;
        }
        // Names in scope: stage ARGs (re-declared globals included), ENV of the stage and
        // its bases, the predefined args.
        let mut scope: BTreeSet<String> = PREDEFINED_ARGS
            .iter()
            .chain(COMMON_IMAGE_ENV.iter())
            .map(|s| s.to_string())
            .collect();
        let mut chain = model.lineage(s);
        chain.reverse();
        for st in chain {
            let start = model.stages[st].from_item + 1;
            let end = if st == s { idx } else { model.stages[st].end };
            for o in &model.items[start..end.max(start)] {
                match &o.kind {
                    Some(InstructionKind::Arg(d)) => scope.extend(d.iter().map(|d| d.name.clone())),
                    Some(InstructionKind::Env(p)) => scope.extend(p.iter().map(|p| p.key.clone())),
                    _ => {}
                }
            }
        }
        let mut words: Vec<String> = it.node.args.clone();
        words.extend(it.node.flags.iter().cloned());
        // ARG defaults may refer to earlier names only.
        if let Some(InstructionKind::Arg(decls)) = &it.kind {
            words = decls.iter().filter_map(|d| d.default.clone()).collect();
        }
        let mut reported = BTreeSet::new();
        for word in &words {
            if word.starts_with('\'') {
                continue;
            }
            for v in var_refs(word) {
                let defined = scope.contains(&v) || (it.is("ARG") && globals.contains_key(&v));
                if !defined && reported.insert(v.clone()) {
                    w.push(warning(
                        "UndefinedVar",
                        format!("Usage of undefined variable '${v}'"),
                        it.line,
                        it.end_line,
                    ));
                }
            }
        }
    }
}

fn ignored_copies(model: &Model, matcher: &Matcher, w: &mut Vec<Warning>) {
    for it in &model.items {
        if !(it.is("COPY") || it.is("ADD"))
            || it.node.flags.iter().any(|f| f.starts_with("--from="))
        {
            continue;
        }
        let args = &it.node.args;
        let Some((_, sources)) = args.split_last() else {
            continue;
        };
        for src in sources {
            let s = unquote(src);
            if s.contains("://") || s.starts_with("<<") || s.contains('$') {
                continue;
            }
            let clean = s
                .trim_start_matches("./")
                .trim_start_matches('/')
                .trim_end_matches('/');
            if !clean.is_empty() && !clean.contains(['*', '?', '[']) && matcher.matches(clean) {
                w.push(warning(
                    "CopyIgnoredFile",
                    format!("Attempting to Copy file \"{s}\" that is excluded by .dockerignore"),
                    it.line,
                    it.end_line,
                ));
            }
        }
    }
}

/// BuildKit's summary after a build: `N warnings found (…):` and one line per warning,
/// then each warning with its documentation link and source snippet.
pub fn render(report: &Report, file: &str, source: &str) -> String {
    let n = report.warnings.len();
    if n == 0 {
        return String::new();
    }
    let lines: Vec<&str> = source.split('\n').collect();
    let mut out = String::new();
    let _ = writeln!(out, " {n} warning{} found:", if n == 1 { "" } else { "s" });
    for x in &report.warnings {
        let _ = writeln!(out, " - {}: {} (line {})", x.rule, x.message, x.line);
    }
    for x in &report.warnings {
        let _ = writeln!(out, "\nWARNING: {} - {}\n{}", x.rule, x.url(), x.message);
        let _ = writeln!(out, "{file}:{}\n--------------------", x.line);
        let from = x.line.saturating_sub(2).max(1);
        for l in from..=x.end_line.min(lines.len()) {
            let mark = if l >= x.line && l <= x.end_line {
                ">>>"
            } else {
                "   "
            };
            let text = lines.get(l - 1).map_or("", |t| t.trim_end_matches('\r'));
            let _ = writeln!(out, " {l:>3} | {mark} {text}");
        }
        out.push_str("--------------------\n");
    }
    out
}

/// The error BuildKit gives when `# check=error=true` and a check failed.
pub fn violation_error(report: &Report) -> Option<String> {
    if !report.error || report.warnings.is_empty() {
        return None;
    }
    let mut rules: Vec<&str> = report.warnings.iter().map(|w| w.rule).collect();
    rules.sort();
    rules.dedup();
    Some(format!(
        "lint violation found for rules: {}",
        rules.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(&'static str, usize)> {
        check(text, &CheckOptions::default())
            .unwrap()
            .warnings
            .iter()
            .map(|w| (w.rule, w.line))
            .collect()
    }

    #[test]
    fn every_rule_fires_where_buildkit_fires() {
        let text = "ARG TOKEN\nFROM alpine:3.19 as Builder\nmaintainer me\nENV A b\nWORKDIR app\nCMD echo hi\nCMD echo again\nFROM --platform=linux/amd64 ${MISSING}base AS scratch\nFROM --platform=$TARGETPLATFORM alpine:3.19 AS builder\nCOPY $NOPE /x\n";
        let got = rules(text);
        for want in [
            ("SecretsUsedInArgOrEnv", 1),
            ("FromAsCasing", 2),
            ("StageNameCasing", 2),
            ("MaintainerDeprecated", 3),
            ("ConsistentInstructionCasing", 3),
            ("LegacyKeyValueFormat", 4),
            ("WorkdirRelativePath", 5),
            ("JSONArgsRecommended", 6),
            ("MultipleInstructionsDisallowed", 6),
            ("FromPlatformFlagConstDisallowed", 8),
            ("UndefinedArgInFrom", 8),
            ("ReservedStageName", 8),
            ("RedundantTargetPlatform", 9),
            ("DuplicateStageName", 9),
            ("UndefinedVar", 10),
        ] {
            assert!(got.contains(&want), "{want:?} missing from {got:?}");
        }
        assert!(rules("ARG IMG=\nFROM ${IMG}\n").contains(&("InvalidDefaultArgInFrom", 2)));
        assert!(rules("FROM alpine\nRUN echo \\\n\n  hi\n")
            .iter()
            .any(|(r, _)| *r == "NoEmptyContinuation"));
        assert!(rules("FROM alpine:3.19\nENV PATH=/x:$PATH\nARG V=1\nLABEL v=$V\n").is_empty());
    }

    #[test]
    fn directive_skips_and_errors() {
        let text =
            "# check=skip=JSONArgsRecommended;error=true\nFROM alpine:3.19 as b\nCMD echo hi\n";
        let r = check(text, &CheckOptions::default()).unwrap();
        assert_eq!(
            r.warnings.iter().map(|w| w.rule).collect::<Vec<_>>(),
            ["FromAsCasing"]
        );
        assert_eq!(
            violation_error(&r).unwrap(),
            "lint violation found for rules: FromAsCasing"
        );
        let text = "# check=skip=all\nFROM alpine:3.19 as b\n";
        assert!(check(text, &CheckOptions::default())
            .unwrap()
            .warnings
            .is_empty());
        let out = render(
            &check("FROM alpine:3.19 as b\n", &CheckOptions::default()).unwrap(),
            "Dockerfile",
            "FROM alpine:3.19 as b\n",
        );
        assert!(out.starts_with(" 1 warning found:\n - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)\n"), "{out}");
        assert!(out.contains("https://docs.docker.com/go/dockerfile/rule/from-as-casing/"));
        let w = warning("JSONArgsRecommended", String::new(), 1, 1);
        assert_eq!(
            w.url(),
            "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"
        );
        assert!(out.contains("   1 | >>> FROM alpine:3.19 as b"), "{out}");
    }

    #[test]
    fn copy_of_an_ignored_file() {
        let m = Matcher::new(&["secret.txt", "build/"]).unwrap();
        let opts = CheckOptions {
            ignore: Some(&m),
            ..CheckOptions::default()
        };
        let r = check("FROM alpine:3.19\nCOPY secret.txt ok.txt /app/\n", &opts).unwrap();
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].rule, "CopyIgnoredFile");
    }
}
