//! Validation of syntax nodes into typed instructions and stages, with BuildKit's error
//! texts (`unknown instruction: FOO`, `COPY requires at least two arguments…`) located at
//! the offending line and column.

pub mod flags;
pub mod mount;

use crate::ast::*;
use crate::error::{ErrorKind, ParseError};
use crate::span::Span;
use crate::syntax::{self, heredoc::parse_heredoc, Node};
use flags::{parse_chmod, parse_duration, parse_flags, Flags};
use mount::parse_mount;

const KEYWORDS: [&str; 18] = [
    "from",
    "run",
    "cmd",
    "label",
    "maintainer",
    "expose",
    "env",
    "add",
    "copy",
    "entrypoint",
    "volume",
    "user",
    "workdir",
    "arg",
    "onbuild",
    "stopsignal",
    "healthcheck",
    "shell",
];

/// Parses and validates a Dockerfile. `file_name` is used in error messages only.
pub fn parse(text: &str, file_name: &str) -> Result<crate::Dockerfile, ParseError> {
    let tree = syntax::parse_syntax(text).map_err(|e| e.with_source(file_name, text))?;
    build(tree, file_name, text).map_err(|e| e.with_source(file_name, text))
}

fn build(
    tree: syntax::SyntaxTree,
    file_name: &str,
    text: &str,
) -> Result<crate::Dockerfile, ParseError> {
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &tree.children {
        let inst = instruction_from_node(node)?;
        match (&inst.kind, stages.last_mut()) {
            (InstructionKind::From(from), _) => stages.push(Stage {
                index: stages.len(),
                name: from.name.clone(),
                from: from.clone(),
                span: inst.span,
                instructions: Vec::new(),
                comment: stage_comment(node, from.name.as_deref()),
            }),
            (InstructionKind::Arg(_), None) => global_args.push(inst),
            (_, None) => {
                return Err(ParseError::new(
                    ErrorKind::InvalidArgument,
                    "no build stage in current context",
                )
                .at(inst.span)
                .with_hint("only ARG and parser directives may come before the first FROM"))
            }
            (_, Some(stage)) => stage.instructions.push(inst),
        }
    }
    if stages.is_empty() {
        return Err(
            ParseError::new(ErrorKind::Empty, "dockerfile contains no stages to build")
                .at(tree.span)
                .with_hint("add a FROM instruction"),
        );
    }
    Ok(crate::Dockerfile {
        file: file_name.to_string(),
        global_args,
        stages,
        directives: tree.directives.clone(),
        escape: tree.escape,
        warnings: tree.warnings.clone(),
        syntax: tree,
        source: text.to_string(),
    })
}

/// `# base defines first stage` above `FROM x AS base` documents the stage.
fn stage_comment(node: &Node, name: Option<&str>) -> Option<String> {
    let name = name?;
    let last = node.prev_comment.last()?;
    last.strip_prefix(name)?
        .strip_prefix(' ')
        .map(str::to_string)
}

fn arg_comment(node: &Node, name: &str) -> Option<String> {
    node.prev_comment.iter().find_map(|c| {
        c.strip_prefix(name)
            .and_then(|r| r.strip_prefix(' '))
            .map(str::to_string)
    })
}

