//! Random Dockerfile-shaped input through parse, resolve and the stage graph: no panics,
//! and every error is located.

use std::collections::BTreeMap;

use strata_dockerfile::scope::{resolve, ResolveOptions};
use strata_dockerfile::stages::StageGraph;
use strata_dockerfile::{parse, ErrorKind};

const TOKENS: &[&str] = &[
    "FROM ",
    "RUN ",
    "COPY ",
    "ADD ",
    "ENV ",
    "ARG ",
    "LABEL ",
    "ONBUILD ",
    "HEALTHCHECK ",
    "SHELL ",
    "WORKDIR ",
    "USER ",
    "EXPOSE ",
    "VOLUME ",
    "CMD ",
    "ENTRYPOINT ",
    "STOPSIGNAL ",
    "MAINTAINER ",
    "AS ",
    "alpine",
    "x",
    "$X",
    "${X:-y}",
    "${",
    "}",
    "=",
    "\"",
    "'",
    "\\",
    "`",
    "\n",
    "\n",
    " ",
    "\t",
    "[",
    "]",
    ",",
    "#",
    "# escape=`\n",
    "<<",
    "<<-",
    "EOF",
    "--from=",
    "--mount=",
    "type=cache,target=/c",
    "--chmod=",
    "--link",
    "--",
    "é",
    "\u{0}",
    "\r\n",
    "0",
    "scratch",
    "--platform=$BUILDPLATFORM",
    "CMD",
    "NONE",
    "-",
];

#[test]
fn random_inputs_never_panic() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let opts = ResolveOptions::new(BTreeMap::new(), None);
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..5000 {
        let mut text = String::new();
        if next() % 2 == 0 {
            // Free-form token soup.
            for _ in 0..next() % 60 {
                text.push_str(TOKENS[(next() % TOKENS.len() as u64) as usize]);
            }
        } else {
            // Line-shaped: keyword first, so more inputs reach the later stages.
            text.push_str("FROM alpine AS s0\n");
            for n in 0..next() % 12 {
                let kw = TOKENS[(next() % 18) as usize];
                text.push_str(if kw == "FROM " { "FROM s0 AS s" } else { kw });
                if kw == "FROM " {
                    text.push_str(&(n + 1).to_string());
                }
                for _ in 0..next() % 5 {
                    text.push(' ');
                    text.push_str(TOKENS[18 + (next() % (TOKENS.len() as u64 - 18)) as usize]);
                }
                text.push('\n');
            }
        }
        match parse(&text, "Dockerfile") {
            Ok(df) => {
                ok += 1;
                if let Ok(r) = resolve(&df, &opts) {
                    if let Ok(g) = StageGraph::new(&df, &r) {
                        let t = g.target(None).unwrap();
                        let levels = g.levels(t);
                        assert_eq!(
                            levels.iter().map(Vec::len).sum::<usize>(),
                            g.required(t).len()
                        );
                    }
                }
            }
            Err(e) => {
                failed += 1;
                if e.kind != ErrorKind::Empty {
                    assert!(e.span.is_some(), "unlocated error {e:?} for {text:?}");
                }
                let _ = e.render();
            }
        }
    }
    println!("stress: {ok} parsed, {failed} rejected");
}
