//! Where strata's linter is right and hadolint is not, named after hadolint's issues.

use strata_lint::{lint, Config};

fn codes(text: &str, config: &Config) -> Vec<(String, usize)> {
    lint(text, "Dockerfile", config)
        .into_iter()
        .map(|f| (f.code, f.line))
        .collect()
}

fn has(text: &str, code: &str, line: usize) -> bool {
    codes(text, &Config::default()).contains(&(code.to_string(), line))
}

#[test]
fn hadolint_979_images_from_args_are_expanded() {
    // The ARG default gives the tag: no DL3006; a default of `latest` is DL3007.
    let text = "ARG IMAGE=debian:bookworm\nARG TAG=latest\nFROM $IMAGE AS a\nFROM alpine:${TAG}\n";
    assert!(!has(text, "DL3006", 3));
    assert!(has(text, "DL3007", 4));
    // An ARG without default is set at build time: nothing to say.
    assert!(codes("ARG TAG\nFROM alpine:$TAG\n", &Config::default()).is_empty());
    // An untagged default is untagged.
    assert!(has("ARG BASE=debian\nFROM ${BASE}\n", "DL3006", 2));
    // A stage reached through an ARG is a stage, not an image.
    let text = "ARG B=builder\nFROM golang:1.22 AS builder\nFROM ${B}\n";
    assert!(!has(text, "DL3006", 3));
}

#[test]
fn hadolint_979_trusted_registry_through_arg() {
    let config = Config {
        trusted_registries: vec!["registry.example.com".into()],
        ..Config::default()
    };
    let text =
        "ARG REGISTRY=registry.example.com\nFROM ${REGISTRY}/app:1\nFROM evil.example.org/app:1\n";
    let found = codes(text, &config);
    assert!(!found.contains(&("DL3026".into(), 2)), "{found:?}");
    assert!(found.contains(&("DL3026".into(), 3)), "{found:?}");
}

#[test]
fn hadolint_928_versions_in_variables_are_pins() {
    let text = "FROM python:3.12\nARG PKG=requests==2.31.0\nARG V=1.2\nRUN pip install --no-cache-dir $PKG \"flask==${V}\"\nRUN pip install --no-cache-dir $UNDECLARED\n";
    assert!(!has(text, "DL3013", 4));
    assert!(
        has(text, "DL3013", 5),
        "an undeclared variable expands to nothing"
    );
}

#[test]
fn hadolint_1068_root_only_matters_in_final_stages() {
    let text = "FROM debian:12 AS build\nUSER root\nRUN make\nFROM scratch\nCOPY --from=build /out /\nUSER 1000\n";
    assert!(!has(text, "DL3002", 2));
    // Inherited through FROM, root still reaches the image.
    let text = "FROM debian:12 AS base\nUSER root\nFROM base\nRUN true\n";
    assert!(has(text, "DL3002", 2));
}

#[test]
fn heredoc_bodies_are_linted_as_scripts() {
    let text = "FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\n";
    let found = codes(text, &Config::default());
    for code in ["DL3008", "DL3009", "DL3015"] {
        assert!(found.contains(&(code.to_string(), 2)), "{code}: {found:?}");
    }
    // A heredoc fed to python is not shell.
    let text = "FROM python:3.12\nRUN python3 <<EOF\nimport os; os.system('cd /tmp')\nEOF\n";
    assert!(!has(text, "DL3003", 2));
}

#[test]
fn run_mount_flags_after_a_heredoc_parse() {
    // hadolint cannot parse a RUN with mounts right after a heredoc; BuildKit can.
    let text = "FROM alpine:3.19 AS deps\nRUN <<EOF\necho\nEOF\nRUN --mount=type=cache,target=/var/cache/apk --mount=from=deps,source=/etc,target=/mnt apk add curl=8.5.0-r0\n";
    let found = codes(text, &Config::default());
    assert!(!found.iter().any(|(c, _)| c == "DL1000"), "{found:?}");
    // The cache mount is the apk cache: no DL3019.
    assert!(!has(text, "DL3019", 5));
    // What BuildKit refuses is an error naming the line.
    let found = lint(
        "FROM alpine:3.19\nRUN --mount=type=bind,source=/x ls\n",
        "Dockerfile",
        &Config::default(),
    );
    let e = found.iter().find(|f| f.code == "DL1000").expect("DL1000");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("target"), "{}", e.message);
}

#[test]
fn stage_names_are_case_insensitive() {
    let text = "FROM alpine:3.19 AS Tools\nFROM alpine:3.19\nCOPY --from=tools /a /a\n";
    assert!(!has(text, "DL3022", 3));
    assert!(has(
        "FROM alpine:3.19 AS A\nFROM alpine:3.19 AS a\n",
        "DL3024",
        2
    ));
}

#[test]
fn unparseable_files_report_dl1000_with_the_line() {
    let found = lint(
        "FROM alpine:3.19\nRUN <<EOF\necho\n",
        "Dockerfile",
        &Config::default(),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, "DL1000");
    assert!(found[0].message.contains("heredoc"), "{}", found[0].message);
}
