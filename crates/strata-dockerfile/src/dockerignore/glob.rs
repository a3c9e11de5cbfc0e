//! One `.dockerignore` pattern: syntax check, compilation and matching.
//!
//! Docker validates a pattern with Go's `filepath.Match` rules and then
//! classifies it: a pattern without wildcards compares for equality, a
//! literal followed by a final `**` is a prefix test, a pattern starting
//! with `**` and otherwise literal is a suffix test, and anything else is a
//! regular expression in which `*` and `?` never cross `/`, `**/` matches
//! any number of leading directories and a final `**` matches anything.
//! Those classes and their quirks are kept here (`**file` is a plain suffix
//! test, so it also matches `xfile`). The expression itself runs on a small
//! position-set automaton instead of a regex engine: time is linear in the
//! path length times the pattern length and there is no backtracking.

use super::{IgnoreError, IgnoreErrorKind};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// One specific character.
    Literal(char),
    /// `?`: one character other than `/`.
    AnyNotSlash,
    /// `[...]`: one character in (or, negated, not in) the ranges; may be `/`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**` at the end: any run of characters other than a newline.
    AnyAll,
    /// `**/` or inner `**`: nothing, or any run ending in `/`.
    OptDirs,
    /// A bare `^`: matches only at the start of the path.
    Anchor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix(String),
    Suffix(String),
    Tokens(Automaton),
}

/// An expression pattern with the literal text it must start and end with,
/// used to reject most paths without running the automaton.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Automaton {
    tokens: Vec<Token>,
    head: String,
    tail: String,
}

impl Automaton {
    fn new(tokens: Vec<Token>) -> Automaton {
        let lit = |t: &Token| match t {
            Token::Literal(c) => Some(*c),
            _ => None,
        };
        let head: String = tokens.iter().map_while(lit).collect();
        let mut tail: Vec<char> = tokens.iter().rev().map_while(lit).collect();
        tail.reverse();
        Automaton {
            tokens,
            head,
            tail: tail.into_iter().collect(),
        }
    }

    fn full(&self, path: &str) -> bool {
        path.starts_with(&self.head)
            && path.ends_with(&self.tail)
            && run(&self.tokens, path, Mode::Full)
    }

    fn self_or_prefix(&self, path: &str, ends: &[usize]) -> bool {
        if !path.starts_with(&self.head) {
            return false;
        }
        let tail_fits = |e: usize| path[..e].ends_with(&self.tail);
        if !tail_fits(path.len()) && !ends.iter().any(|&e| tail_fits(e)) {
            return false;
        }
        run(&self.tokens, path, Mode::Marks(ends))
    }
}

/// A compiled pattern (without its leading `!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    exclusion: bool,
    kind: Kind,
}

fn bad(pattern: &str, why: &str) -> IgnoreError {
    IgnoreError::new(
        IgnoreErrorKind::BadPattern,
        format!("syntax error in pattern {pattern:?}: {why}"),
    )
}

