//! `strata build`: COPY and ADD (every flag), heredoc files, and `.dockerignore`.

mod build_common;

use build_common::*;

fn copy_ctx(e: &Env, dockerfile: &str) -> std::path::PathBuf {
    let ctx = e.ctx(&[
        ("Dockerfile", dockerfile),
        ("a.txt", "A"),
        ("b.txt", "B"),
        ("c.log", "C"),
        ("dir/one.txt", "1"),
        ("dir/sub/two.txt", "2"),
        ("run.sh", "#!/bin/sh\necho run\n"),
    ]);
    set_mode(&ctx.join("run.sh"), 0o755);
    ctx
}

#[test]
fn copy_file_keeps_mode_and_gets_root_owner() {
    let e = env_or_skip!();
    let ctx = copy_ctx(&e, "FROM busybox\nCOPY run.sh a.txt /app/\n");
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "app/run.sh"), "#!/bin/sh\necho run\n");
    assert_eq!(mode(&root, "app/run.sh"), 0o755);
    assert_eq!(owner(&root, "app/a.txt"), (0, 0));
    assert_eq!(mode(&root, "app/a.txt"), 0o644);
}

#[test]
fn copy_directory_copies_its_contents() {
    let e = env_or_skip!();
    let root = e.rootfs(&copy_ctx(&e, "FROM busybox\nCOPY dir /dst\n"), &[]);
    assert_eq!(read(&root, "dst/one.txt"), "1");
    assert_eq!(read(&root, "dst/sub/two.txt"), "2");
    assert!(!exists(&root, "dst/dir"));
}

#[test]
fn copy_wildcard_matches_only_matching_files() {
    let e = env_or_skip!();
    let root = e.rootfs(&copy_ctx(&e, "FROM busybox\nCOPY *.txt /w/\n"), &[]);
    assert!(exists(&root, "w/a.txt") && exists(&root, "w/b.txt"));
    assert!(!exists(&root, "w/c.log"));
    assert!(!exists(&root, "w/one.txt"));
}

#[test]
fn copy_chown_numeric_and_by_name() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &copy_ctx(
            &e,
            "FROM busybox\nCOPY --chown=1234:5678 a.txt /n/\nCOPY --chown=nobody:nogroup dir /named\n",
        ),
        &[],
    );
    assert_eq!(owner(&root, "n/a.txt"), (1234, 5678));
    assert_eq!(owner(&root, "named/sub/two.txt"), (65534, 65534));
    assert_eq!(owner(&root, "named"), (65534, 65534));
}

#[test]
fn copy_chmod_octal() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &copy_ctx(
            &e,
            "FROM busybox\nCOPY --chmod=600 a.txt /m/\nCOPY --chmod=0750 dir /md\n",
        ),
        &[],
    );
    assert_eq!(mode(&root, "m/a.txt"), 0o600);
    assert_eq!(mode(&root, "md/one.txt"), 0o750);
}

#[test]
fn copy_keeps_symlinks() {
    let e = env_or_skip!();
    let ctx = copy_ctx(&e, "FROM busybox\nCOPY dir /s/\n");
    std::os::unix::fs::symlink("one.txt", ctx.join("dir/link")).unwrap();
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(
        std::fs::read_link(root.join("s/link")).unwrap().to_str(),
        Some("one.txt")
    );
}

#[test]
fn copy_relative_to_workdir() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &copy_ctx(
            &e,
            "FROM busybox\nWORKDIR /app\nCOPY a.txt .\nCOPY b.txt sub/\n",
        ),
        &[],
    );
    assert_eq!(read(&root, "app/a.txt"), "A");
    assert_eq!(read(&root, "app/sub/b.txt"), "B");
}

#[test]
fn copy_to_file_name_renames() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &copy_ctx(&e, "FROM busybox\nCOPY a.txt /renamed.txt\n"),
        &[],
    );
    assert_eq!(read(&root, "renamed.txt"), "A");
}

#[test]
fn copy_from_stage_by_name_and_index() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox AS first\nRUN echo one > /one\nFROM busybox AS second\nRUN echo two > /two\nFROM busybox\nCOPY --from=first /one /got/\nCOPY --from=1 /two /got/\n",
    );
    assert_eq!(read(&root, "got/one"), "one\n");
    assert_eq!(read(&root, "got/two"), "two\n");
    assert!(!exists(&root, "one"));
}

#[test]
fn copy_from_an_image() {
    let e = env_or_skip!();
    let root = e.rootfs_of("FROM scratch\nCOPY --from=busybox:latest /etc/passwd /passwd\n");
    assert!(read(&root, "passwd").starts_with("root:x:0:0"));
    assert!(!exists(&root, "bin"));
}

