//! BuildKit parser cases extracted from its Go tests (see
//! peer-cases/buildkit-parser-extra/README.md): line numbers, heredoc extraction,
//! directives, warnings, and instruction-level errors with BuildKit's message text.

use std::path::PathBuf;

use strata_dockerfile::syntax::parse_syntax;
use strata_dockerfile::{parse, CommandLine, Healthcheck, InstructionKind, Source};

fn extra(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer-cases/buildkit-parser-extra")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn line_numbers() {
    let tree = parse_syntax(&extra("testfile-line.Dockerfile")).unwrap();
    assert_eq!((tree.span.start.line, tree.span.end.line), (5, 31));
    let lines: Vec<(usize, usize)> = tree
        .children
        .iter()
        .map(|c| (c.span.start.line, c.span.end.line))
        .collect();
    assert_eq!(lines, [(5, 5), (11, 12), (17, 31)]);
}

#[test]
fn heredoc_extraction() {
    let tree = parse_syntax(&extra("heredoc-extract.Dockerfile")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&extra("heredoc-extract.expected.json")).unwrap();
    let cases = expected["expected_per_instruction_after_FROM"]
        .as_array()
        .unwrap();
    assert_eq!(tree.children.len(), cases.len() + 1);
    let mut passed = 0;
    for (i, case) in cases.iter().enumerate() {
        let node = &tree.children[i + 1];
        let want: Vec<(String, String, bool, bool, u64)> = case["heredocs"]
            .as_array()
            .map(|docs| {
                docs.iter()
                    .map(|d| {
                        (
                            d["Name"].as_str().unwrap().to_string(),
                            d["Content"].as_str().unwrap().to_string(),
                            d["Expand"].as_bool().unwrap(),
                            d["Chomp"].as_bool().unwrap_or(false),
                            d["FileDescriptor"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let got: Vec<(String, String, bool, bool, u64)> = node
            .heredocs
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    h.content.clone(),
                    h.expand,
                    h.chomp,
                    u64::from(h.file_descriptor),
                )
            })
            .collect();
        assert_eq!(got, want, "case {i}: {}", case["comment"]);
        passed += 1;
    }
    println!("heredoc extraction: {passed}/{} passed", cases.len());
}

#[test]
fn json_heredocs_are_not_heredocs() {
    for text in [
        "FROM a\nRUN [\"whoami\"]\n",
        "FROM a\nRUN [\"<<EOF\"]\n",
        "FROM a\nRUN [\"<<'EOF'\"]\n",
    ] {
        let tree = parse_syntax(text).unwrap();
        assert!(tree.children[1].heredocs.is_empty(), "{text}");
    }
}

#[test]
fn empty_continuation_warnings() {
    let text = "FROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n    following \\\n\n    more\n\nRUN another \\\n\n    thing\n\nRUN non-indented \\\n# this is a comment\n   after-comment\n\nRUN indented \\\n    # this is an indented comment\n    comment\n";
    let tree = parse_syntax(text).unwrap();
    let msgs: Vec<&str> = tree.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "Empty continuation line found in: RUN something     following     more",
            "Empty continuation line found in: RUN another     thing"
        ]
    );
    assert_eq!(tree.children.len(), 6);
}

#[test]
fn overlong_line_is_refused() {
    let text = format!("FROM a\nLABEL test={}\n", "a".repeat(65536));
    let e = parse_syntax(&text).unwrap_err();
    assert_eq!(
        e.message,
        "dockerfile line greater than max allowed size of 65535"
    );
    assert_eq!(e.position().unwrap().line, 2);
}

#[test]
fn directives() {
    let tree = parse_syntax("#escape=\\\n# key = FOO bar\nFROM a\n").unwrap();
    assert_eq!(tree.directives.len(), 1);
    assert_eq!(tree.directive("escape"), Some("\\"));
    let tree = parse_syntax("# EScape=`\nFROM a\n").unwrap();
    assert_eq!(tree.escape, '`');
    let tree =
        parse_syntax("# syntax = docker/dockerfile:1\n# check = skip=all\nFROM a\n").unwrap();
    assert_eq!(tree.directive("syntax"), Some("docker/dockerfile:1"));
    assert_eq!(tree.directive("check"), Some("skip=all"));
    // Shebang on line 1 is skipped; a blank line ends the directive block.
    let tree = parse_syntax("#!/bin/sh\n# syntax = x\nFROM a\n").unwrap();
    assert_eq!(tree.directive("syntax"), Some("x"));
    let tree = parse_syntax("#!/bin/sh\n\n# syntax = x\nFROM a\n").unwrap();
    assert_eq!(tree.directive("syntax"), None);
    // Not at the top: an ordinary comment.
    let tree = parse_syntax("FROM a\n# escape=`\nRUN x \\\n y\n").unwrap();
    assert_eq!(tree.escape, '\\');
    assert_eq!(tree.children[1].args, ["x  y"]);
    let tree = parse_syntax("\u{feff}# syntax = myfrontend\nFROM a\n").unwrap();
    assert_eq!(tree.directive("syntax"), Some("myfrontend"));
    let e = parse_syntax("# escape=`\n# escape=\\\nFROM a\n").unwrap_err();
    assert_eq!(e.message, "only one escape parser directive can be used");
    assert!(parse_syntax("# escape=x\nFROM a\n").is_err());
}

fn err_of(text: &str) -> String {
    parse(text, "Dockerfile").unwrap_err().message
}

#[test]
fn instruction_errors_match_buildkit() {
    let cases: &[(&str, &str)] = &[
        ("FROM a\nMAINTAINER\n", "MAINTAINER requires exactly one argument"),
        ("FROM a\nWORKDIR\n", "WORKDIR requires exactly one argument"),
        ("FROM a\nUSER\n", "USER requires exactly one argument"),
        ("FROM a\nSTOPSIGNAL\n", "STOPSIGNAL requires exactly one argument"),
        ("FROM a\nENV\n", "ENV requires at least one argument"),
        ("FROM a\nLABEL\n", "LABEL requires at least one argument"),
        ("FROM a\nONBUILD\n", "ONBUILD requires at least one argument"),
        ("FROM a\nHEALTHCHECK\n", "HEALTHCHECK requires at least one argument"),
        ("FROM a\nEXPOSE\n", "EXPOSE requires at least one argument"),
        ("FROM a\nVOLUME\n", "VOLUME requires at least one argument"),
        (
            "FROM a\nADD arg1\n",
            "ADD requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "FROM a\nCOPY arg1\n",
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        ("FROM a\nENV =arg2\n", "ENV names can not be blank"),
        ("FROM a\nONBUILD FROM scratch\n", "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nMAINTAINER --boo joe@example.com\n", "unknown flag: --boo"),
        ("FROM a\nONBUILD ONBUILD RUN touch foobar\n", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nFOO bar\n", "unknown instruction: FOO"),
        ("FROM a\nfoo bar\n", "unknown instruction: foo"),
        ("FROM a\nCOPY /foo <<EOF\nEOF\n", "COPY cannot accept a heredoc as a destination"),
        ("FROM a\nENV foo\n", "ENV must have two arguments"),
        ("FROM a\nHEALTHCHECK --interval=50ns CMD true\n", "Interval \"interval\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK CONNECT TCP 7000\n", "Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)"),
        ("FROM a\nCMD [ \"echo\", [ \"nested json\" ] ]\n", "dockerfile json arrays must contain only strings"),
        ("FROM a\nRUN <<EOF\necho\n", "unterminated heredoc"),
    ];
    let mut passed = 0;
    for (text, want) in cases {
        let got = err_of(text);
        assert!(
            got.starts_with(want),
            "{text:?}: got {got:?}, want {want:?}"
        );
        passed += 1;
    }
    let copy_tabs = err_of("FROM a\nCOPY\t\n\t\tquux \\\n      bar");
    assert!(
        copy_tabs.starts_with("COPY requires at least two arguments"),
        "{copy_tabs}"
    );
    println!(
        "instruction error table: {}/{} passed",
        passed + 1,
        cases.len() + 1
    );
}

#[test]
fn instruction_values() {
    let df = parse("FROM a\nHEALTHCHECK CMD hello world\nHEALTHCHECK --interval=0ms --timeout=1ms CMD [\"x\"]\n", "Dockerfile").unwrap();
    let ins = &df.stages[0].instructions;
    let InstructionKind::Healthcheck(Healthcheck::Cmd(h)) = &ins[0].kind else {
        panic!()
    };
    assert_eq!(h.test, ["CMD-SHELL", "hello world"]);
    let InstructionKind::Healthcheck(Healthcheck::Cmd(h)) = &ins[1].kind else {
        panic!()
    };
    assert_eq!(
        (h.interval, h.timeout, h.test.clone()),
        (
            Some(0),
            Some(1_000_000),
            vec!["CMD".to_string(), "x".to_string()]
        )
    );

    let df = parse("FROM a\nCOPY <<EOF foo.txt /bar\n\tTESTING\nEOF\nCOPY <<-EOF /x\n\tTESTING\nEOF\nCOPY <<'EOF' /y\n$X\nEOF\n", "Dockerfile").unwrap();
    let ins = &df.stages[0].instructions;
    let InstructionKind::Copy(c) = &ins[0].kind else {
        panic!()
    };
    assert_eq!(
        c.sources,
        [
            Source::Heredoc {
                name: "EOF".into(),
                content: "\tTESTING\n".into(),
                expand: true
            },
            Source::Path("foo.txt".into())
        ]
    );
    let InstructionKind::Copy(c) = &ins[1].kind else {
        panic!()
    };
    assert_eq!(
        c.sources,
        [Source::Heredoc {
            name: "EOF".into(),
            content: "TESTING\n".into(),
            expand: true
        }]
    );
    let InstructionKind::Copy(c) = &ins[2].kind else {
        panic!()
    };
    assert!(matches!(
        &c.sources[0],
        Source::Heredoc { expand: false, .. }
    ));

    let df = parse("# foo sets foo\nARG foo=bar\n# base defines first stage\nFROM busybox AS base\n# bar defines bar\n# baz is something else\nARG bar baz=123\nRUN --mount=type=tmpfs,target=/foo/ echo hello\n", "Dockerfile").unwrap();
    let InstructionKind::Arg(a) = &df.global_args[0].kind else {
        panic!()
    };
    assert_eq!(a[0].comment.as_deref(), Some("sets foo"));
    assert_eq!(df.stages[0].comment.as_deref(), Some("defines first stage"));
    let InstructionKind::Arg(a) = &df.stages[0].instructions[0].kind else {
        panic!()
    };
    assert_eq!(a[0].comment.as_deref(), Some("defines bar"));
    assert_eq!(a[1].comment.as_deref(), Some("is something else"));
    let InstructionKind::Run(r) = &df.stages[0].instructions[1].kind else {
        panic!()
    };
    assert_eq!(r.mounts.len(), 1);
    assert_eq!(r.command, CommandLine::Shell("echo hello".into()));
}

#[test]
fn errors_render_with_caret() {
    let e = parse("FROM alpine\n  COPY --frm=x a b\n", "Dockerfile.dev").unwrap_err();
    assert_eq!(e.message, "unknown flag: --frm");
    assert_eq!(e.to_string(), "Dockerfile.dev:2:8: unknown flag: --frm");
    let r = e.render();
    assert!(r.contains(" --> Dockerfile.dev:2:8"), "{r}");
    assert!(r.contains(" 2 |   COPY --frm=x a b\n"), "{r}");
    assert!(r.contains("   |        ^\n"), "{r}");
    assert!(r.contains("hint: COPY accepts --from"), "{r}");
    let e = parse("FROM alpine\nRUNN echo\n", "Dockerfile").unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean RUN?"));
}