/// Checks `pattern` with the syntax rules of Go's `filepath.Match`: classes
/// must be closed and non-empty, range ends may not be `-` or `]`, and a
/// backslash must escape something.
fn validate(pattern: &str) -> Result<(), IgnoreError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    // Reads one class member, honouring `\` escapes.
    let get_esc = |i: &mut usize| -> Result<char, IgnoreError> {
        let mut c = *chars
            .get(*i)
            .ok_or_else(|| bad(pattern, "unterminated character class"))?;
        if c == '-' || c == ']' {
            return Err(bad(
                pattern,
                "missing range start or end in character class",
            ));
        }
        if c == '\\' {
            *i += 1;
            c = *chars
                .get(*i)
                .ok_or_else(|| bad(pattern, "trailing backslash"))?;
        }
        *i += 1;
        if *i >= chars.len() {
            return Err(bad(pattern, "unterminated character class"));
        }
        Ok(c)
    };
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return Err(bad(pattern, "trailing backslash"));
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut n = 0;
                loop {
                    if chars.get(i) == Some(&']') && n > 0 {
                        i += 1;
                        break;
                    }
                    get_esc(&mut i)?;
                    if chars[i] == '-' {
                        i += 1;
                        get_esc(&mut i)?;
                    }
                    n += 1;
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Parses the class starting after `[` at `chars[*i]`; consumes the `]`.
fn parse_class(pattern: &str, chars: &[char], i: &mut usize) -> Result<Token, IgnoreError> {
    let negated = chars.get(*i) == Some(&'^');
    if negated {
        *i += 1;
    }
    let mut ranges = Vec::new();
    let member = |i: &mut usize| -> Result<char, IgnoreError> {
        let c = *chars
            .get(*i)
            .ok_or_else(|| bad(pattern, "unterminated character class"))?;
        *i += 1;
        if c == '\\' {
            let e = *chars
                .get(*i)
                .ok_or_else(|| bad(pattern, "trailing backslash"))?;
            *i += 1;
            return Ok(e);
        }
        Ok(c)
    };
    loop {
        if chars.get(*i) == Some(&']') && !ranges.is_empty() {
            *i += 1;
            return Ok(Token::Class { negated, ranges });
        }
        let lo = member(i)?;
        let mut hi = lo;
        if chars.get(*i) == Some(&'-') && chars.get(*i + 1).is_some_and(|c| *c != ']') {
            *i += 1;
            hi = member(i)?;
        }
        if lo > hi {
            return Err(bad(
                pattern,
                &format!("invalid character class range {lo}-{hi}"),
            ));
        }
        ranges.push((lo, hi));
    }
}

/// Turns the escaped character of `\c` into a token. Escaped punctuation is
/// literal; the control-character escapes keep their meaning; other letters
/// and digits are rejected rather than given a regex meaning.
fn escaped(pattern: &str, c: char) -> Result<Token, IgnoreError> {
    let lit = match c {
        'a' => '\u{7}',
        'f' => '\u{c}',
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'v' => '\u{b}',
        c if c.is_ascii_punctuation() => c,
        c => return Err(bad(pattern, &format!("unsupported escape \\{c}"))),
    };
    Ok(Token::Literal(lit))
}

impl Pattern {
    /// Compiles one cleaned pattern (`exclusion` is whether it had a `!`).
    pub(super) fn compile(text: &str, exclusion: bool) -> Result<Pattern, IgnoreError> {
        validate(text)?;
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut kind_tag = 'e'; // e = exact, p = prefix, s = suffix, r = regexp
        let mut i = 0;
        let mut step = 0;
        while i < chars.len() {
            let ch = chars[i];
            i += 1;
            match ch {
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    if i >= chars.len() {
                        if kind_tag == 'e' {
                            kind_tag = 'p';
                        } else {
                            tokens.push(Token::AnyAll);
                            kind_tag = 'r';
                        }
                    } else {
                        tokens.push(Token::OptDirs);
                        kind_tag = 'r';
                    }
                    if step == 0 {
                        kind_tag = 's';
                    }
                }
                '*' => {
                    tokens.push(Token::Star);
                    kind_tag = 'r';
                }
                '?' => {
                    tokens.push(Token::AnyNotSlash);
                    kind_tag = 'r';
                }
                '\\' => {
                    let c = chars[i];
                    i += 1;
                    tokens.push(escaped(text, c)?);
                    kind_tag = 'r';
                }
                '[' => {
                    tokens.push(parse_class(text, &chars, &mut i)?);
                    kind_tag = 'r';
                }
                ']' => {
                    tokens.push(Token::Literal(']'));
                    kind_tag = 'r';
                }
                '^' => tokens.push(Token::Anchor),
                // Includes `.+()|{}$`, which Docker escapes in its expression.
                c => tokens.push(Token::Literal(c)),
            }
            step += 1;
        }
        let kind = match kind_tag {
            'e' => Kind::Exact,
            'p' => Kind::Prefix(text[..text.len() - 2].to_string()),
            's' => Kind::Suffix(text[2..].to_string()),
            _ => Kind::Tokens(Automaton::new(tokens)),
        };
        Ok(Pattern {
            text: text.to_string(),
            exclusion,
            kind,
        })
    }

    /// The cleaned pattern text without the `!`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is a `!` exception that re-includes paths.
    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    /// Whether the pattern matches `path` itself (no parent matching).
    pub fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Kind::Tokens(a) => a.full(path),
        }
    }

    /// Whether the pattern matches `path` or one of its prefixes
    /// `path[..end]` for the ascending byte offsets in `ends` (the parent
    /// directories), in one pass over the path.
    pub(super) fn matches_self_or_prefix(&self, path: &str, ends: &[usize]) -> bool {
        match &self.kind {
            Kind::Exact => {
                let len = self.text.len();
                path == self.text || (ends.contains(&len) && path[..len] == self.text)
            }
            // A prefix of `path` starts with `p` only if `path` does.
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(_) => self.matches(path) || ends.iter().any(|&e| self.matches(&path[..e])),
            Kind::Tokens(a) => a.self_or_prefix(path, ends),
        }
    }

    /// Whether some path below directory `dir` could match: used to decide
    /// whether an excluded directory must still be walked.
    pub fn could_match_under(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        match &self.kind {
            Kind::Exact => self.text.starts_with(&dir_slash),
            Kind::Prefix(p) => dir_slash.starts_with(p.as_str()) || p.starts_with(&dir_slash),
            Kind::Suffix(_) => true,
            Kind::Tokens(a) => run(&a.tokens, &dir_slash, Mode::Viable),
        }
    }
}

