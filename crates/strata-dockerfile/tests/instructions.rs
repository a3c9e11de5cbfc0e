//! All 18 instructions, their flags, spans and the errors for bad flags.

use strata_dockerfile::{
    parse, Chmod, CommandLine, ErrorKind, Healthcheck, InstructionKind, MountSpec, NetworkMode,
    SecurityMode,
};

const ALL: &str = r#"# syntax=docker/dockerfile:1
# escape=\
ARG BASE=alpine
FROM --platform=linux/amd64 ${BASE} AS build
MAINTAINER someone@example.com
LABEL a=1 "b c"=2 \
      d="x y"
ENV PATH=/opt/bin:$PATH K=V
ENV legacy value with spaces
EXPOSE 80/tcp 443
ADD --chown=1:2 --chmod=u+x --link --checksum=sha256:abcdef --keep-git-dir=false --unpack=true --exclude=*.md https://x/y.tgz /y/
COPY --from=0 --parents --exclude=a --exclude=b ["a b", "/dst"]
RUN --mount=type=secret,id=tok,env=TOKEN --network=none --security=insecure ["sh", "-c", "echo"]
CMD ["serve"]
ENTRYPOINT exec app
VOLUME ["/data", "/logs"]
USER app:app
WORKDIR /srv
ONBUILD COPY --chown=app . /srv
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --start-interval=2s --retries=3 CMD curl -f http://localhost/
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN <<EOT bash
  echo one
EOT
"#;

#[test]
fn every_instruction_parses_and_serializes() {
    let df = parse(ALL, "Dockerfile").unwrap();
    assert_eq!(df.global_args.len(), 1);
    let st = &df.stages[0];
    assert_eq!(st.from.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(st.name.as_deref(), Some("build"));
    let kws: Vec<&str> = st.instructions.iter().map(|i| i.kind.keyword()).collect();
    assert_eq!(
        kws,
        [
            "MAINTAINER",
            "LABEL",
            "ENV",
            "ENV",
            "EXPOSE",
            "ADD",
            "COPY",
            "RUN",
            "CMD",
            "ENTRYPOINT",
            "VOLUME",
            "USER",
            "WORKDIR",
            "ONBUILD",
            "STOPSIGNAL",
            "HEALTHCHECK",
            "SHELL",
            "RUN"
        ]
    );
    let k = |i: usize| &st.instructions[i].kind;
    let InstructionKind::Label(l) = k(1) else {
        panic!()
    };
    assert_eq!(l.len(), 3);
    assert_eq!(st.instructions[1].span.start.line, 6);
    assert_eq!(st.instructions[1].span.end.line, 7);
    let InstructionKind::Env(e) = k(3) else {
        panic!()
    };
    assert_eq!(
        (e[0].key.as_str(), e[0].value.as_str()),
        ("legacy", "value with spaces")
    );
    let InstructionKind::Add(a) = k(5) else {
        panic!()
    };
    assert_eq!(a.flags.chmod, Some(Chmod::Symbolic("u+x".into())));
    assert_eq!(
        (a.keep_git_dir, a.unpack, a.flags.link),
        (Some(false), Some(true), true)
    );
    assert_eq!(a.checksum.as_deref(), Some("sha256:abcdef"));
    let InstructionKind::Copy(c) = k(6) else {
        panic!()
    };
    assert!(c.parents);
    assert_eq!(c.flags.exclude, ["a", "b"]);
    assert_eq!(c.dest, "/dst");
    let InstructionKind::Run(r) = k(7) else {
        panic!()
    };
    assert_eq!(r.network, Some(NetworkMode::None));
    assert_eq!(r.security, Some(SecurityMode::Insecure));
    assert!(matches!(&r.mounts[0], MountSpec::Secret { env: Some(e), .. } if e == "TOKEN"));
    assert_eq!(
        r.command,
        CommandLine::Exec(vec!["sh".into(), "-c".into(), "echo".into()])
    );
    let InstructionKind::Onbuild(o) = k(13) else {
        panic!()
    };
    assert_eq!(o.expression, "COPY --chown=app . /srv");
    assert!(matches!(o.trigger.kind, InstructionKind::Copy(_)));
    let InstructionKind::Healthcheck(Healthcheck::Cmd(h)) = k(15) else {
        panic!()
    };
    assert_eq!(
        (h.interval, h.start_period, h.retries),
        (Some(30_000_000_000), Some(60_000_000_000), Some(3))
    );
    let InstructionKind::Run(r) = k(17) else {
        panic!()
    };
    assert_eq!(r.heredocs[0].content, "  echo one\n");
    assert_eq!(r.command, CommandLine::Shell("<<EOT bash".into()));
    assert_eq!(st.instructions[17].span.end.line, 25);
    let json = serde_json::to_string(&df).unwrap();
    assert!(json.contains("\"instruction\":\"healthcheck\""));
}

#[test]
fn bad_flags_are_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "RUN --mount=type=nfs,target=/x true",
            "unsupported mount type \"nfs\"",
        ),
        (
            "RUN --network=bridge true",
            "unsupported network mode \"bridge\"",
        ),
        (
            "RUN --security=root true",
            "unsupported security mode \"root\"",
        ),
        ("RUN --device=gpu true", "unknown flag: --device"),
        ("COPY --checksum=sha256:ab a b", "unknown flag: --checksum"),
        ("ADD --from=x a b", "unknown flag: --from"),
        (
            "ADD --checksum=md5:zz a b",
            "invalid checksum digest format",
        ),
        ("COPY --chmod=0999 a b", "invalid chmod parameter"),
        ("COPY --chown= a b", "invalid chown parameter"),
        (
            "COPY --link=sometimes a b",
            "expecting boolean value for flag link",
        ),
        ("COPY --from a b", "missing a value on flag: from"),
        ("WORKDIR --x /a", "unknown flag: --x"),
        (
            "HEALTHCHECK --retries=-1 CMD true",
            "--retries cannot be negative (-1)",
        ),
        ("HEALTHCHECK --timeout=5 CMD true", "time: invalid duration"),
        (
            "SHELL /bin/sh -c",
            "SHELL requires the arguments to be in JSON form",
        ),
        (
            "HEALTHCHECK NONE extra",
            "HEALTHCHECK NONE takes no arguments",
        ),
    ];
    for (line, want) in cases {
        let text = format!("FROM a\n{line}\n");
        let e = parse(&text, "Dockerfile").unwrap_err();
        assert!(e.message.starts_with(want), "{line}: got {:?}", e.message);
        assert!(
            matches!(e.kind, ErrorKind::InvalidFlag | ErrorKind::InvalidArgument),
            "{line}: {:?}",
            e.kind
        );
        assert_eq!(e.position().unwrap().line, 2, "{line}");
        assert!(e.hint.is_some(), "{line}: no hint");
    }
    let e = parse("FROM a\nRUN --network=bridge true\n", "Dockerfile").unwrap_err();
    assert_eq!(e.position().unwrap().column, 5);
}

