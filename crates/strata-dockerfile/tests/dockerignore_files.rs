//! Choosing the ignore file for a Dockerfile, and walking a context.

use std::collections::BTreeMap;
use std::path::Path;

use strata_dockerfile::dockerignore::{
    ignore_file_for, load_ignore_file, walk, IgnoreFile, IgnoreLocation, Matcher,
};

#[test]
fn candidates_for_dockerfile() {
    let c = ignore_file_for("build/app.Dockerfile");
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].location, IgnoreLocation::BesideDockerfile);
    assert_eq!(c[0].name, "app.Dockerfile.dockerignore");
    assert_eq!(c[1].location, IgnoreLocation::ContextRoot);
    assert_eq!(c[1].name, ".dockerignore");
    let stdin = ignore_file_for("-");
    assert_eq!(stdin.len(), 1);
    assert_eq!(stdin[0].location, IgnoreLocation::ContextRoot);
}

#[test]
fn dockerfile_specific_file_wins() {
    let mut files = BTreeMap::new();
    files.insert((IgnoreLocation::ContextRoot as u8, ".dockerignore"), "a\n");
    files.insert(
        (
            IgnoreLocation::BesideDockerfile as u8,
            "Dockerfile.dockerignore",
        ),
        "b\n",
    );
    let read = |c: &strata_dockerfile::dockerignore::IgnoreCandidate| {
        Ok(files
            .get(&(c.location as u8, c.name.as_str()))
            .map(|s| s.to_string()))
    };
    let (chosen, file) = load_ignore_file("Dockerfile", read).unwrap().unwrap();
    assert_eq!(chosen.location, IgnoreLocation::BesideDockerfile);
    assert_eq!(file.patterns(), ["b"]);
    let (chosen, file) = load_ignore_file("other.Dockerfile", read).unwrap().unwrap();
    assert_eq!(chosen.location, IgnoreLocation::ContextRoot);
    assert_eq!(file.patterns(), ["a"]);
    let none = load_ignore_file("x", |_| Ok(None)).unwrap();
    assert!(none.is_none());
    let err = load_ignore_file("x", |_| Ok(Some("[".to_string()))).unwrap_err();
    assert!(
        err.to_string().starts_with("x.dockerignore line 1: "),
        "{err}"
    );
}

fn make_tree(root: &Path, files: &[&str]) {
    for f in files {
        let p = root.join(f);
        if let Some(stripped) = f.strip_suffix('/') {
            std::fs::create_dir_all(root.join(stripped)).unwrap();
        } else {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f.as_bytes()).unwrap();
        }
    }
}

fn listed(root: &Path, m: &Matcher) -> Vec<String> {
    walk(root, m)
        .map(|e| {
            let e = e.unwrap();
            format!(
                "{}{}{}",
                e.path,
                if e.file_type.is_dir() { "/" } else { "" },
                if e.implied { " (implied)" } else { "" }
            )
        })
        .collect()
}

const TREE: &[&str] = &[
    "Dockerfile",
    ".dockerignore",
    "foo",
    "bar",
    "baz",
    "bay",
    "node_modules/a/index.js",
    "node_modules/keep/x.js",
    "src/main.go",
    "src/gen/out.go",
    "src/gen/out.txt",
    "docs/",
    "logs/a.log",
    "logs/deep/b.log",
];

#[test]
fn walk_applies_rules_and_prunes() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), TREE);
    let file = IgnoreFile::parse(
        "ba*\nDockerfile\n!bay\n.dockerignore\nnode_modules\n!node_modules/keep\nsrc/gen\n!**/*.go\nlogs/**\ndocs\n",
    )
    .unwrap();
    let got = listed(dir.path(), file.matcher());
    assert_eq!(
        got,
        [
            "bay",
            "foo",
            "logs/",
            "node_modules/ (implied)",
            "node_modules/keep/",
            "node_modules/keep/x.js",
            "src/",
            "src/gen/ (implied)",
            "src/gen/out.go",
            "src/main.go",
        ]
    );
    // Every walked path agrees with the matcher's own answer.
    for item in walk(dir.path(), file.matcher()) {
        let e = item.unwrap();
        assert_eq!(file.matcher().matches(&e.path), e.implied, "{}", e.path);
    }
}

#[test]
fn walk_without_rules_lists_everything() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), TREE);
    let all = listed(dir.path(), &Matcher::default());
    assert_eq!(all.len(), TREE.len() + 7); // plus the directories
    assert!(all.contains(&"logs/deep/".to_string()));
}

#[test]
fn walk_reports_missing_root() {
    let m = Matcher::default();
    let mut w = walk(Path::new("/nonexistent/strata/context"), &m);
    let err = w.next().unwrap().unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/strata/context"),
        "{err}"
    );
    assert!(w.next().is_none());
}

#[test]
fn walk_reports_symlinks_without_following() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path(), &["real/inside.txt"]);
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
    let got = listed(dir.path(), &Matcher::default());
    assert_eq!(got, ["link", "real/", "real/inside.txt"]);
    let m = Matcher::new(&["real"]).unwrap();
    assert_eq!(listed(dir.path(), &m), ["link"]);
}