/// A bit set over automaton positions: on the stack for patterns of up to
/// 127 tokens (the common case, no allocation per match), on the heap
/// beyond.
enum Bits {
    Inline([u64; 4], usize),
    Heap(Vec<u64>),
}

impl Bits {
    fn new(n: usize) -> Bits {
        let words = n.div_ceil(64);
        if words <= 4 {
            Bits::Inline([0; 4], words)
        } else {
            Bits::Heap(vec![0; words])
        }
    }
    fn words(&self) -> &[u64] {
        match self {
            Bits::Inline(w, n) => &w[..*n],
            Bits::Heap(v) => v,
        }
    }
    fn words_mut(&mut self) -> &mut [u64] {
        match self {
            Bits::Inline(w, n) => &mut w[..*n],
            Bits::Heap(v) => v,
        }
    }
    fn get(&self, i: usize) -> bool {
        self.words()[i / 64] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: usize) {
        self.words_mut()[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self) {
        self.words_mut().iter_mut().for_each(|w| *w = 0);
    }
    fn is_empty(&self) -> bool {
        self.words().iter().all(|w| *w == 0)
    }
}

/// What [`run`] answers.
#[derive(Clone, Copy)]
enum Mode<'a> {
    /// Does the whole path match?
    Full,
    /// Can the path be extended to a match?
    Viable,
    /// Does the path, or its prefix ending at one of these byte offsets,
    /// match?
    Marks(&'a [usize]),
}

/// Runs the token automaton over `path`. State `i` (0..=n) means "before
/// token i"; state `n + 1 + i` means "inside the directory run of OptDirs
/// token i".
fn run(tokens: &[Token], path: &str, mode: Mode<'_>) -> bool {
    let n = tokens.len();
    let size = 2 * n + 1;
    let mut cur = Bits::new(size);
    let mut next = Bits::new(size);
    cur.set(0);
    close(tokens, &mut cur, true);
    let mut marks = match mode {
        Mode::Marks(m) => m,
        _ => &[],
    };
    for (at, c) in path.char_indices() {
        if marks.first() == Some(&at) {
            if cur.get(n) {
                return true;
            }
            marks = &marks[1..];
        }
        next.clear();
        for (i, tok) in tokens.iter().enumerate() {
            if cur.get(i) {
                match tok {
                    Token::Literal(l) if *l == c => next.set(i + 1),
                    Token::AnyNotSlash if c != '/' => next.set(i + 1),
                    Token::Class { negated, ranges } => {
                        let inside = ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi);
                        if inside != *negated {
                            next.set(i + 1);
                        }
                    }
                    Token::Star if c != '/' => next.set(i),
                    Token::AnyAll if c != '\n' => next.set(i),
                    Token::OptDirs if c != '\n' => {
                        next.set(n + 1 + i);
                        if c == '/' {
                            next.set(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            if cur.get(n + 1 + i) && c != '\n' {
                next.set(n + 1 + i);
                if c == '/' {
                    next.set(i + 1);
                }
            }
        }
        close(tokens, &mut next, false);
        std::mem::swap(&mut cur, &mut next);
        if cur.is_empty() {
            return false;
        }
    }
    match mode {
        Mode::Viable => !cur.is_empty(),
        _ => cur.get(n),
    }
}

/// Adds the states reachable without consuming a character. Every such
/// move goes forward, so one pass in order suffices.
fn close(tokens: &[Token], bits: &mut Bits, at_start: bool) {
    for (i, t) in tokens.iter().enumerate() {
        if bits.get(i) {
            let skip = match t {
                Token::Star | Token::AnyAll | Token::OptDirs => true,
                Token::Anchor => at_start,
                _ => false,
            };
            if skip {
                bits.set(i + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::compile(s, false).unwrap()
    }

    #[test]
    fn kinds() {
        assert_eq!(p("a/b").kind, Kind::Exact);
        assert_eq!(p("a.b$").kind, Kind::Exact);
        assert_eq!(p("abc/**").kind, Kind::Prefix("abc/".into()));
        assert_eq!(p("**").kind, Kind::Suffix(String::new()));
        assert_eq!(p("**file").kind, Kind::Suffix("file".into()));
        assert_eq!(p("**/foo/bar").kind, Kind::Suffix("/foo/bar".into()));
        assert!(matches!(p("**/**").kind, Kind::Tokens(_)));
        assert!(matches!(p("**/file*").kind, Kind::Tokens(_)));
    }

    #[test]
    fn quirks_kept() {
        // A pure suffix test: no directory boundary needed.
        assert!(p("**file").matches("xfile"));
        // A bare `^` anchors in the expression but is literal in an exact test.
        assert!(p("^a*").matches("abc"));
        assert!(!p("x^a*").matches("xabc"));
        assert!(p("^a").matches("^a"));
        // Classes may match `/`.
        assert!(p("a[^x]b").matches("a/b"));
    }

    #[test]
    fn bad_patterns() {
        for bad in [
            "[", "[^", "[^bc", "a[", "\\", "[]a]", "[-]", "[x-]", "[-x]", "[a-b-c]",
        ] {
            assert!(Pattern::compile(bad, false).is_err(), "{bad}");
        }
        // Valid for the syntax check, but an inverted range.
        assert!(Pattern::compile("[Local-Only]", false).is_err());
    }

    #[test]
    fn prefix_viability() {
        assert!(p("a/*/c").could_match_under("a/b"));
        assert!(!p("a/*/c").could_match_under("b"));
        assert!(!p("a/*/c").could_match_under("a/b/c"));
        assert!(p("**/*.go").could_match_under("x/y"));
        assert!(p("a/b/c").could_match_under("a"));
        assert!(!p("a/b/c").could_match_under("a/b/c"));
        assert!(p("a/**").could_match_under("a/b"));
        assert!(p("a/b/**").could_match_under("a"));
        assert!(!p("a/b/**").could_match_under("c"));
    }

    #[test]
    fn long_pattern_has_no_blowup() {
        let pat = "*a".repeat(40) + "b";
        let path = "a".repeat(5000);
        assert!(!p(&pat).matches(&path));
    }
}