#[test]
fn copy_heredoc_creates_files() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox\nARG WHO=world\nCOPY <<EOT /hello.txt\nhello ${WHO}\nEOT\nCOPY --chmod=755 <<\"A\" <<\"B\" /multi/\nfirst $X\nA\nsecond\nB\n",
    );
    assert_eq!(read(&root, "hello.txt"), "hello world\n");
    assert_eq!(read(&root, "multi/A"), "first $X\n");
    assert_eq!(read(&root, "multi/B"), "second\n");
    assert_eq!(mode(&root, "multi/A"), 0o755);
}

#[test]
fn copy_link_flag_gives_same_files() {
    let e = env_or_skip!();
    let ctx = copy_ctx(&e, "FROM busybox\nCOPY --link dir /linked\n");
    let b = e.build_ok(&ctx, &[]);
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "linked/sub/two.txt"), "2");
    let h = &e.history(&b.id)[0];
    assert!(h.starts_with("COPY ") && h.contains("dir /linked"), "{h}");
}

#[test]
fn copy_parents_keeps_directory_structure() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &copy_ctx(&e, "FROM busybox\nCOPY --parents dir/sub/two.txt /p/\n"),
        &[],
    );
    assert_eq!(read(&root, "p/dir/sub/two.txt"), "2");
}

#[test]
fn double_star_matches_any_depth_including_none() {
    let e = env_or_skip!();
    // The reference's example: `**` matches zero or more path components.
    let df = "FROM busybox AS src\nCOPY dir /dir\nFROM busybox\nCOPY --parents ./dir/**/*.txt /p/\nCOPY --from=src --parents /dir/**/*.txt /q/\n";
    let root = e.rootfs(&copy_ctx(&e, df), &[]);
    for top in ["p", "q"] {
        assert_eq!(read(&root, &format!("{top}/dir/one.txt")), "1");
        assert_eq!(read(&root, &format!("{top}/dir/sub/two.txt")), "2");
        assert!(!exists(&root, &format!("{top}/a.txt")));
    }
}

#[test]
fn copy_exclude_skips_matches() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &copy_ctx(&e, "FROM busybox\nCOPY --exclude=*.log . /all/\n"),
        &[],
    );
    assert!(exists(&root, "all/a.txt"));
    assert!(!exists(&root, "all/c.log"));
}

#[test]
fn add_local_tar_is_extracted() {
    let e = env_or_skip!();
    let ctx = copy_ctx(
        &e,
        "FROM busybox\nADD pack.tar /unpacked/\nADD --chown=7:8 a.txt /added.txt\n",
    );
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o640);
    h.set_uid(42);
    h.set_gid(43);
    tar.append_data(&mut h, "inner/file.txt", &b"inner"[..])
        .unwrap();
    std::fs::write(ctx.join("pack.tar"), tar.into_inner().unwrap()).unwrap();
    let root = e.rootfs(&ctx, &[]);
    assert_eq!(read(&root, "unpacked/inner/file.txt"), "inner");
    assert_eq!(
        owner(&root, "unpacked/inner/file.txt"),
        (42, 43),
        "docker keeps a tar's owners"
    );
    assert_eq!(mode(&root, "unpacked/inner/file.txt"), 0o640);
    assert_eq!(owner(&root, "added.txt"), (7, 8));
}

#[test]
fn copy_does_not_extract_tars() {
    let e = env_or_skip!();
    let ctx = copy_ctx(&e, "FROM busybox\nCOPY pack.tar /c/\n");
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    tar.append_data(&mut h, "x", &b"x"[..]).unwrap();
    std::fs::write(ctx.join("pack.tar"), tar.into_inner().unwrap()).unwrap();
    let root = e.rootfs(&ctx, &[]);
    assert!(exists(&root, "c/pack.tar"));
    assert!(!exists(&root, "c/x"));
}

#[test]
fn dockerignore_excludes_files_and_honours_exceptions() {
    let e = env_or_skip!();
    let ctx = copy_ctx(&e, "FROM busybox\nCOPY . /ctx/\n");
    write(&ctx, "keep.log", "k");
    write(&ctx, ".dockerignore", "*.log\n!keep.log\ndir/sub\nb.txt\n");
    let root = e.rootfs(&ctx, &[]);
    assert!(exists(&root, "ctx/a.txt"));
    assert!(!exists(&root, "ctx/b.txt"));
    assert!(!exists(&root, "ctx/c.log"));
    assert!(exists(&root, "ctx/keep.log"));
    assert!(exists(&root, "ctx/dir/one.txt"));
    assert!(!exists(&root, "ctx/dir/sub"));
}

