//! Shell-style word expansion with BuildKit's rules.
//!
//! Dockerfile instructions expand `$VAR` and `${VAR...}` references in their
//! arguments, remove quotes and escapes, and some of them split the result
//! into words. The rules are those of BuildKit's shell lexer, which imitates
//! a POSIX shell only partly:
//!
//! * `$NAME`, `${NAME}`; names are letters, digits and `_`; a leading digit
//!   reads all following digits (`$10` is parameter `10`); the special
//!   parameters `@ * # ? - $ ! 0` are one character long and never set.
//! * `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`,
//!   `${NAME:?message}`, `${NAME?message}`: the `:` forms treat an empty value
//!   like an unset one.
//! * `${NAME#pattern}`, `${NAME##pattern}`, `${NAME%pattern}`,
//!   `${NAME%%pattern}`: remove the shortest / longest matching prefix or
//!   suffix; `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`
//!   replace the first / every match. Patterns know `*`, `?` and `\` escapes.
//! * Single quotes keep everything literally; double quotes keep everything
//!   except `$` expansion and escapes of `"`, `$` and the escape character.
//! * The escape character is `\` unless the Dockerfile's `escape` directive
//!   chose `` ` ``.
//! * Word splitting ([`Lexer::process_words`]) splits only text that came
//!   from unquoted literal characters or variable values, on Unicode white
//!   space; quoted and escaped characters never split.
//!
//! Every expansion also reports which variables it looked up, split into
//! those that were set (`matched`) and those that were not (`unmatched`),
//! which the build uses for cache keys and the linter for warnings.
//!
//! ```
//! use std::collections::HashMap;
//! use strata_dockerfile::shell::Lexer;
//!
//! let env = HashMap::from([("VERSION".to_string(), "1.2".to_string())]);
//! let lexer = Lexer::new('\\');
//! let out = lexer.process_word("app-${VERSION}-${ARCH:-amd64}.tar", &env).unwrap();
//! assert_eq!(out.value, "app-1.2-amd64.tar");
//! assert!(out.unmatched.contains("ARCH"));
//! ```

mod pattern;
mod scan;

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Deepest nesting of `${...}` substitutions accepted in one word. Real
/// Dockerfiles nest two or three levels; the limit keeps hostile input from
/// exhausting the stack.
pub const MAX_NESTING: usize = 64;

/// A source of variable values for expansion.
pub trait Env {
    /// The value of `name`, or `None` when it is not set (set-but-empty is
    /// `Some("")`, which the `:` operators treat like unset).
    fn get(&self, name: &str) -> Option<String>;
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// An ordered list of assignments: a later entry for the same name wins, as
/// in BuildKit's environment lists.
impl Env for [(String, String)] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<String> {
        Env::get(self.as_slice(), name)
    }
}

impl<T: Env + ?Sized> Env for &T {
    fn get(&self, name: &str) -> Option<String> {
        (**self).get(name)
    }
}

/// An environment with no variables set.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyEnv;

impl Env for EmptyEnv {
    fn get(&self, _name: &str) -> Option<String> {
        None
    }
}

/// Builds a map from `KEY=value` strings the way BuildKit reads an
/// environment list: the first `=` splits, a later duplicate wins, and an
/// entry without `=` sets the key to the empty string.
pub fn env_from_list<I, S>(list: I) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut map = BTreeMap::new();
    for entry in list {
        let entry = entry.as_ref();
        match entry.split_once('=') {
            Some((k, v)) => map.insert(k.to_string(), v.to_string()),
            None => map.insert(entry.to_string(), String::new()),
        };
    }
    map
}

/// The result of expanding one word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    /// The expanded text with quotes and escapes removed.
    pub value: String,
    /// Every variable name the expansion looked up (`matched ∪ unmatched`).
    pub used: BTreeSet<String>,
    /// Looked-up names that were set (possibly to the empty string).
    pub matched: BTreeSet<String>,
    /// Looked-up names that were not set.
    pub unmatched: BTreeSet<String>,
}

/// The result of [`Lexer::process_with_matches`]: the single-word value, the
/// split words, and the variables looked up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessResult {
    /// The expanded text as one word.
    pub value: String,
    /// The expanded text split into words.
    pub words: Vec<String>,
    /// Looked-up names that were set.
    pub matched: BTreeSet<String>,
    /// Looked-up names that were not set.
    pub unmatched: BTreeSet<String>,
}

/// What went wrong in an expansion; callers branch on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShellErrorKind {
    /// A quote, `${` or `${NAME/pattern/` was never closed.
    Unterminated,
    /// `${}`, `${{`, `${:` and similar.
    BadSubstitution,
    /// An operator after the name that is not supported, such as `${NAME=x}`.
    UnsupportedModifier,
    /// `${NAME?message}` or `${NAME:?message}` with the variable unset/empty.
    RequiredVariable,
    /// A `#`, `%` or `/` pattern that is malformed.
    InvalidPattern,
    /// Substitutions nested deeper than [`MAX_NESTING`].
    TooDeep,
}

/// An expansion failure, naming the word that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {word:?}: {message}")]
pub struct ShellError {
    kind: ShellErrorKind,
    word: String,
    message: String,
}

impl ShellError {
    /// The category of the failure.
    pub fn kind(&self) -> ShellErrorKind {
        self.kind
    }

    /// The word whose expansion failed.
    pub fn word(&self) -> &str {
        &self.word
    }

    /// The reason without the word, e.g. `VAR: is not allowed to be unset`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Word expander configured with an escape character and BuildKit's
/// optional behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_process_quotes: bool,
    skip_unset_env: bool,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer::new('\\')
    }
}

impl Lexer {
    /// A lexer using `escape` (normally `\`, or `` ` `` after an `escape`
    /// directive).
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// The escape character.
    pub fn escape(&self) -> char {
        self.escape
    }

    /// Keep quote characters in the output (they still group words).
    pub fn raw_quotes(mut self, on: bool) -> Self {
        self.raw_quotes = on;
        self
    }

    /// Keep escape characters in the output.
    pub fn raw_escapes(mut self, on: bool) -> Self {
        self.raw_escapes = on;
        self
    }

    /// Treat quote characters as ordinary characters.
    pub fn skip_process_quotes(mut self, on: bool) -> Self {
        self.skip_process_quotes = on;
        self
    }

    /// Leave references to unset variables in the output unexpanded.
    pub fn skip_unset_env(mut self, on: bool) -> Self {
        self.skip_unset_env = on;
        self
    }

    /// Expands `word` into one string (quotes and escapes removed).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<Expansion, ShellError> {
        let r = self.process_with_matches(word, env)?;
        let used = r.matched.union(&r.unmatched).cloned().collect();
        Ok(Expansion {
            value: r.value,
            used,
            matched: r.matched,
            unmatched: r.unmatched,
        })
    }

    /// Expands `word` and splits the result into words; returns the words
    /// and every variable name looked up.
    pub fn process_words(
        &self,
        word: &str,
        env: &dyn Env,
    ) -> Result<(Vec<String>, BTreeSet<String>), ShellError> {
        let r = self.process_with_matches(word, env)?;
        let used = r.matched.union(&r.unmatched).cloned().collect();
        Ok((r.words, used))
    }

    /// Expands `word`, returning the single-word value, the split words and
    /// the names looked up, split into set and unset ones.
    pub fn process_with_matches(
        &self,
        word: &str,
        env: &dyn Env,
    ) -> Result<ProcessResult, ShellError> {
        scan::run(self, word, env)
    }
}
