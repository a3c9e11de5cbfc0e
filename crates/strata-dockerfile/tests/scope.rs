//! ARG/ENV scoping, predefined args, expansion rules and used-arg sets.

use std::collections::BTreeMap;

use strata_dockerfile::scope::{resolve, Base, Platform, ResolveOptions, Resolved};
use strata_dockerfile::{parse, Chmod, CommandLine, InstructionKind, MountSpec, Source};

fn opts(args: &[(&str, &str)]) -> ResolveOptions {
    let build_args: BTreeMap<String, String> = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut o = ResolveOptions::new(build_args, Some(Platform::parse("linux/arm64/v8").unwrap()));
    o.build_platform = Platform::parse("linux/amd64").unwrap();
    o
}

fn run(text: &str, args: &[(&str, &str)]) -> Resolved {
    resolve(&parse(text, "Dockerfile").unwrap(), &opts(args)).unwrap()
}

fn kind(r: &Resolved, stage: usize, step: usize) -> &InstructionKind {
    &r.stages[stage].steps[step].instruction.kind
}

#[test]
fn global_args_only_in_from() {
    let r = run("ARG TAG=3.19\nARG BASE=alpine\nFROM $BASE:$TAG AS one\nRUN echo $TAG\nWORKDIR /w/$TAG\nARG TAG\nWORKDIR /w/$TAG\n", &[]);
    assert_eq!(r.stages[0].base, Base::Image("alpine:3.19".into()));
    assert_eq!(
        r.stages[0].from_used_args.iter().collect::<Vec<_>>(),
        ["BASE", "TAG"]
    );
    // Not re-declared yet: invisible.
    assert!(matches!(kind(&r, 0, 1), InstructionKind::Workdir(w) if w == "/w/"));
    assert!(r.stages[0].steps[1].used_args.is_empty());
    // Re-declared without a default: takes the global value.
    assert!(matches!(kind(&r, 0, 3), InstructionKind::Workdir(w) if w == "/w/3.19"));
    assert_eq!(
        r.stages[0].steps[3].used_args.iter().collect::<Vec<_>>(),
        ["TAG"]
    );
    // RUN is not expanded.
    assert!(
        matches!(kind(&r, 0, 0), InstructionKind::Run(x) if x.command == CommandLine::Shell("echo $TAG".into()))
    );
}

#[test]
fn build_args_override_defaults_and_env_overrides_args() {
    let r = run(
        "FROM scratch\nARG V=default\nUSER $V\nENV V=fromenv\nUSER $V\nARG W\nLABEL w=$W\n",
        &[
            ("V", "cli"),
            ("W", "wv"),
            ("UNUSED", "x"),
            ("HTTP_PROXY", "http://p"),
        ],
    );
    assert!(matches!(kind(&r, 0, 1), InstructionKind::User(u) if u == "cli"));
    assert_eq!(
        r.stages[0].steps[1].used_args.iter().collect::<Vec<_>>(),
        ["V"]
    );
    assert!(matches!(kind(&r, 0, 3), InstructionKind::User(u) if u == "fromenv"));
    assert!(
        r.stages[0].steps[3].used_args.is_empty(),
        "ENV shadows the arg"
    );
    assert!(matches!(kind(&r, 0, 5), InstructionKind::Label(l) if l[0].value == "wv"));
    assert_eq!(r.unused_build_args.iter().collect::<Vec<_>>(), ["UNUSED"]);
    assert_eq!(r.stages[0].base, Base::Scratch);
}

#[test]
fn platform_args() {
    let r = run(
        "FROM --platform=$BUILDPLATFORM busybox AS b\nARG TARGETARCH\nARG TARGETVARIANT\nARG BUILDOS\nWORKDIR /$BUILDOS/$TARGETARCH/$TARGETVARIANT\nRUN true\n",
        &[],
    );
    assert_eq!(
        r.stages[0].platform,
        Some(Platform::parse("linux/amd64").unwrap())
    );
    assert!(r.stages[0].from_used_args.contains("BUILDPLATFORM"));
    assert!(matches!(kind(&r, 0, 3), InstructionKind::Workdir(w) if w == "/linux/arm64/v8"));
    let run_step = &r.stages[0].steps[4];
    assert_eq!(
        run_step.used_args.iter().collect::<Vec<_>>(),
        ["BUILDOS", "TARGETARCH", "TARGETVARIANT"]
    );
}

#[test]
fn run_sees_args_and_proxies() {
    let r = run(
        "FROM scratch\nARG A=1\nARG B\nRUN env\n",
        &[("https_proxy", "p")],
    );
    let step = &r.stages[0].steps[2];
    assert_eq!(
        step.args,
        [
            ("A".to_string(), "1".to_string()),
            ("https_proxy".to_string(), "p".to_string())
        ]
    );
    assert_eq!(
        step.used_args.iter().collect::<Vec<_>>(),
        ["A", "https_proxy"]
    );
    assert_eq!(step.shell, ["/bin/sh", "-c"]);
}