#[test]
fn stage_structure_errors() {
    let e = parse("RUN true\nFROM a\n", "Dockerfile").unwrap_err();
    assert_eq!(e.message, "no build stage in current context");
    let e = parse("ARG A\n", "Dockerfile").unwrap_err();
    assert_eq!(e.message, "dockerfile contains no stages to build");
    let e = parse("FROM a b\n", "Dockerfile").unwrap_err();
    assert_eq!(e.message, "FROM requires either one or three arguments");
}

#[test]
fn hostile_inputs_do_not_panic() {
    let deep = format!("FROM a\n{}RUN x\n", "ONBUILD ".repeat(5000));
    assert!(parse(&deep, "Dockerfile").is_err());
    let many_cont = format!("FROM a\nRUN x{}\n", " \\\n y".repeat(20000));
    let _ = parse(&many_cont, "Dockerfile");
    let junk = [
        "\\",
        "FROM",
        "FROM a\nCOPY <<",
        "FROM a\nRUN <<'",
        "#escape=`\n`",
        "FROM a\nCMD [",
        "\u{feff}",
        "FROM a\nENV =",
        "FROM a\nLABEL \"",
        "\r\n\r\n",
    ];
    for j in junk {
        let _ = parse(j, "Dockerfile");
    }
}

#[test]
fn dockerfile_helpers() {
    let df = parse("# check=skip=all\nFROM a AS Build\n", "Dockerfile").unwrap();
    assert_eq!(df.stage_by_name("BUILD").map(|s| s.index), Some(0));
    assert_eq!(df.directive("check"), Some("skip=all"));
    assert!(df.check_directive().unwrap().unwrap().skip_all);
}
