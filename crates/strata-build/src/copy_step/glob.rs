//! Wildcard sources: `fnmatch` per path component, `**`, and matching against the context
//! or a directory.

use std::fs;
use std::path::Path;

pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `fnmatch` for one path component: `*`, `?`, `[...]` (with `!`/`^` negation), `\` escapes.
pub fn glob_component(pattern: &str, name: &str) -> bool {
    fn inner(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| inner(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && inner(&p[1..], &n[1..]),
            Some('[') => {
                let Some(c) = n.first() else { return false };
                let mut i = 1;
                let negate = matches!(p.get(1), Some('!') | Some('^'));
                if negate {
                    i += 1;
                }
                let mut matched = false;
                let start = i;
                while i < p.len() && (p[i] != ']' || i == start) {
                    if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                        matched |= p[i] <= *c && *c <= p[i + 2];
                        i += 3;
                    } else {
                        matched |= p[i] == *c;
                        i += 1;
                    }
                }
                if i >= p.len() {
                    return false;
                }
                matched != negate && inner(&p[i + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && inner(&p[2..], &n[1..]),
            Some(c) => n.first() == Some(c) && inner(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    inner(&p, &n)
}

/// Whether a relative path matches a wildcard source, component by component; a `**`
/// component matches any number of components, including none.
pub fn glob_path(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| glob_path(rest, &path[skip..])),
        Some((p, rest)) => {
            !path.is_empty() && glob_component(p, path[0]) && glob_path(rest, &path[1..])
        }
    }
}

/// Context paths matching a wildcard source (already cleaned).
pub fn glob_context(ctx: &crate::context::Context, rel: &str) -> Vec<String> {
    let pattern: Vec<&str> = rel.split('/').collect();
    ctx.entries()
        .filter(|e| {
            let comps: Vec<&str> = e.path.split('/').collect();
            glob_path(&pattern, &comps)
        })
        .map(|e| e.path.clone())
        .collect()
}

/// Every path below `dir` (relative to `root`), depth first in name order.
pub(super) fn all_paths(root: &Path, dir: &str, out: &mut Vec<String>) {
    let Ok(rd) = fs::read_dir(root.join(dir)) else {
        return;
    };
    let mut entries: Vec<(String, bool)> = rd
        .flatten()
        .map(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (e.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .collect();
    entries.sort();
    for (name, is_dir) in entries {
        let rel = if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        };
        out.push(rel.clone());
        if is_dir {
            all_paths(root, &rel, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let path = |p: &str, x: &str| {
            glob_path(
                &p.split('/').collect::<Vec<_>>(),
                &x.split('/').collect::<Vec<_>>(),
            )
        };
        assert!(path("src/**/*.txt", "src/a.txt"));
        assert!(path("src/**/*.txt", "src/x/y/c.txt"));
        assert!(!path("src/**/*.txt", "other/a.txt"));
        assert!(path("**/b", "b") && path("**/b", "a/b") && !path("**/b", "a/c"));
        assert!(path("a/*/c", "a/b/c") && !path("a/*/c", "a/b/x/c"));
        assert!(glob_component("*.txt", "a.txt"));
        assert!(!glob_component("*.txt", "a.rs"));
        assert!(glob_component("file?", "file1"));
        assert!(glob_component("[a-c]x", "bx"));
        assert!(!glob_component("[!a-c]x", "bx"));
    }
}
