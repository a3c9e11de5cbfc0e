//! The character-level state machine behind [`Lexer`](super::Lexer).
//!
//! It walks the word once, left to right, with one character of look-ahead;
//! `${...}` operands are expanded by recursing into the same loop with a stop
//! character, which is why nesting depth is bounded.

use std::collections::BTreeSet;

use super::pattern;
use super::{Env, Lexer, ProcessResult, ShellError, ShellErrorKind, MAX_NESTING};

/// Internal failure before the word is attached.
#[derive(Debug)]
pub(super) struct Fail {
    pub kind: ShellErrorKind,
    pub message: String,
}

impl Fail {
    pub fn new(kind: ShellErrorKind, message: impl Into<String>) -> Self {
        Fail {
            kind,
            message: message.into(),
        }
    }
}

type Res<T> = Result<T, Fail>;

pub(super) fn run(lexer: &Lexer, word: &str, env: &dyn Env) -> Result<ProcessResult, ShellError> {
    // A byte-order mark at the very start of the input is skipped, as the
    // scanner BuildKit reads words with does.
    let body = word.strip_prefix('\u{FEFF}').unwrap_or(word);
    let mut s = Scanner {
        lexer,
        chars: body.chars().collect(),
        pos: 0,
        env,
        raw_escapes: lexer.raw_escapes,
        depth: 0,
        matched: BTreeSet::new(),
        unmatched: BTreeSet::new(),
    };
    match s.process_stop_on(None, lexer.raw_escapes) {
        Ok((value, words)) => Ok(ProcessResult {
            value,
            words,
            matched: s.matched,
            unmatched: s.unmatched,
        }),
        Err(f) => Err(ShellError {
            kind: f.kind,
            word: word.to_string(),
            message: f.message,
        }),
    }
}

/// Accumulates split words: white space from literal text or variable
/// values separates words, quoted or escaped text never does.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            // An empty pending word (from `""`) is not emitted, and it keeps
            // the in-word state, like BuildKit.
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

struct Scanner<'a> {
    lexer: &'a Lexer,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn Env,
    raw_escapes: bool,
    depth: usize,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

fn missing_brace() -> Fail {
    Fail::new(ShellErrorKind::Unterminated, "syntax error: missing '}'")
}

