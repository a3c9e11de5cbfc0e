//! `.dockerignore` files: reading, matching and walking a build context.
//!
//! The semantics are Docker's (its pattern matcher module, shared by the
//! CLI and BuildKit):
//!
//! * Reading ([`IgnoreFile::parse`]): a UTF-8 byte-order mark is dropped;
//!   lines whose first character is `#` are comments (a `#` after leading
//!   blanks is not); lines are trimmed and blank ones dropped; a leading `!`
//!   marks an exception; each pattern is lexically cleaned (`a//b/../c` →
//!   `a/c`, `docs/` → `docs`) and loses one leading `/`.
//! * Patterns: `*` and `?` never match `/`; `[...]` and `[^...]` classes;
//!   `\` escapes; `**` matches any number of directories (`abc/**` matches
//!   below `abc` but not `abc` itself).
//! * Matching ([`Matcher::matches`]): a path is excluded when the last
//!   pattern that matches the path *or one of its parent directories* is not
//!   an exception. So a pattern naming a directory excludes its contents,
//!   and `!` exceptions listed later re-include.
//! * Which file applies ([`ignore_file_for`]): `<Dockerfile name>.dockerignore`
//!   beside the Dockerfile wins over `.dockerignore` at the context root.
//!
//! [`walk`] lists a context directory with these rules, skipping excluded
//! directories unless an exception could re-include something below them.
//!
//! ```
//! use strata_dockerfile::dockerignore::IgnoreFile;
//!
//! let file = IgnoreFile::parse("ba*\nDockerfile\n!bay\n.dockerignore\n").unwrap();
//! let m = file.matcher();
//! assert!(m.matches("bar") && m.matches("baz/x"));
//! assert!(!m.matches("bay") && !m.matches("foo"));
//! ```
//!
//! Strata differs from Docker in one deliberate way: a pattern Docker
//! accepts when the file is read but that fails on first use (an inverted
//! class range such as `[z-a]`, an escape like `\y`) is rejected when the
//! matcher is built, with the pattern and line named.

mod clean;
mod glob;
mod walk;

pub use clean::clean;
pub use glob::Pattern;
pub use walk::{walk, Walk, WalkEntry};

/// What went wrong; callers branch on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IgnoreErrorKind {
    /// A malformed pattern (`[`, trailing `\`, inverted range ...).
    BadPattern,
    /// A lone `!`.
    IllegalExclusion,
    /// Reading the context or the ignore file failed.
    Io,
}

/// A `.dockerignore` failure.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct IgnoreError {
    kind: IgnoreErrorKind,
    message: String,
    #[source]
    source: Option<std::io::Error>,
}

impl IgnoreError {
    pub(crate) fn new(kind: IgnoreErrorKind, message: String) -> Self {
        IgnoreError {
            kind,
            message,
            source: None,
        }
    }

    pub(crate) fn io(path: &std::path::Path, err: std::io::Error) -> Self {
        IgnoreError {
            kind: IgnoreErrorKind::Io,
            message: format!("cannot read {}: {err}", path.display()),
            source: Some(err),
        }
    }

    /// The category of the failure.
    pub fn kind(&self) -> IgnoreErrorKind {
        self.kind
    }

    fn at_line(mut self, name: &str, line: usize) -> Self {
        self.message = format!("{name} line {line}: {}", self.message);
        self
    }
}

/// Splits `text` into patterns the way Docker reads a `.dockerignore` file,
/// returning each with its 1-based line number. A lone `!` is kept (it is
/// rejected by [`Matcher::new`]).
pub fn read_patterns(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut out = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        out.push((n + 1, cleaned));
    }
    out
}

/// A parsed and validated `.dockerignore` file.
#[derive(Debug, Clone)]
pub struct IgnoreFile {
    patterns: Vec<String>,
    matcher: Matcher,
}

impl IgnoreFile {
    /// Reads and compiles a `.dockerignore` text; errors name the line.
    pub fn parse(text: &str) -> Result<IgnoreFile, IgnoreError> {
        IgnoreFile::parse_named(text, ".dockerignore")
    }

