//! `strata build --cache-to / --cache-from`: a cache exported from one store and imported
//! into a fresh one (through Debian's `docker-registry`, and through a local OCI layout)
//! answers every step; a missing cache is a warning; malformed specs fail fast.

mod build_common;
mod distribution_support;

use std::io::{Read, Write};
use std::net::TcpStream;

use build_common::*;
use distribution_support::{Mode, Registry};

const DF: &str = "FROM busybox AS tool\nRUN echo tool > /tool\n\
FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /a.copy\nCOPY --from=tool /tool /tool\nRUN true\n";

/// Steps that make (or may make) a layer in `DF`.
const LAYER_STEPS: [&str; 5] = [
    "RUN echo tool",
    "COPY a.txt",
    "RUN cat /a.txt",
    "COPY --from=tool",
    "RUN true",
];

fn registry() -> Option<Registry> {
    Registry::start(Mode::Plain)
}

/// `GET /v2/<name>/manifests/<tag>` with an OCI accept header; the JSON body.
fn get_manifest(host: &str, name: &str, tag: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /v2/{name}/manifests/{tag} HTTP/1.0\r\nHost: {host}\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    serde_json::from_str(body).unwrap()
}

#[test]
fn registry_cache_makes_every_step_a_hit_on_a_fresh_store() {
    let e = env_or_skip!();
    let Some(reg) = registry() else { return };
    let ctx = e.ctx(&[("Dockerfile", DF), ("a.txt", "alpha")]);
    let reference = format!("{}/cache/app:buildcache", reg.host);
    let to = format!("--cache-to=type=registry,ref={reference},mode=max");
    let first = e.build_ok(&ctx, &[&to]);
    assert_eq!(first.cached_count(), 0, "{}", first.stderr);
    assert!(
        first.stderr.contains("exporting cache to"),
        "{}",
        first.stderr
    );

    let manifest = get_manifest(&reg.host, "cache/app", "buildcache");
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.strata.buildcache.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.strata.buildcache.config.v1+json"
    );
    // RUN true changed nothing, and COPY --from=tool made the very layer RUN echo tool
    // made (one file, same metadata): three distinct blobs.
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 3);

    // A fresh store: only the base image.
    let other = e.other_store();
    let from = format!("--cache-from=type=registry,ref={reference}");
    let iid = e.path("iid");
    let second = build_in(&other, &iid, &ctx, &[&from], &[]);
    assert!(second.ok, "{}", second.stderr);
    for step in LAYER_STEPS {
        assert_eq!(
            second.step(step),
            Step::Cached,
            "{step}:\n{}",
            second.stderr
        );
    }
    assert_eq!(second.id, first.id);
    assert!(!second.stderr.contains("WARNING"), "{}", second.stderr);
    // The image is whole in the fresh store: its layers were fetched.
    let out = e.path("save").with_extension("tar");
    other
        .run(&["save", "-o", out.to_str().unwrap(), second.id.trim()])
        .unwrap();
}

#[test]
fn a_missing_registry_cache_is_a_warning_not_a_failure() {
    let e = env_or_skip!();
    let Some(reg) = registry() else { return };
    let ctx = e.ctx(&[("Dockerfile", DF), ("a.txt", "alpha")]);
    let from = format!("--cache-from={}/nothing/here:cache", reg.host);
    let b = e.build_ok(&ctx, &[&from]);
    assert_eq!(b.cached_count(), 0);
    assert_eq!(b.step("RUN cat /a.txt"), Step::Ran);
    assert!(b.stderr.contains("WARNING: cache"), "{}", b.stderr);
    assert!(b.stderr.contains("not found"), "{}", b.stderr);
}

#[test]
fn local_cache_min_mode_holds_the_final_stage_only() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[("Dockerfile", DF), ("a.txt", "alpha")]);
    let dir = e.path("cache");
    let first = e.build_ok(
        &ctx,
        &[&format!("--cache-to=type=local,dest={}", dir.display())],
    );
    assert!(dir.join("index.json").is_file());
    assert!(dir.join("oci-layout").is_file());
    let other = e.other_store();
    let iid = e.path("iid");
    let from = format!("--cache-from=type=local,src={}", dir.display());
    let b = build_in(&other, &iid, &ctx, &[&from], &[]);
    assert!(b.ok, "{}", b.stderr);
    // mode=min (the default) leaves the `tool` stage out of the cache.
    assert_eq!(b.step("RUN echo tool"), Step::Ran, "{}", b.stderr);
    assert_eq!(b.step("COPY a.txt"), Step::Cached, "{}", b.stderr);
    assert_eq!(b.step("RUN cat /a.txt"), Step::Cached, "{}", b.stderr);
    assert_ne!(first.id, "");
}

#[test]
fn malformed_and_unsupported_specs_fail_before_building() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[("Dockerfile", DF), ("a.txt", "alpha")]);
    let err = e.build_err(&ctx, &["--cache-to", "type=gha"]);
    assert!(err.contains("\"gha\""), "{err}");
    let err = e.build_err(&ctx, &["--cache-from", "type=local"]);
    assert!(err.contains("src="), "{err}");
    let err = e.build_err(
        &ctx,
        &["--cache-to", "type=registry,ref=r.example/a,mode=all"],
    );
    assert!(err.contains("mode=all"), "{err}");
    assert!(!err.contains("#1 "), "no step ran: {err}");
}

#[test]
fn cache_export_and_import_use_registry_credentials() {
    let e = env_or_skip!();
    let Some(reg) = Registry::start(Mode::Htpasswd {
        user: "ci".into(),
        password: "s3cret".into(),
    }) else {
        return;
    };
    let ctx = e.ctx(&[("Dockerfile", DF), ("a.txt", "alpha")]);
    let dc = e.path("docker");
    let dc_env = [("DOCKER_CONFIG", dc.to_str().unwrap())];
    let to = format!(
        "--cache-to=type=registry,ref={}/private/app:cache,mode=max",
        reg.host
    );

    // Without credentials the export fails the command and names the registry ...
    let denied = e.build_env(&ctx, &[&to], &dc_env);
    assert!(!denied.ok, "{}", denied.stderr);
    assert!(
        denied.stderr.contains("exporting cache to") && denied.stderr.contains(&reg.host),
        "{}",
        denied.stderr
    );
    // ... unless errors are to be ignored.
    let ignored = e.build_env(&ctx, &[&format!("{to},ignore-error=true")], &dc_env);
    assert!(ignored.ok, "{}", ignored.stderr);
    assert!(
        ignored.stderr.contains("WARNING: exporting cache"),
        "{}",
        ignored.stderr
    );

    let mut login = e.s.command();
    login
        .args(["login", "-u", "ci", "-p", "s3cret", &reg.host])
        .env("DOCKER_CONFIG", &dc);
    let out = login.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = e.build_env(&ctx, &[&to], &dc_env);
    assert!(first.ok, "{}", first.stderr);

    let other = e.other_store();
    let from = format!("--cache-from={}/private/app:cache", reg.host);
    let second = build_in(&other, &e.path("iid"), &ctx, &[&from], &dc_env);
    assert!(second.ok, "{}", second.stderr);
    for step in LAYER_STEPS {
        assert_eq!(
            second.step(step),
            Step::Cached,
            "{step}:\n{}",
            second.stderr
        );
    }
    assert_eq!(second.id, first.id);
}