#[test]
fn per_dockerfile_ignore_file_wins() {
    let e = env_or_skip!();
    let ctx = copy_ctx(&e, "FROM busybox\nCOPY . /ctx/\n");
    write(&ctx, ".dockerignore", "a.txt\n");
    write(&ctx, "build/app.Dockerfile", "FROM busybox\nCOPY . /ctx/\n");
    write(&ctx, "build/app.Dockerfile.dockerignore", "b.txt\n");
    let f = ctx.join("build/app.Dockerfile");
    let root = e.rootfs(&ctx, &["-f", f.to_str().unwrap()]);
    assert!(
        exists(&root, "ctx/a.txt"),
        "the context's .dockerignore must not apply"
    );
    assert!(!exists(&root, "ctx/b.txt"));
    let root = e.rootfs(&ctx, &[]);
    assert!(!exists(&root, "ctx/a.txt"));
    assert!(exists(&root, "ctx/b.txt"));
}

#[test]
fn copy_of_ignored_file_fails() {
    let e = env_or_skip!();
    let ctx = copy_ctx(&e, "FROM busybox\nCOPY c.log /\n");
    write(&ctx, ".dockerignore", "*.log\n");
    let err = e.build_err(&ctx, &[]);
    assert!(err.contains("c.log"), "{err}");
    assert!(err.contains("Dockerfile:2"), "{err}");
}

#[test]
fn copy_into_a_symlinked_directory_follows_it() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &copy_ctx(
            &e,
            "FROM busybox\nRUN mkdir -p /real /opt/rel && ln -s /real /via && ln -s opt/rel /r\nCOPY a.txt /via/\nCOPY b.txt /r/sub/\n",
        ),
        &[],
    );
    assert_eq!(read(&root, "real/a.txt"), "A");
    assert_eq!(read(&root, "opt/rel/sub/b.txt"), "B");
    assert!(std::fs::read_link(root.join("via")).is_ok());
}

#[test]
fn copy_history_and_layer_contents() {
    let e = env_or_skip!();
    let b = e.build_ok(
        &copy_ctx(
            &e,
            "FROM busybox\nCOPY a.txt /x/\nCOPY --chown=1:2 --chmod=600 a.txt /y\nADD --chown=3 a.txt /z\n",
        ),
        &[],
    );
    // As docker 20.10's BuildKit writes them: sources and destination, no flags.
    assert_eq!(
        e.history(&b.id)[..3],
        [
            "ADD a.txt /z # buildkit",
            "COPY a.txt /y # buildkit",
            "COPY a.txt /x/ # buildkit"
        ]
    );
    let layers = layers(&e, &b.id);
    let names: Vec<String> = tar_entries(&layers[layers.len() - 3])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.iter().any(|n| n == "x/a.txt"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("bin")), "{names:?}");
}

#[test]
fn copy_contents_into_existing_dir_keeps_its_owner() {
    let e = env_or_skip!();
    let root = e.rootfs(
        &copy_ctx(
            &e,
            "FROM busybox\nWORKDIR /srv\nCOPY --chown=1000:1000 dir/ ./\nCOPY --chown=7:7 dir /fresh\n",
        ),
        &[],
    );
    assert_eq!(
        owner(&root, "srv"),
        (0, 0),
        "existing destination untouched"
    );
    assert_eq!(owner(&root, "srv/one.txt"), (1000, 1000));
    assert_eq!(owner(&root, "srv/sub"), (1000, 1000));
    assert_eq!(
        owner(&root, "fresh"),
        (7, 7),
        "a new destination gets --chown"
    );
}

#[test]
fn copy_from_stage_keeps_setuid_and_hard_links() {
    let e = env_or_skip!();
    let root = e.rootfs_of(
        "FROM busybox AS b\nRUN mkdir /o && echo t > /o/tool && chmod 4755 /o/tool && ln /o/tool /o/alias\nFROM busybox\nCOPY --from=b /o /copied\nCOPY --from=b --chown=5:5 /o/tool /owned-tool\n",
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(mode(&root, "copied/tool"), 0o4755);
    assert_eq!(
        mode(&root, "owned-tool"),
        0o4755,
        "chown must not clear setuid"
    );
    assert_eq!(owner(&root, "owned-tool"), (5, 5));
    let a = std::fs::metadata(root.join("copied/tool")).unwrap();
    let b = std::fs::metadata(root.join("copied/alias")).unwrap();
    assert_eq!(a.ino(), b.ino(), "hard links stay linked");
}
