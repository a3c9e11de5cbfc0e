//! A small POSIX shell reader for RUN scripts: enough of the grammar to find every simple
//! command (through `&&`, `||`, `;`, pipes, subshells, braces, `$(…)` and backticks), its
//! leading `NAME=value` assignments, its words with quotes removed, and whether the script
//! pipes. Redirections and comments are dropped. The package-manager rules need no more,
//! and a full shell parser (ShellCheck's) is what the optional `shellcheck` pass is for.

/// One shell word with quotes and escapes removed; `$VAR` references are kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Some part of the word was quoted or escaped.
    pub quoted: bool,
    /// The word holds a parameter expansion or command substitution.
    pub has_var: bool,
}

impl Word {
    pub fn is_flag(&self) -> bool {
        self.text.starts_with('-') && self.text.len() > 1
    }
}

/// A simple command: assignments, then the command name and its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    pub assignments: Vec<(String, String)>,
    pub words: Vec<Word>,
}

impl Command {
    /// The command name (empty for an assignment-only command).
    pub fn name(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// True when the command is `name` or a path ending in `/name`.
    pub fn is(&self, name: &str) -> bool {
        let n = self.name();
        n == name || n.rsplit('/').next() == Some(name) && n.contains('/')
    }

    pub fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }

    pub fn has_arg(&self, arg: &str) -> bool {
        self.args().iter().any(|w| w.text == arg)
    }

    /// Every flag name: `--long[=v]` gives `long`, `-abc` gives `a`, `b`, `c`.
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in self.args() {
            if let Some(long) = w.text.strip_prefix("--") {
                if !long.is_empty() {
                    out.push(long.split('=').next().unwrap_or(long).to_string());
                }
            } else if let Some(short) = w.text.strip_prefix('-') {
                let short = short.split('=').next().unwrap_or(short);
                out.extend(short.chars().map(String::from));
            }
        }
        out
    }

    pub fn has_flag(&self, names: &[&str]) -> bool {
        self.flags().iter().any(|f| names.contains(&f.as_str()))
    }

    /// How many times any of `names` occurs as a flag.
    pub fn count_flag(&self, names: &[&str]) -> usize {
        self.flags()
            .iter()
            .filter(|f| names.contains(&f.as_str()))
            .count()
    }

    /// Arguments that are not flags, after dropping the value that follows each of
    /// `with_value` (`-t release`, `--index-url URL`); `--flag=value` carries its own.
    pub fn args_no_flags(&self, with_value: &[&str]) -> Vec<&Word> {
        let mut out = Vec::new();
        let mut skip = false;
        for w in self.args() {
            if skip {
                skip = false;
                continue;
            }
            if w.is_flag() {
                let name = w.text.trim_start_matches('-');
                if !name.contains('=') && with_value.contains(&name) {
                    skip = true;
                }
                continue;
            }
            out.push(w);
        }
        out
    }

    /// The arguments after the first argument equal to `sub` (`install` in `apt-get install`).
    pub fn after_sub(&self, sub: &[&str]) -> Option<usize> {
        self.args()
            .iter()
            .position(|w| sub.contains(&w.text.as_str()))
    }
}

/// The commands of a script and whether any of them is piped into another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub commands: Vec<Command>,
    pub has_pipe: bool,
    /// Number of commands at the top level (not inside `$(…)`), for "simple RUN" checks.
    pub top_level: usize,
}

impl Script {
    pub fn parse(text: &str) -> Script {
        let mut script = Script::default();
        Reader::new(text, &mut script, 0).run(true);
        script
    }

    /// Commands named `name` (or a path to it).
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Command> + 'a {
        self.commands.iter().filter(move |c| c.is(name))
    }

    pub fn any_named(&self, names: &[&str]) -> bool {
        self.commands.iter().any(|c| names.iter().any(|n| c.is(n)))
    }
}

const RESERVED: [&str; 13] = [
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time",
];

/// Deepest `$(…)` nesting followed; deeper text is kept as a literal word.
const MAX_DEPTH: usize = 16;