    /// Like [`IgnoreFile::parse`], naming the file `name` in errors.
    pub fn parse_named(text: &str, name: &str) -> Result<IgnoreFile, IgnoreError> {
        let lines = read_patterns(text);
        let mut compiled = Vec::with_capacity(lines.len());
        for (line, p) in &lines {
            if let Some(pattern) = compile_one(p).map_err(|e| e.at_line(name, *line))? {
                compiled.push(pattern);
            }
        }
        Ok(IgnoreFile {
            patterns: lines.into_iter().map(|(_, p)| p).collect(),
            matcher: Matcher::from_patterns(compiled),
        })
    }

    /// The patterns as Docker lists them after reading the file.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The matcher for these patterns.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Takes the matcher out.
    pub fn into_matcher(self) -> Matcher {
        self.matcher
    }
}

/// Compiles one pattern string as Docker's matcher constructor does: trim,
/// skip empty, clean, split off `!`.
fn compile_one(raw: &str) -> Result<Option<Pattern>, IgnoreError> {
    let p = raw.trim();
    if p.is_empty() {
        return Ok(None);
    }
    let p = clean(p);
    let (exclusion, body) = match p.strip_prefix('!') {
        Some("") => {
            return Err(IgnoreError::new(
                IgnoreErrorKind::IllegalExclusion,
                "illegal exclusion pattern: \"!\"".to_string(),
            ))
        }
        Some(rest) => (true, rest),
        None => (false, p.as_str()),
    };
    Pattern::compile(body, exclusion).map(Some)
}

/// An ordered list of patterns deciding which paths are excluded.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

/// Per-pattern results for a directory, handed to its children so each
/// path is matched once per pattern instead of once per ancestor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    /// `hits[i]`: pattern `i` matched the directory or one of its parents.
    hits: Vec<bool>,
}

impl Matcher {
    /// Builds a matcher from pattern strings (already read from a file, so
    /// without comments; a leading `/` is significant here).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, IgnoreError> {
        let mut compiled = Vec::with_capacity(patterns.len());
        for p in patterns {
            compiled.extend(compile_one(p.as_ref())?);
        }
        Ok(Matcher::from_patterns(compiled))
    }

    fn from_patterns(patterns: Vec<Pattern>) -> Matcher {
        let exclusions = patterns.iter().any(Pattern::is_exclusion);
        Matcher {
            patterns,
            exclusions,
        }
    }

    /// The compiled patterns in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether any pattern is a `!` exception.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// Whether `path` (slash-separated, relative to the context root) is
    /// excluded from the context. The path is cleaned first and the root
    /// itself is never excluded.
    pub fn matches(&self, path: &str) -> bool {
        let path = clean(path);
        if path == "." {
            return false;
        }
        self.matches_clean(&path)
    }

    /// Parent matching for a path known to be clean: the parents are the
    /// prefixes ending before each `/`, so each pattern needs one pass over
    /// the path, whatever its depth.
    fn matches_clean(&self, path: &str) -> bool {
        let ends: Vec<usize> = path.match_indices('/').map(|(i, _)| i).collect();
        self.decide(|p| p.matches_self_or_prefix(path, &ends))
    }

    /// Docker's `MatchesOrParentMatches`: the last pattern that matches
    /// `path` or one of its parent directories decides. `path` is used as
    /// given (not cleaned).
    pub fn matches_or_parent_matches(&self, path: &str) -> bool {
        if clean(path) == path {
            return self.matches_clean(path);
        }
        let parents = parent_prefixes(path);
        self.decide(|p| p.matches(path) || parents.iter().any(|dir| p.matches(dir)))
    }

    /// Whether the last pattern matching exactly `path` (no parent
    /// matching) is not an exception.
    pub fn matches_exact(&self, path: &str) -> bool {
        self.decide(|p| p.matches(path))
    }

    /// Matches `path` whose parent directory produced `parent` (use
    /// `MatchInfo::default()` for top-level entries). Returns the decision
    /// and the info to hand to `path`'s own children. Equivalent to
    /// [`Matcher::matches_or_parent_matches`] for paths walked from the root.
    pub fn matches_with_parent(&self, path: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let hits: Vec<bool> = self
            .patterns
            .iter()
            .enumerate()
            .map(|(i, p)| parent.hits.get(i).copied().unwrap_or(false) || p.matches(path))
            .collect();
        let excluded = self.last_hit(&hits);
        (excluded, MatchInfo { hits })
    }

    /// Like [`Matcher::matches_with_parent`] for a leaf: stops at the last
    /// matching pattern and returns no info.
    pub fn matches_leaf(&self, path: &str, parent: &MatchInfo) -> bool {
        self.decide_indexed(|i, p| parent.hits.get(i).copied().unwrap_or(false) || p.matches(path))
    }

    /// Whether some path strictly below the excluded directory `dir` could
    /// be re-included by an exception, so the directory must be walked.
    pub fn could_include_under(&self, dir: &str) -> bool {
        self.exclusions
            && self
                .patterns
                .iter()
                .any(|p| p.is_exclusion() && p.could_match_under(dir))
    }

    fn last_hit(&self, hits: &[bool]) -> bool {
        self.patterns
            .iter()
            .zip(hits)
            .rev()
            .find(|(_, hit)| **hit)
            .is_some_and(|(p, _)| !p.is_exclusion())
    }

    fn decide(&self, hit: impl Fn(&Pattern) -> bool) -> bool {
        self.decide_indexed(|_, p| hit(p))
    }

    /// The last matching pattern wins; scanning from the end stops early.
    fn decide_indexed(&self, hit: impl Fn(usize, &Pattern) -> bool) -> bool {
        self.patterns
            .iter()
            .enumerate()
            .rev()
            .find(|(i, p)| hit(*i, p))
            .is_some_and(|(_, p)| !p.is_exclusion())
    }
}

