//! Benchmarks for word expansion, Dockerfile parsing, `.dockerignore`
//! matching and the context walker.
//!
//! Run: `cargo bench -p strata-dockerfile --bench expand_match`.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use strata_dockerfile::dockerignore::{walk, IgnoreFile};
use strata_dockerfile::shell::Lexer;

/// A small deterministic generator so inputs are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// A 5,000-line Dockerfile exercising every expansion form.
fn dockerfile(lines: usize) -> String {
    let mut out = String::from(
        "# syntax=docker/dockerfile:1\nARG BASE=debian:bookworm\nFROM ${BASE} AS build\n",
    );
    let mut i = 3;
    while i < lines {
        let line = match i % 6 {
            0 => format!("ENV V{i}=value-{i} PATH=/opt/v{i}/bin:$PATH\n"),
            1 => format!("ARG A{i}=${{V{}:-default}}\n", i - 1),
            2 => format!(
                "RUN echo \"${{A{}}}\" '$literal' ${{HOME:+home}} > /tmp/out{i}\n",
                i - 1
            ),
            3 => format!(
                "COPY --chown=${{UID:-1000}} src/${{NAME:-app}}/file{i}.txt /dst/${{V{}%-*}}/\n",
                i - 3
            ),
            4 => {
                format!("LABEL l{i}=\"${{VERSION:-1.0}}-${{GIT_SHA#sha-}}\" other=${{PATH//:/;}}\n")
            }
            _ => format!("WORKDIR /work/${{A{}##*-}}/sub{i}\n", i - 4),
        };
        out.push_str(&line);
        i += 1;
    }
    out
}

fn bench_expand(c: &mut Criterion) {
    let text = dockerfile(5000);
    let words: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest))
        .collect();
    let mut env: HashMap<String, String> = (0..5000)
        .step_by(6)
        .map(|i| (format!("V{i}"), format!("value-{i}")))
        .collect();
    env.insert("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into());
    env.insert("HOME".into(), "/root".into());
    env.insert("GIT_SHA".into(), "sha-0123456789abcdef".into());
    let lexer = Lexer::new('\\');
    let mut g = c.benchmark_group("dockerfile-5000-lines");
    g.throughput(Throughput::Elements(words.len() as u64));
    g.bench_function("expand-words", |b| {
        b.iter(|| {
            let mut n = 0;
            for w in &words {
                n += lexer
                    .process_words(w, &env)
                    .map(|(w, _)| w.len())
                    .unwrap_or(0);
            }
            black_box(n)
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(strata_dockerfile::parse(&text, "Dockerfile").is_ok()))
    });
    g.bench_function("parse+expand", |b| {
        b.iter(|| {
            let ok = strata_dockerfile::parse(&text, "Dockerfile").is_ok();
            let mut n = 0;
            for w in &words {
                n += lexer
                    .process_words(w, &env)
                    .map(|(w, _)| w.len())
                    .unwrap_or(0);
            }
            black_box((ok, n))
        })
    });
    g.finish();
}

/// A 50-rule ignore file mixing every pattern class.
fn rules() -> String {
    let mut r = vec![
        "*.log",
        "**/*.tmp",
        "node_modules",
        "!node_modules/keep",
        "build/",
        "!build/keep*",
        "docs/**/*.md",
        "!docs/README.md",
        "[abc]*.bak",
        "**/.git",
        "target/**",
        "*.o",
        "**/__pycache__",
        "dist/*.whl",
        "coverage",
        "tmp?",
        "secret*",
        "!secret-public*",
        ".env",
        ".env.*",
        "**/testdata/**/large-*",
        "vendor",
        "!vendor/modules.txt",
        "*.swp",
        "**/*.orig",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    for i in 0..25 {
        r.push(format!(
            "generated/part{i}/**/*.{}",
            ["json", "bin", "dat"][i % 3]
        ));
    }
    r.join("\n")
}

fn paths(n: usize) -> Vec<String> {
    let dirs = [
        "src",
        "lib",
        "node_modules",
        "build",
        "docs",
        "generated",
        "tests",
        "a",
        "b",
        "vendor",
        "pkg",
        "testdata",
    ];
    let files = [
        "main.go",
        "x.log",
        "y.tmp",
        "README.md",
        "index.js",
        "part3",
        "out.o",
        "data.json",
        "keep.txt",
        "c.bak",
    ];
    let mut rng = Rng(0x5eed);
    (0..n)
        .map(|_| {
            let depth = 1 + (rng.next() % 6) as usize;
            let mut p: Vec<&str> = (0..depth).map(|_| rng.pick(&dirs)).collect();
            p.push(rng.pick(&files));
            p.join("/")
        })
        .collect()
}

fn bench_match(c: &mut Criterion) {
    let file = IgnoreFile::parse(&rules()).unwrap();
    assert_eq!(file.patterns().len(), 50);
    let m = file.matcher();
    let paths = paths(100_000);
    let mut g = c.benchmark_group("dockerignore-50-rules");
    g.throughput(Throughput::Elements(paths.len() as u64));
    g.sample_size(10);
    g.bench_function("match-100000-paths", |b| {
        b.iter(|| black_box(paths.iter().filter(|p| m.matches(p)).count()))
    });
    g.finish();
}

/// Writes `files` empty files spread over nested directories.
fn make_tree(root: &Path, files: usize) {
    let dirs = [
        "src",
        "lib",
        "node_modules",
        "build",
        "docs",
        "generated",
        "tests",
        "vendor",
    ];
    let names = [
        "main.go",
        "x.log",
        "y.tmp",
        "README.md",
        "index.js",
        "data.json",
        "keep.txt",
    ];
    let mut rng = Rng(0xfeed);
    for i in 0..files {
        let depth = 1 + (rng.next() % 4) as usize;
        let mut dir = root.to_path_buf();
        for _ in 0..depth {
            dir.push(rng.pick(&dirs));
        }
        dir.push(format!("d{}", i % 50));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{i}-{}", rng.pick(&names))), b"").unwrap();
    }
}

fn bench_walk(c: &mut Criterion) {
    let file = IgnoreFile::parse(&rules()).unwrap();
    let mut g = c.benchmark_group("walk");
    g.sample_size(10);
    for files in [5_000, 20_000] {
        let dir = tempfile::tempdir().unwrap();
        make_tree(dir.path(), files);
        let visited = walk(dir.path(), &Default::default()).count();
        g.throughput(Throughput::Elements(visited as u64));
        g.bench_with_input(BenchmarkId::new("50-rules", files), &files, |b, _| {
            b.iter(|| {
                black_box(
                    walk(dir.path(), file.matcher())
                        .filter(|e| e.is_ok())
                        .count(),
                )
            })
        });
        let none = Default::default();
        g.bench_with_input(BenchmarkId::new("no-rules", files), &files, |b, _| {
            b.iter(|| black_box(walk(dir.path(), &none).filter(|e| e.is_ok()).count()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_expand, bench_match, bench_walk);
criterion_main!(benches);
