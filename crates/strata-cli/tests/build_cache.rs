//! `strata build`: the step cache. Hits, misses on exactly the steps whose inputs changed,
//! content (not path or mtime) keys, `--no-cache`, `--no-cache-filter`, explanations, and
//! `builder prune`.

mod build_common;

use build_common::*;

const DF: &str = "FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /a.copy\nCOPY b.txt /b.txt\nRUN cat /b.txt > /b.copy\n";

fn ab(e: &Env) -> std::path::PathBuf {
    e.ctx(&[("Dockerfile", DF), ("a.txt", "a1"), ("b.txt", "b1")])
}

#[test]
fn second_build_is_all_cached_with_the_same_id() {
    let e = env_or_skip!();
    let ctx = ab(&e);
    let first = e.build_ok(&ctx, &[]);
    assert_eq!(first.cached_count(), 0);
    let second = e.build_ok(&ctx, &[]);
    assert_eq!(second.cached_count(), 4, "{}", second.stderr);
    assert_eq!(first.id, second.id);
    assert!(!second.stderr.contains(" DONE") || second.step("RUN cat /a.txt") == Step::Cached);
}

#[test]
fn changing_one_file_reruns_only_dependent_steps() {
    let e = env_or_skip!();
    let ctx = ab(&e);
    let first = e.build_ok(&ctx, &[]);
    write(&ctx, "b.txt", "b2");
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step("COPY a.txt"), Step::Cached);
    assert_eq!(b.step("RUN cat /a.txt"), Step::Cached);
    assert_eq!(b.step("COPY b.txt"), Step::Ran);
    assert_eq!(b.step("RUN cat /b.txt"), Step::Ran);
    assert_ne!(first.id, b.id);
    write(&ctx, "a.txt", "a2");
    let c = e.build_ok(&ctx, &[]);
    assert_eq!(c.step("COPY a.txt"), Step::Ran);
    assert_eq!(
        c.step("RUN cat /b.txt"),
        Step::Ran,
        "later steps follow their parent"
    );
}

#[test]
fn identical_context_in_another_directory_hits() {
    let e = env_or_skip!();
    let first = e.build_ok(&ab(&e), &[]);
    let b = e.build_ok(&ab(&e), &[]);
    assert_eq!(b.cached_count(), 4, "{}", b.stderr);
    assert_eq!(first.id, b.id);
}

#[test]
fn touching_a_file_without_changing_it_hits() {
    let e = env_or_skip!();
    let ctx = ab(&e);
    e.build_ok(&ctx, &[]);
    let f = std::fs::File::options()
        .write(true)
        .open(ctx.join("a.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    drop(f);
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.cached_count(), 4, "{}", b.stderr);
}

#[test]
fn mode_change_of_a_context_file_misses() {
    let e = env_or_skip!();
    let ctx = ab(&e);
    e.build_ok(&ctx, &[]);
    set_mode(&ctx.join("b.txt"), 0o600);
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step("COPY a.txt"), Step::Cached);
    assert_eq!(b.step("COPY b.txt"), Step::Ran);
}

#[test]
fn ignored_file_changes_do_not_miss() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        ("Dockerfile", "FROM busybox\nCOPY . /src/\n"),
        (".dockerignore", "*.tmp\n"),
        ("keep.txt", "k"),
        ("junk.tmp", "1"),
    ]);
    e.build_ok(&ctx, &[]);
    write(&ctx, "junk.tmp", "2");
    write(&ctx, "more.tmp", "3");
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step("COPY . /src/"), Step::Cached, "{}", b.stderr);
}

#[test]
fn no_cache_reruns_everything() {
    let e = env_or_skip!();
    let ctx = ab(&e);
    e.build_ok(&ctx, &[]);
    let b = e.build_ok(&ctx, &["--no-cache"]);
    assert_eq!(b.cached_count(), 0, "{}", b.stderr);
    assert_eq!(b.step("RUN cat /b.txt"), Step::Ran);
}

#[test]
fn no_cache_filter_only_reruns_that_stage() {
    let e = env_or_skip!();
    let ctx = e.df(
        "FROM busybox AS deps\nRUN echo deps > /deps\nFROM busybox AS app\nCOPY --from=deps /deps /deps\nRUN echo app > /app\n",
    );
    e.build_ok(&ctx, &[]);
    let b = e.build_ok(&ctx, &["--no-cache-filter", "app"]);
    assert_eq!(b.step("RUN echo deps"), Step::Cached, "{}", b.stderr);
    assert_eq!(b.step("RUN echo app"), Step::Ran);
}

#[test]
fn changing_a_used_build_arg_misses() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo before > /b\nARG V=1\nRUN echo $V > /v\n");
    e.build_ok(&ctx, &[]);
    let b = e.build_ok(&ctx, &["--build-arg", "V=2"]);
    assert_eq!(b.step("RUN echo before"), Step::Cached);
    assert_eq!(b.step("RUN echo $V"), Step::Ran);
    let c = e.build_ok(&ctx, &["--build-arg", "V=2", "--build-arg", "UNDECLARED=x"]);
    assert_eq!(
        c.step("RUN echo $V"),
        Step::Cached,
        "undeclared args do not matter"
    );
}