fn unsupported(chs: &str) -> Fail {
    Fail::new(
        ShellErrorKind::UnsupportedModifier,
        format!("unsupported modifier ({chs}) in substitution"),
    )
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        let v = self.env.get(name);
        if v.is_some() {
            self.matched.insert(name.to_string());
        } else {
            self.unmatched.insert(name.to_string());
        }
        v
    }

    /// Processes characters until `stop` (consumed) or the end of input;
    /// returns the single-word value and the split words.
    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Res<(String, Vec<String>)> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let r = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn process_stop_on_inner(&mut self, stop: Option<char>) -> Res<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        let quotes = !self.lexer.skip_process_quotes;
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            if ch == '$' {
                let tmp = self.process_dollar()?;
                result.push_str(&tmp);
                words.add_string(&tmp);
            } else if quotes && ch == '\'' {
                let tmp = self.process_single_quote()?;
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else if quotes && ch == '"' {
                let tmp = self.process_double_quote()?;
                result.push_str(&tmp);
                words.add_raw_string(&tmp);
            } else {
                self.next();
                if ch == self.lexer.escape {
                    if self.raw_escapes {
                        words.add_raw_char(ch);
                        result.push(ch);
                    }
                    // An escape at the very end is dropped.
                    let Some(escaped) = self.next() else { break };
                    words.add_raw_char(escaped);
                    result.push(escaped);
                } else {
                    words.add_char(ch);
                    result.push(ch);
                }
            }
        }
        if let Some(stop) = stop {
            return Err(Fail::new(
                ShellErrorKind::Unterminated,
                format!("unexpected end of statement while looking for matching {stop}"),
            ));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lexer.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(Fail::new(
                        ShellErrorKind::Unterminated,
                        "unexpected end of statement while looking for matching single-quote",
                    ))
                }
                Some('\'') => {
                    if self.lexer.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lexer.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(Fail::new(
                        ShellErrorKind::Unterminated,
                        "unexpected end of statement while looking for matching double-quote",
                    ))
                }
                Some('"') => {
                    self.next();
                    if self.lexer.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lexer.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            // An escape right before the end is dropped; the
                            // missing quote is reported on the next round.
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lexer.escape => {
                                ch = c;
                                self.next();
                            }
                            // Any other escape stays literal.
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> Res<String> {
        self.depth += 1;
        let r = if self.depth > MAX_NESTING {
            Err(Fail::new(
                ShellErrorKind::TooDeep,
                format!("variable substitutions nested deeper than {MAX_NESTING} levels"),
            ))
        } else {
            self.process_dollar_inner()
        };
        self.depth -= 1;
        r
    }

    fn process_dollar_inner(&mut self) -> Res<String> {
        self.next(); // the '$'
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lexer.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next(); // the '{'
        match self.peek() {
            None => return Err(missing_brace()),
            Some('{' | '}' | ':') => {
                return Err(Fail::new(
                    ShellErrorKind::BadSubstitution,
                    "syntax error: bad substitution",
                ))
            }
            Some(_) => {}
        }
        let name = self.process_name();
        let Some(ch) = self.next() else {
            return Err(missing_brace());
        };
        match ch {
            '}' => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lexer.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => self.process_modifier(name, ch),
            '/' => self.process_replace(name),
            other => Err(unsupported(&other.to_string())),
        }
    }

    /// `${NAME<op>word}` for the default/alternative/required/trim operators.
    fn process_modifier(&mut self, name: String, first: char) -> Res<String> {
        let mut chs = first.to_string();
        let (null_is_unset, op) = if first == ':' {
            let Some(op) = self.next() else {
                return Err(missing_brace());
            };
            chs.push(op);
            (true, op)
        } else {
            (false, first)
        };
        let raw = op == '#' || op == '%';
        let word = match self.process_stop_on(Some('}'), raw) {
            Ok((w, _)) => w,
            Err(_) if self.peek().is_none() => return Err(missing_brace()),
            Err(e) => return Err(e),
        };
        let value = self.get_env(&name);
        if self.lexer.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}{chs}{word}}}"));
        }
        let unset_or_null = match &value {
            None => true,
            Some(v) => null_is_unset && v.is_empty(),
        };
        match op {
            '-' => Ok(if unset_or_null {
                word
            } else {
                value.unwrap_or_default()
            }),
            '+' => Ok(if unset_or_null { String::new() } else { word }),
            '?' => {
                let default = match &value {
                    None => Some("is not allowed to be unset"),
                    Some(v) if null_is_unset && v.is_empty() => Some("is not allowed to be empty"),
                    Some(_) => None,
                };
                match default {
                    None => Ok(value.unwrap_or_default()),
                    Some(d) => {
                        let message = if word.is_empty() { d } else { word.as_str() };
                        Err(Fail::new(
                            ShellErrorKind::RequiredVariable,
                            format!("{name}: {message}"),
                        ))
                    }
                }
            }
            // `:#` and `:%` are not shell operators.
            '#' | '%' if !null_is_unset => {
                let (greedy, pat) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let value = value.unwrap_or_default();
                if op == '%' {
                    pattern::trim_suffix(pat, &value, greedy)
                } else {
                    pattern::trim_prefix(pat, &value, greedy)
                }
            }
            _ => Err(unsupported(&chs)),
        }
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`.
    fn process_replace(&mut self, name: String) -> Res<String> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let pat = match self.process_stop_on(Some('/'), true) {
            Ok((p, _)) => p,
            Err(_) if self.peek().is_none() => {
                return Err(Fail::new(
                    ShellErrorKind::Unterminated,
                    "syntax error: missing '/' in ${}",
                ))
            }
            Err(e) => return Err(e),
        };
        let replacement = match self.process_stop_on(Some('}'), true) {
            Ok((r, _)) => r,
            Err(_) if self.peek().is_none() => return Err(missing_brace()),
            Err(e) => return Err(e),
        };
        let value = self.get_env(&name);
        if self.lexer.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}/{pat}/{replacement}}}"));
        }
        pattern::replace(&pat, &replacement, &value.unwrap_or_default(), all)
    }

    /// Reads a parameter name: a run of digits, one special character, or
    /// letters, digits and underscores.
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(d) = self.peek().filter(|c| is_digit(*c)) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.next();
                name.push(ch);
                return name;
            }
            if !(ch.is_alphabetic() || is_digit(ch) || ch == '_') {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }
}

/// Digits as BuildKit reads them in names. Go's definition is Unicode
/// category `Nd`; Rust's `is_numeric` also admits `Nl`/`No` (such as `²`),
/// a difference that only matters for names no Dockerfile uses.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// POSIX special parameters; never set in a Dockerfile.
fn is_special_param(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}