#[test]
fn copy_flags_and_heredocs_expand() {
    let r = run(
        "FROM scratch\nARG U=app MODE=0640 STAGE=build\nCOPY --from=$STAGE --chown=$U:$U --chmod=$MODE --exclude=*.$U src/$U /dst/\nCOPY <<EOF /f\nuser=$U \"q\"\nEOF\nCOPY <<'EOF' /g\nuser=$U\nEOF\nRUN --mount=type=cache,target=/c/$U,id=$U true\n",
        &[],
    );
    let InstructionKind::Copy(c) = kind(&r, 0, 1) else {
        panic!()
    };
    assert_eq!(c.from.as_deref(), Some("build"));
    assert_eq!(c.flags.chown.as_deref(), Some("app:app"));
    assert_eq!(c.flags.chmod, Some(Chmod::Octal(0o640)));
    assert_eq!(c.flags.exclude, ["*.app"]);
    assert_eq!(c.sources, [Source::Path("src/app".into())]);
    let InstructionKind::Copy(c) = kind(&r, 0, 2) else {
        panic!()
    };
    assert_eq!(
        c.sources,
        [Source::Heredoc {
            name: "EOF".into(),
            content: "user=app \"q\"\n".into(),
            expand: true
        }]
    );
    let InstructionKind::Copy(c) = kind(&r, 0, 3) else {
        panic!()
    };
    assert_eq!(
        c.sources,
        [Source::Heredoc {
            name: "EOF".into(),
            content: "user=$U\n".into(),
            expand: false
        }]
    );
    let InstructionKind::Run(run) = kind(&r, 0, 4) else {
        panic!()
    };
    assert!(
        matches!(&run.mounts[0], MountSpec::Cache { target, id: Some(id), .. } if target == "/c/app" && id == "app")
    );
}

#[test]
fn stage_env_is_inherited() {
    let r = run("FROM scratch AS a\nENV P=/x\nFROM a\nWORKDIR $P\n", &[]);
    assert_eq!(r.stages[1].base, Base::Stage(0));
    assert!(matches!(kind(&r, 1, 0), InstructionKind::Workdir(w) if w == "/x"));
}

#[test]
fn expansion_errors_are_located() {
    let df = parse(
        "FROM scratch\nARG X\nWORKDIR ${X:?must be set}\n",
        "Dockerfile",
    )
    .unwrap();
    let e = resolve(&df, &opts(&[])).unwrap_err();
    assert_eq!(e.kind, strata_dockerfile::ErrorKind::Expansion);
    assert_eq!(e.position().unwrap().line, 3);
    assert!(e.message.contains("must be set"), "{}", e.message);
}

#[test]
fn expanded_values_are_validated() {
    let df = parse("FROM scratch\nARG P=80/http\nEXPOSE $P\n", "Dockerfile").unwrap();
    let e = resolve(&df, &opts(&[])).unwrap_err();
    assert!(
        e.message.starts_with("invalid containerPort: 80/http"),
        "{}",
        e.message
    );
    let r = run(
        "FROM scratch\nARG P=\"80 443/udp\"\nEXPOSE $P\nARG S=SIGQUIT\nSTOPSIGNAL $S\n",
        &[],
    );
    assert!(matches!(kind(&r, 0, 1), InstructionKind::Expose(p) if p == &["80", "443/udp"]));
    let df = parse("FROM scratch\nSTOPSIGNAL SIGNOPE\n", "Dockerfile").unwrap();
    assert_eq!(
        resolve(&df, &opts(&[])).unwrap_err().message,
        "invalid signal: SIGNOPE"
    );
    let e = parse("FROM --platform=linux alpine\n", "Dockerfile").unwrap_err();
    assert_eq!(e.message, "invalid platform \"linux\"");
    let r = run(
        "FROM scratch\n",
        &[("SOURCE_DATE_EPOCH", "0"), ("BUILDKIT_INLINE_CACHE", "1")],
    );
    assert!(r.unused_build_args.is_empty());
    assert_eq!(r.buildkit_args.len(), 2);
}

#[test]
fn onbuild_keeps_heredocs() {
    let df = parse(
        "FROM scratch\nONBUILD COPY <<EOF /x\nhi\nEOF\n",
        "Dockerfile",
    )
    .unwrap();
    let InstructionKind::Onbuild(o) = &df.stages[0].instructions[0].kind else {
        panic!()
    };
    let InstructionKind::Copy(c) = &o.trigger.kind else {
        panic!()
    };
    assert_eq!(
        c.sources,
        [Source::Heredoc {
            name: "EOF".into(),
            content: "hi\n".into(),
            expand: true
        }]
    );
}