/// The span of `--name` within the instruction's first line, or the instruction's start.
fn flag_span(node: &Node, name: &str) -> Span {
    let needle = format!("--{name}");
    match node.original.trim_start().find(&needle) {
        Some(off) => {
            let col = node.span.start.column + node.original.trim_start()[..off].chars().count();
            Span::new(
                node.span.start.line,
                col,
                node.span.start.line,
                col + needle.chars().count(),
            )
        }
        None => node.span,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn err(node: &Node, message: impl Into<String>, hint: impl Into<String>) -> ParseError {
    ParseError::new(ErrorKind::InvalidArgument, message)
        .at(node.span)
        .with_hint(hint)
}

/// Validates one syntax node into a typed instruction. Public so tools that work on
/// fragments (the linter reads files without FROM) can type nodes one at a time.
pub fn instruction_from_node(node: &Node) -> Result<Instruction, ParseError> {
    let kw = node.value.to_ascii_lowercase();
    if !KEYWORDS.contains(&kw.as_str()) {
        let suggestion = KEYWORDS
            .iter()
            .find(|k| edit_distance(k, &kw) <= 2 && kw.len() > 2);
        let hint = match suggestion {
            Some(s) => format!("did you mean {}?", s.to_uppercase()),
            None => {
                "instructions are FROM, RUN, COPY, ADD, ENV, ARG, … (see the Dockerfile reference)"
                    .to_string()
            }
        };
        return Err(ParseError::new(
            ErrorKind::UnknownInstruction,
            format!("unknown instruction: {}", node.value),
        )
        .at(node.span)
        .with_hint(hint));
    }
    let flags = parse_flags(&kw, &node.flags).map_err(|e| {
        let span = node
            .flags
            .iter()
            .map(|f| f.trim_start_matches('-').split('=').next().unwrap_or(""))
            .find(|n| e.message.contains(n))
            .map_or(node.span, |n| flag_span(node, n));
        e.at(span)
    })?;
    let at_flag = |name: &'static str| move |e: ParseError| e.at(flag_span(node, name));
    let upper = kw.to_uppercase();
    let args = &node.args;
    let exactly_one = || -> Result<String, ParseError> {
        match args.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(err(
                node,
                format!("{upper} requires exactly one argument"),
                format!("write {upper} <value>"),
            )),
        }
    };
    let at_least_one = || -> Result<(), ParseError> {
        if args.is_empty() {
            Err(err(
                node,
                format!("{upper} requires at least one argument"),
                format!("{upper} needs a value"),
            ))
        } else {
            Ok(())
        }
    };
    let command = || {
        if node.json {
            CommandLine::Exec(args.clone())
        } else {
            CommandLine::Shell(args.first().cloned().unwrap_or_default())
        }
    };
    let kind = match kw.as_str() {
        "from" => InstructionKind::From(parse_from(node, &flags)?),
        "run" => {
            at_least_one()?;
            let mounts = flags
                .list("mount")
                .iter()
                .map(|m| parse_mount(m))
                .collect::<Result<Vec<_>, _>>()
                .map_err(at_flag("mount"))?;
            let network = match flags.value("network") {
                None => None,
                Some("default") => Some(NetworkMode::Default),
                Some("none") => Some(NetworkMode::None),
                Some("host") => Some(NetworkMode::Host),
                Some(other) => {
                    return Err(flags::flag_error(
                        format!("unsupported network mode {other:?}"),
                        "network",
                    )
                    .at(flag_span(node, "network")))
                }
            };
            let security = match flags.value("security") {
                None => None,
                Some("sandbox") => Some(SecurityMode::Sandbox),
                Some("insecure") => Some(SecurityMode::Insecure),
                Some(other) => {
                    return Err(flags::flag_error(
                        format!("unsupported security mode {other:?}"),
                        "security",
                    )
                    .at(flag_span(node, "security")))
                }
            };
            InstructionKind::Run(RunSpec {
                command: command(),
                mounts,
                network,
                security,
                heredocs: node.heredocs.clone(),
            })
        }
        "cmd" => InstructionKind::Cmd(command()),
        "entrypoint" => InstructionKind::Entrypoint(command()),
        "label" | "env" => {
            at_least_one()?;
            if !args.len().is_multiple_of(3) {
                return Err(err(
                    node,
                    format!("Bad input to {upper}, too many arguments"),
                    "write name=value pairs",
                ));
            }
            let mut pairs = Vec::new();
            for triple in args.chunks(3) {
                if triple[0].is_empty() {
                    return Err(err(
                        node,
                        format!("{upper} names can not be blank"),
                        "write name=value",
                    ));
                }
                pairs.push(KeyValue {
                    key: triple[0].clone(),
                    value: triple[1].clone(),
                });
            }
            if kw == "env" {
                InstructionKind::Env(pairs)
            } else {
                InstructionKind::Label(pairs)
            }
        }
        "maintainer" => InstructionKind::Maintainer(exactly_one()?),
        "user" => InstructionKind::User(exactly_one()?),
        "workdir" => InstructionKind::Workdir(exactly_one()?),
        "stopsignal" => InstructionKind::StopSignal(exactly_one()?),
        "expose" => {
            at_least_one()?;
            InstructionKind::Expose(args.clone())
        }
        "volume" => {
            at_least_one()?;
            if args.iter().any(|v| v.trim().is_empty()) {
                return Err(err(
                    node,
                    "VOLUME specified can not be an empty string",
                    "name a path, e.g. VOLUME /data",
                ));
            }
            InstructionKind::Volume(args.clone())
        }
        "add" | "copy" => parse_copy_like(node, &kw, &flags)?,
        "arg" => {
            at_least_one()?;
            let mut decls = Vec::new();
            for word in args {
                let (name, default) = match word.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (word.clone(), None),
                };
                if name.is_empty() {
                    return Err(err(
                        node,
                        "ARG names can not be blank",
                        "write ARG name[=default]",
                    ));
                }
                let comment = arg_comment(node, &name);
                decls.push(ArgDecl {
                    name,
                    default,
                    comment,
                });
            }
            InstructionKind::Arg(decls)
        }
        "onbuild" => {
            let Some(sub) = &node.sub else {
                return Err(err(
                    node,
                    "ONBUILD requires at least one argument",
                    "write ONBUILD <instruction>",
                ));
            };
            let sub_kw = sub.value.to_ascii_uppercase();
            match sub_kw.as_str() {
                "ONBUILD" => {
                    return Err(err(
                        node,
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                        "use a single ONBUILD",
                    ))
                }
                "FROM" | "MAINTAINER" => {
                    return Err(err(
                        node,
                        format!("{sub_kw} isn't allowed as an ONBUILD trigger"),
                        "triggers run inside a stage",
                    ))
                }
                _ => {}
            }
            // Heredoc bodies were read for the ONBUILD line; they belong to its trigger.
            let mut sub = sub.as_ref().clone();
            sub.heredocs = node.heredocs.clone();
            let trigger = instruction_from_node(&sub)?;
            let trimmed = node.original.trim();
            let expression = syntax_rest(trimmed);
            InstructionKind::Onbuild(Onbuild {
                trigger: Box::new(trigger),
                expression,
            })
        }
        "healthcheck" => parse_healthcheck(node, &flags)?,
        "shell" => {
            if !node.json {
                return Err(err(
                    node,
                    "SHELL requires the arguments to be in JSON form",
                    "write SHELL [\"/bin/sh\", \"-c\"]",
                ));
            }
            at_least_one()?;
            InstructionKind::Shell(args.clone())
        }
        _ => unreachable!("keyword checked against KEYWORDS"),
    };
    Ok(Instruction {
        kind,
        span: node.span,
        original: node.original.clone(),
    })
}