struct Reader<'s> {
    chars: Vec<char>,
    pos: usize,
    out: &'s mut Script,
    depth: usize,
    current: Command,
    word: Option<Word>,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'s> Reader<'s> {
    fn new(text: &str, out: &'s mut Script, depth: usize) -> Self {
        Reader {
            chars: text.chars().collect(),
            pos: 0,
            out,
            depth,
            current: Command::default(),
            word: None,
        }
    }

    fn peek(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    fn word(&mut self) -> &mut Word {
        self.word.get_or_insert_with(|| Word {
            text: String::new(),
            quoted: false,
            has_var: false,
        })
    }

    fn end_word(&mut self) {
        if let Some(w) = self.word.take() {
            let c = &mut self.current;
            if c.words.is_empty() && !w.quoted {
                if let Some((name, value)) = w.text.split_once('=') {
                    if is_name(name) {
                        c.assignments.push((name.to_string(), value.to_string()));
                        return;
                    }
                }
                if RESERVED.contains(&w.text.as_str()) {
                    return;
                }
            }
            c.words.push(w);
        }
    }

    fn end_command(&mut self, top: bool) {
        self.end_word();
        let cmd = std::mem::take(&mut self.current);
        if !cmd.words.is_empty() || !cmd.assignments.is_empty() {
            if top {
                self.out.top_level += 1;
            }
            self.out.commands.push(cmd);
        }
    }

    /// Reads up to the matching `close`, honouring quotes and nesting; returns the inside.
    fn balanced(&mut self, open: char, close: char) -> String {
        let mut depth = 1;
        let mut inner = String::new();
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            match c {
                '\\' => {
                    inner.push(c);
                    if let Some(n) = self.peek(0) {
                        inner.push(n);
                        self.pos += 1;
                    }
                    continue;
                }
                '\'' => {
                    inner.push(c);
                    while let Some(n) = self.peek(0) {
                        self.pos += 1;
                        inner.push(n);
                        if n == '\'' {
                            break;
                        }
                    }
                    continue;
                }
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return inner;
                    }
                }
                c if c == open => depth += 1,
                _ => {}
            }
            inner.push(c);
        }
        inner
    }

    fn nested(&mut self, inner: &str) {
        if self.depth < MAX_DEPTH {
            let mut sub = Script::default();
            Reader::new(inner, &mut sub, self.depth + 1).run(false);
            self.out.has_pipe |= sub.has_pipe;
            self.out.commands.extend(sub.commands);
        }
    }

    /// `$…` at the reader's position (just after `$`).
    fn dollar(&mut self) {
        match self.peek(0) {
            Some('(') => {
                self.pos += 1;
                let arithmetic = self.peek(0) == Some('(');
                let inner = self.balanced('(', ')');
                if !arithmetic {
                    self.nested(&inner);
                }
                let w = self.word();
                w.has_var = true;
                w.text.push_str("$(");
                w.text.push_str(&inner);
                w.text.push(')');
            }
            Some('{') => {
                self.pos += 1;
                let inner = self.balanced('{', '}');
                let w = self.word();
                w.has_var = true;
                w.text.push_str("${");
                w.text.push_str(&inner);
                w.text.push('}');
            }
            Some(c) if c.is_ascii_alphanumeric() || "_@*#?$!-".contains(c) => {
                let w = self.word.get_or_insert_with(|| Word {
                    text: String::new(),
                    quoted: false,
                    has_var: false,
                });
                w.has_var = true;
                w.text.push('$');
                if c.is_ascii_alphabetic() || c == '_' {
                    while let Some(n) = self.chars.get(self.pos).copied() {
                        if !(n.is_ascii_alphanumeric() || n == '_') {
                            break;
                        }
                        w.text.push(n);
                        self.pos += 1;
                    }
                } else {
                    w.text.push(c);
                    self.pos += 1;
                }
            }
            _ => self.word().text.push('$'),
        }
    }

    fn backtick(&mut self) {
        let mut inner = String::new();
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            match c {
                '`' => break,
                '\\' => {
                    if let Some(n) = self.peek(0) {
                        inner.push(n);
                        self.pos += 1;
                    }
                }
                c => inner.push(c),
            }
        }
        self.nested(&inner);
        let w = self.word();
        w.has_var = true;
        w.text.push('`');
        w.text.push_str(&inner);
        w.text.push('`');
    }

    fn double_quoted(&mut self) {
        self.word().quoted = true;
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            match c {
                '"' => return,
                '\\' => match self.peek(0) {
                    Some(n @ ('"' | '\\' | '$' | '`')) => {
                        self.pos += 1;
                        self.word().text.push(n);
                    }
                    Some('\n') => self.pos += 1,
                    _ => self.word().text.push('\\'),
                },
                '$' => self.dollar(),
                '`' => self.backtick(),
                c => self.word().text.push(c),
            }
        }
    }

    /// Skips a redirection operator's target word.
    fn redirect(&mut self) {
        while matches!(self.peek(0), Some('>' | '<' | '&' | '|')) {
            self.pos += 1;
        }
        while matches!(self.peek(0), Some(' ' | '\t')) {
            self.pos += 1;
        }
        let saved = std::mem::take(&mut self.word);
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            if depth == 0 && (c.is_whitespace() || ";&|()<>".contains(c)) {
                break;
            }
            self.pos += 1;
            match c {
                '\'' => {
                    while let Some(n) = self.peek(0) {
                        self.pos += 1;
                        if n == '\'' {
                            break;
                        }
                    }
                }
                '"' => self.double_quoted(),
                '$' => self.dollar(),
                '\\' => self.pos += 1,
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        self.word = saved;
    }

    fn run(mut self, top: bool) {
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            match c {
                ' ' | '\t' | '\r' => self.end_word(),
                '\n' => self.end_command(top),
                '#' if self.word.is_none() => {
                    while let Some(n) = self.peek(0) {
                        if n == '\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                '\'' => {
                    self.word().quoted = true;
                    while let Some(n) = self.peek(0) {
                        self.pos += 1;
                        if n == '\'' {
                            break;
                        }
                        self.word().text.push(n);
                    }
                }
                '"' => self.double_quoted(),
                '\\' => match self.peek(0) {
                    Some('\n') => self.pos += 1,
                    Some(n) => {
                        self.pos += 1;
                        let w = self.word();
                        w.quoted = true;
                        w.text.push(n);
                    }
                    None => {}
                },
                '$' => self.dollar(),
                '`' => self.backtick(),
                '|' => {
                    if self.peek(0) == Some('|') {
                        self.pos += 1;
                    } else {
                        if self.peek(0) == Some('&') {
                            self.pos += 1;
                        }
                        self.out.has_pipe = true;
                    }
                    self.end_command(top);
                }
                '&' if self.peek(0) == Some('>') => {
                    self.end_word();
                    self.redirect();
                }
                '&' | ';' | '(' | ')' => {
                    if c == '&' && self.peek(0) == Some('&')
                        || c == ';' && self.peek(0) == Some(';')
                    {
                        self.pos += 1;
                    }
                    self.end_command(top);
                }
                '>' | '<' => {
                    // `2>file`: the digits before the operator name a descriptor, not an argument.
                    if self
                        .word
                        .as_ref()
                        .is_some_and(|w| !w.quoted && w.text.chars().all(|d| d.is_ascii_digit()))
                    {
                        self.word = None;
                    }
                    self.end_word();
                    self.pos -= 1;
                    self.redirect();
                }
                c => self.word().text.push(c),
            }
        }
        self.end_command(top);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        Script::parse(s)
            .commands
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    }

    #[test]
    fn splits_commands_through_operators_and_substitutions() {
        assert_eq!(
            names("a && b || c; d | e & f\n(g) { h; } $(i x) `j`"),
            ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "$(i x)"]
        );
        assert!(Script::parse("a | b").has_pipe);
        assert!(!Script::parse("a || b").has_pipe);
    }

    #[test]
    fn words_lose_quotes_and_redirections() {
        let s = Script::parse("X=1 npm install express@\"4.1.1\" 'a b' c\\>=1 2>/dev/null > out");
        let c = &s.commands[0];
        assert_eq!(c.assignments, [("X".to_string(), "1".to_string())]);
        let texts: Vec<_> = c.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["npm", "install", "express@4.1.1", "a b", "c>=1"]);
    }

    #[test]
    fn comments_and_flags() {
        let s = Script::parse("apt-get -yq install -t rel pkg # note\n");
        let c = &s.commands[0];
        assert!(c.has_flag(&["y"]) && c.has_flag(&["q"]));
        let rest: Vec<_> = c
            .args_no_flags(&["t"])
            .iter()
            .map(|w| w.text.clone())
            .collect();
        assert_eq!(rest, ["install", "pkg"]);
    }
}