/// The parent directories Docker checks for `path`: the cleaned directory
/// part split at `/`, as growing prefixes (`a/b/c` → `a`, `a/b`); nothing
/// for a top-level path.
fn parent_prefixes(path: &str) -> Vec<String> {
    let dir = match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => return Vec::new(),
    };
    if dir == "." {
        return Vec::new();
    }
    let parts: Vec<&str> = dir.split('/').collect();
    (1..=parts.len()).map(|k| parts[..k].join("/")).collect()
}

/// Where an ignore-file candidate lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreLocation {
    /// In the directory that holds the Dockerfile.
    BesideDockerfile,
    /// At the root of the build context.
    ContextRoot,
}

/// One file that may hold the ignore rules for a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreCandidate {
    /// Where to look.
    pub location: IgnoreLocation,
    /// The file name there.
    pub name: String,
}

/// The ignore files for a Dockerfile, best first: `<name>.dockerignore`
/// beside the Dockerfile, then `.dockerignore` in the context root. The
/// first one that exists is used, the others are ignored. A Dockerfile read
/// from standard input (`-`) has only the context-root candidate.
pub fn ignore_file_for(dockerfile_name: &str) -> Vec<IgnoreCandidate> {
    let base = dockerfile_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(dockerfile_name);
    let mut out = Vec::with_capacity(2);
    if !base.is_empty() && base != "-" {
        out.push(IgnoreCandidate {
            location: IgnoreLocation::BesideDockerfile,
            name: format!("{base}.dockerignore"),
        });
    }
    out.push(IgnoreCandidate {
        location: IgnoreLocation::ContextRoot,
        name: ".dockerignore".to_string(),
    });
    out
}

/// Finds and parses the ignore file for a Dockerfile. `read` returns a
/// candidate's text, or `None` when it does not exist. Returns the chosen
/// candidate with its rules, or `None` when no candidate exists.
pub fn load_ignore_file<F>(
    dockerfile_name: &str,
    mut read: F,
) -> Result<Option<(IgnoreCandidate, IgnoreFile)>, IgnoreError>
where
    F: FnMut(&IgnoreCandidate) -> std::io::Result<Option<String>>,
{
    for candidate in ignore_file_for(dockerfile_name) {
        let text = read(&candidate)
            .map_err(|e| IgnoreError::io(std::path::Path::new(&candidate.name), e))?;
        if let Some(text) = text {
            let file = IgnoreFile::parse_named(&text, &candidate.name)?;
            return Ok(Some((candidate, file)));
        }
    }
    Ok(None)
}