/// The text after the keyword.
fn syntax_rest(line: &str) -> String {
    match line.find(char::is_whitespace) {
        Some(i) => line[i..].trim().to_string(),
        None => String::new(),
    }
}

fn parse_from(node: &Node, flags: &Flags) -> Result<FromSpec, ParseError> {
    let args = &node.args;
    let (image, name) = match args.as_slice() {
        [image] => (image.clone(), None),
        [image, kw_as, name] if kw_as.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && name.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
                });
            if !valid {
                return Err(err(
                    node,
                    format!("invalid name for build stage: {name:?}, name can't start with a number or contain symbols"),
                    "stage names match [a-z][a-z0-9-_.]*",
                ));
            }
            (image.clone(), Some(name))
        }
        _ => {
            return Err(err(
                node,
                "FROM requires either one or three arguments",
                "write FROM <image> [AS <name>]",
            ));
        }
    };
    Ok(FromSpec {
        image,
        name,
        platform: match flags.value("platform") {
            // Checked now when literal; values with variables are checked after expansion.
            Some(p) if !p.contains('$') => {
                crate::scope::Platform::parse(p).map_err(|e| e.at(flag_span(node, "platform")))?;
                Some(p.to_string())
            }
            other => other.map(str::to_string),
        },
    })
}

