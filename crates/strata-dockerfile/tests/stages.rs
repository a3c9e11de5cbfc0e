//! The stage graph: dependencies, targets, levels and stage errors.

use std::collections::BTreeMap;

use strata_dockerfile::scope::{resolve, ResolveOptions};
use strata_dockerfile::stages::{EdgeKind, Reference, StageGraph};
use strata_dockerfile::{parse, ErrorKind, ParseError};

fn graph(text: &str) -> Result<StageGraph, ParseError> {
    let df = parse(text, "Dockerfile")?;
    let r = resolve(&df, &ResolveOptions::new(BTreeMap::new(), None))?;
    StageGraph::new(&df, &r)
}

const MULTI: &str = "\
FROM alpine AS base
FROM base AS deps
RUN true
FROM golang AS tools
FROM deps AS build
COPY --from=TOOLS /go/bin/x /x
RUN --mount=type=bind,from=0,target=/b true
FROM scratch AS unused
FROM busybox
COPY --from=build /out /out
COPY --from=nginx:latest /etc/nginx /etc/nginx
";

#[test]
fn dependencies_and_levels() {
    let g = graph(MULTI).unwrap();
    assert_eq!(g.stages.len(), 6);
    let build = &g.stages[3];
    assert_eq!(
        build.stage_deps().into_iter().collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(build
        .edges
        .iter()
        .any(|e| e.kind == EdgeKind::MountFrom && e.to == Reference::Stage(0)));
    let last = &g.stages[5];
    assert!(last
        .edges
        .iter()
        .any(|e| e.to == Reference::Image("nginx:latest".into())));

    let target = g.target(None).unwrap();
    assert_eq!(target, 5);
    assert_eq!(
        g.required(target).into_iter().collect::<Vec<_>>(),
        [0, 1, 2, 3, 5]
    );
    assert_eq!(
        g.levels(target),
        vec![vec![0, 2], vec![1], vec![3], vec![5]]
    );

    let t = g.target(Some("Deps")).unwrap();
    assert_eq!(g.required(t).into_iter().collect::<Vec<_>>(), [0, 1]);
    let e = g.target(Some("nope")).unwrap_err();
    assert_eq!(e.message, "target stage \"nope\" could not be found");
}

#[test]
fn stage_errors() {
    let kind_of = |t: &str| graph(t).unwrap_err();
    let e = kind_of("FROM a AS x\nFROM b AS X\n");
    assert_eq!(
        (e.kind, e.message.as_str()),
        (ErrorKind::Stage, "duplicate stage name \"x\"")
    );
    assert_eq!(e.position().unwrap().line, 2);
    assert_eq!(kind_of("FROM a AS scratch\n").kind, ErrorKind::Stage);
    assert_eq!(kind_of("FROM a AS context\n").kind, ErrorKind::Stage);
    let e = kind_of("FROM a AS one\nCOPY --from=two / /\nFROM b AS two\nCOPY --from=one / /\n");
    assert!(
        e.message
            .starts_with("circular dependency detected on stage"),
        "{}",
        e.message
    );
    let e = kind_of("FROM a AS one\nCOPY --from=one / /\n");
    assert!(
        e.message.starts_with("circular dependency"),
        "{}",
        e.message
    );
    let e = kind_of("FROM a\nCOPY --from=1 / /\nFROM b\n");
    assert!(
        e.message
            .contains("refers to current or following build stage"),
        "{}",
        e.message
    );
    assert!(kind_of("FROM a AS 1x\n")
        .message
        .starts_with("invalid name for build stage"));
}