#[test]
fn editing_a_later_step_keeps_earlier_cache() {
    let e = env_or_skip!();
    let ctx = ab(&e);
    e.build_ok(&ctx, &[]);
    write(&ctx, "Dockerfile", &DF.replace("> /b.copy", "> /b.other"));
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step("COPY b.txt"), Step::Cached);
    assert_eq!(b.step("RUN cat /b.txt"), Step::Ran);
}

#[test]
fn explain_cache_names_the_changed_file() {
    let e = env_or_skip!();
    let ctx = e.ctx(&[
        ("Dockerfile", "FROM busybox\nCOPY src /src\n"),
        ("src/a.txt", "1"),
        ("src/b.txt", "1"),
    ]);
    e.build_ok(&ctx, &["--explain-cache"]);
    write(&ctx, "src/a.txt", "2");
    let b = e.build_ok(&ctx, &["--explain-cache"]);
    assert!(
        b.stderr.lines().any(|l| l.starts_with('#')
            && l.contains("cache miss: file")
            && l.contains("a.txt changed")),
        "{}",
        b.stderr
    );
    assert!(!b.stderr.contains("b.txt changed"));
}

#[test]
fn explain_cache_names_the_changed_build_arg() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nARG V=1\nRUN echo $V\n");
    e.build_ok(&ctx, &["--explain-cache"]);
    let b = e.build_ok(&ctx, &["--explain-cache", "--build-arg", "V=9"]);
    assert!(b.stderr.contains("cache miss: build arg V"), "{}", b.stderr);
    let quiet = e.build_ok(&ctx, &["--build-arg", "V=10"]);
    assert!(
        !quiet.stderr.contains("cache miss"),
        "only with --explain-cache"
    );
}

#[test]
fn cache_survives_removing_the_image() {
    let e = env_or_skip!();
    let ctx = ab(&e);
    e.build_ok(&ctx, &["-t", "gone:1"]);
    e.s.run(&["rmi", "gone:1"]).unwrap();
    e.s.run(&["image", "prune", "-f"]).unwrap();
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.cached_count(), 4, "{}", b.stderr);
}

#[test]
fn builder_prune_drops_the_cache_and_reports_space() {
    let e = env_or_skip!();
    let ctx = e.df(
        "FROM busybox\nRUN --mount=type=cache,target=/c echo x >> /c/log && head -c 200000 /dev/zero > /big\n",
    );
    e.build_ok(&ctx, &[]);
    assert!(e.s.root().join("build-v1/cache-mounts").exists());
    let out = e.s.run(&["builder", "prune", "-f"]).unwrap();
    assert!(out.contains("Total reclaimed space:"), "{out}");
    let size = out.lines().last().unwrap().rsplit(' ').next().unwrap();
    assert_ne!(size, "0B", "{out}");
    assert!(!e.s.root().join("build-v1/cache-mounts").exists());
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step("RUN --mount"), Step::Ran, "{}", b.stderr);
    let check = e.strata(&["system", "check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn builder_prune_keeps_tagged_images() {
    let e = env_or_skip!();
    let ctx = ab(&e);
    let b = e.build_ok(&ctx, &["-t", "keep:1"]);
    e.s.run(&["builder", "prune", "-f"]).unwrap();
    assert_eq!(e.inspect("keep:1")["Id"], b.id.as_str());
    // The image's own layers still serve as a base for a new build.
    let c = e.build_ok(&e.df("FROM keep:1\nRUN cat /a.copy /b.copy > /both\n"), &[]);
    assert!(c.ok);
    let err = e.strata(&["builder", "prune", "--filter", "until=1h"]);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("--filter is not supported"));
}

#[test]
fn cache_mount_contents_do_not_affect_the_key() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN --mount=type=cache,target=/c date >> /c/stamps\n");
    e.build_ok(&ctx, &[]);
    let b = e.build_ok(&ctx, &[]);
    assert_eq!(b.step("RUN --mount"), Step::Cached, "{}", b.stderr);
}

#[test]
fn run_after_a_changed_arg_misses_even_without_using_it() {
    let e = env_or_skip!();
    // Docker: every RUN after an ARG sees it in its environment, so a new value misses.
    let ctx = e.df("FROM busybox\nARG V=1\nRUN echo unrelated\nCOPY Dockerfile /df\n");
    e.build_ok(&ctx, &[]);
    let b = e.build_ok(&ctx, &["--build-arg", "V=2"]);
    assert_eq!(b.step("RUN echo unrelated"), Step::Ran, "{}", b.stderr);
    assert_eq!(b.step("COPY Dockerfile"), Step::Ran, "its parent changed");
    let c = e.build_ok(&ctx, &["--build-arg", "V=2"]);
    assert_eq!(c.step("RUN echo unrelated"), Step::Cached);
}