fn parse_copy_like(node: &Node, kw: &str, flags: &Flags) -> Result<InstructionKind, ParseError> {
    let upper = kw.to_uppercase();
    let args = &node.args;
    if args.len() < 2 {
        return Err(err(
            node,
            format!("{upper} requires at least two arguments, but only one was provided. Destination could not be determined"),
            format!("write {upper} <src>... <dest>"),
        ));
    }
    let dest = args[args.len() - 1].clone();
    let is_heredoc = |w: &str| !node.json && matches!(parse_heredoc(w), Ok(Some(_)));
    if is_heredoc(&dest) {
        return Err(err(
            node,
            format!("{upper} cannot accept a heredoc as a destination"),
            "the last argument must be a path",
        ));
    }
    let mut sources = Vec::new();
    for src in &args[..args.len() - 1] {
        let doc = if node.json {
            None
        } else {
            parse_heredoc(src).ok().flatten()
        };
        match doc.and_then(|d| node.heredocs.iter().find(|h| h.name == d.name)) {
            Some(h) => sources.push(Source::Heredoc {
                name: h.name.clone(),
                content: h.effective_content(),
                expand: h.expand,
            }),
            None => sources.push(Source::Path(src.clone())),
        }
    }
    let chmod = flags
        .value("chmod")
        .map(parse_chmod)
        .transpose()
        .map_err(|e| e.at(flag_span(node, "chmod")))?;
    if let Some(chown) = flags.value("chown") {
        if chown.is_empty() || chown.starts_with(':') || chown.matches(':').count() > 1 {
            return Err(
                flags::flag_error(format!("invalid chown parameter: {chown:?}"), "chown")
                    .at(flag_span(node, "chown"))
                    .with_hint("write --chown=user[:group] with names or numeric ids"),
            );
        }
    }
    let copy_flags = CopyFlags {
        chown: flags.value("chown").map(str::to_string),
        chmod,
        link: flags.bool("link").unwrap_or(false),
        exclude: flags.list("exclude").to_vec(),
    };
    if kw == "copy" {
        if flags.value("from") == Some("") {
            return Err(flags::flag_error(
                "--from needs a stage name, index or image".into(),
                "from",
            )
            .at(flag_span(node, "from")));
        }
        Ok(InstructionKind::Copy(CopySpec {
            sources,
            dest,
            from: flags.value("from").map(str::to_string),
            parents: flags.bool("parents").unwrap_or(false),
            flags: copy_flags,
        }))
    } else {
        if let Some(sum) = flags.value("checksum") {
            let valid = match sum.split_once(':') {
                Some((alg, hex)) => {
                    matches!(alg, "sha256" | "sha384" | "sha512")
                        && !hex.is_empty()
                        && hex.chars().all(|c| c.is_ascii_hexdigit())
                }
                None => !sum.is_empty() && sum.chars().all(|c| c.is_ascii_hexdigit()),
            };
            if !valid && !sum.contains('$') {
                return Err(flags::flag_error(
                    format!("invalid checksum digest format: {sum:?}"),
                    "checksum",
                )
                .at(flag_span(node, "checksum"))
                .with_hint(
                    "write --checksum=sha256:<hex> (or a git commit hash for git sources)",
                ));
            }
        }
        Ok(InstructionKind::Add(AddSpec {
            sources,
            dest,
            checksum: flags.value("checksum").map(str::to_string),
            keep_git_dir: flags.bool("keep-git-dir"),
            unpack: flags.bool("unpack"),
            flags: copy_flags,
        }))
    }
}

fn parse_healthcheck(node: &Node, flags: &Flags) -> Result<InstructionKind, ParseError> {
    let args = &node.args;
    let Some(typ) = args.first() else {
        return Err(err(
            node,
            "HEALTHCHECK requires at least one argument",
            "write HEALTHCHECK CMD <command> or HEALTHCHECK NONE",
        ));
    };
    match typ.to_ascii_uppercase().as_str() {
        "NONE" => {
            if args.len() > 1 || !flags.used.is_empty() {
                return Err(err(
                    node,
                    "HEALTHCHECK NONE takes no arguments",
                    "remove everything after NONE",
                ));
            }
            Ok(InstructionKind::Healthcheck(Healthcheck::None))
        }
        "CMD" => {
            if args.len() < 2 {
                return Err(err(
                    node,
                    "Missing command after HEALTHCHECK CMD",
                    "write HEALTHCHECK CMD <command>",
                ));
            }
            let test = if node.json {
                std::iter::once("CMD".to_string())
                    .chain(args[1..].iter().cloned())
                    .collect()
            } else {
                vec!["CMD-SHELL".to_string(), args[1].clone()]
            };
            let duration = |name: &'static str| -> Result<Option<u64>, ParseError> {
                let Some(v) = flags.value(name) else {
                    return Ok(None);
                };
                let ns = parse_duration(v).ok_or_else(|| {
                    flags::flag_error(format!("time: invalid duration {v:?}"), name)
                        .at(flag_span(node, name))
                })?;
                if ns != 0 && ns < 1_000_000 {
                    return Err(flags::flag_error(
                        format!("Interval {name:?} cannot be less than 1ms"),
                        name,
                    )
                    .at(flag_span(node, name)));
                }
                Ok(Some(ns))
            };
            let retries = match flags.value("retries") {
                None => None,
                Some(v) => {
                    let n: i64 = v.parse().map_err(|_| {
                        flags::flag_error(format!("invalid value for --retries: {v:?}"), "retries")
                            .at(flag_span(node, "retries"))
                    })?;
                    if n < 0 {
                        return Err(flags::flag_error(
                            format!("--retries cannot be negative ({n})"),
                            "retries",
                        )
                        .at(flag_span(node, "retries")));
                    }
                    Some(u32::try_from(n).unwrap_or(u32::MAX))
                }
            };
            Ok(InstructionKind::Healthcheck(Healthcheck::Cmd(
                HealthConfig {
                    test,
                    interval: duration("interval")?,
                    timeout: duration("timeout")?,
                    start_period: duration("start-period")?,
                    start_interval: duration("start-interval")?,
                    retries,
                },
            )))
        }
        _ => Err(err(
            node,
            format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)"),
            "HEALTHCHECK takes CMD or NONE",
        )),
    }
}
