//! Heredoc detection (`<<EOF`, `<<-EOF`, `3<<EOF`, quoted delimiters) on RUN, COPY and ADD.
//!
//! A line is split into raw words (quotes and escapes kept); each word of the shape
//! `[fd]<<[-]name` names a heredoc. The delimiter is unquoted shell-style; if unquoting
//! removed any quote character the content is not expanded, as in `sh`.

use serde::Serialize;

use crate::error::{ErrorKind, ParseError};

/// One heredoc attached to an instruction, with its body exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter word with quotes removed; COPY/ADD use it as the source file name.
    pub name: String,
    /// The body, raw: every line up to the delimiter, with newlines, tabs not yet stripped.
    pub content: String,
    /// False when any part of the delimiter was quoted: the body is used verbatim.
    pub expand: bool,
    /// True for `<<-`: leading tabs are stripped from the body (see [`chomp`]).
    pub chomp: bool,
    /// The file descriptor in `3<<EOF`, 0 when absent.
    pub file_descriptor: u32,
}

impl Heredoc {
    /// The body with `<<-` tab stripping applied.
    pub fn effective_content(&self) -> String {
        if self.chomp {
            chomp(&self.content)
        } else {
            self.content.clone()
        }
    }
}

/// Strips leading tabs from every line, for `<<-` heredocs.
pub fn chomp(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    for line in content.split_inclusive('\n') {
        out.push_str(line.trim_start_matches('\t'));
    }
    out
}

/// Splits a line into words keeping quotes and escapes; `<<`, an optional `-` and the
/// blanks after them are glued to the following word so `<< EOF` is one word.
/// Returns no words on an unterminated quote (such a line holds no heredoc).
pub(crate) fn raw_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                i += 1;
            }
            '\\' => {
                in_word = true;
                word.push(c);
                if let Some(&n) = chars.get(i + 1) {
                    word.push(n);
                }
                i += 2;
            }
            '\'' | '"' => {
                in_word = true;
                word.push(c);
                i += 1;
                loop {
                    let Some(&n) = chars.get(i) else {
                        return Vec::new();
                    };
                    word.push(n);
                    i += 1;
                    if n == c {
                        break;
                    }
                    if c == '"' && n == '\\' {
                        if let Some(&e) = chars.get(i) {
                            word.push(e);
                            i += 1;
                        }
                    }
                }
            }
            '<' if chars.get(i + 1) == Some(&'<') && word.chars().all(|d| d.is_ascii_digit()) => {
                in_word = true;
                word.push_str("<<");
                i += 2;
                if chars.get(i) == Some(&'-') {
                    word.push('-');
                    i += 1;
                }
                // Blanks stay in the word: `<< -EOF` names `-EOF`, `<<- EOF` is a chomp.
                while let Some(&b) = chars.get(i).filter(|c| **c == ' ' || **c == '\t') {
                    word.push(b);
                    i += 1;
                }
            }
            _ => {
                in_word = true;
                word.push(c);
                i += 1;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Shell-style unquoting of a delimiter into words. With `keep_quotes` the quote characters
/// stay in the output (escapes are still processed), which lets the caller tell whether
/// any quoting happened. Variables are left as written.
fn unquote(src: &str, keep_quotes: bool) -> Result<Vec<String>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(&n) = chars.get(i) {
                    word.push(n);
                    i += 1;
                }
            }
            '\'' | '"' => {
                in_word = true;
                if keep_quotes {
                    word.push(c);
                }
                loop {
                    let Some(&n) = chars.get(i) else {
                        let which = if c == '\'' { "single" } else { "double" };
                        return Err(ParseError::new(
                            ErrorKind::Syntax,
                            format!("unexpected end of statement while looking for matching {which}-quote"),
                        )
                        .with_hint("close the quote around the heredoc delimiter"));
                    };
                    i += 1;
                    if n == c {
                        if keep_quotes {
                            word.push(c);
                        }
                        break;
                    }
                    if c == '"' && n == '\\' && matches!(chars.get(i), Some('"' | '\\' | '$')) {
                        word.push(chars[i]);
                        i += 1;
                        continue;
                    }
                    word.push(n);
                }
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Parses one word as a heredoc marker. `Ok(None)` when the word is not a heredoc.
pub fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, ParseError> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let file_descriptor = word[..digits].parse::<u32>().unwrap_or(0);
    let plain = unquote(rest, false)?;
    if plain.len() != 1 {
        return Ok(None);
    }
    let raw = unquote(rest, true)?;
    let count = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = raw.len() == 1 && count(&plain[0]) == count(&raw[0]);
    Ok(Some(Heredoc {
        name: plain[0].clone(),
        content: String::new(),
        expand,
        chomp,
        file_descriptor,
    }))
}

/// All heredocs named on an instruction line, in order.
pub(crate) fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, ParseError> {
    let mut out = Vec::new();
    for word in raw_words(line) {
        if let Some(h) = parse_heredoc(&word)? {
            out.push(h);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_words() {
        for ok in [
            "<<EOF",
            "<<'EOF'",
            "<<\"EOF\"",
            "<<-EOF",
            "<<-'EOF'",
            "<<-\"EOF\"",
            "<<EO\"F\"",
            "<< EOF",
            "<<- EOF",
        ] {
            assert_eq!(parse_heredoc(ok).unwrap().unwrap().name, "EOF", "{ok}");
        }
        for bad in ["<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""] {
            assert!(parse_heredoc(bad).is_err(), "{bad}");
        }
        for none in ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"] {
            assert!(parse_heredoc(none).unwrap().is_none(), "{none}");
        }
    }

    #[test]
    fn names_from_line() {
        let names = |l: &str| {
            heredocs_from_line(l)
                .unwrap()
                .into_iter()
                .map(|h| h.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("RUN <<EOF"), ["EOF"]);
        assert_eq!(names("RUN <<-EOF"), ["EOF"]);
        assert_eq!(names("RUN <<- EOF"), ["EOF"]);
        assert_eq!(names("RUN << -EOF"), ["-EOF"]);
        assert_eq!(names("RUN <<'EOF'"), ["EOF"]);
        assert_eq!(names("RUN 4<<EOF"), ["EOF"]);
        assert_eq!(names("RUN <<EOF <<EOF2"), ["EOF", "EOF2"]);
        assert!(names("RUN '<<EOF'").is_empty());
        assert!(names("RUN \"<<EOF\"").is_empty());
    }

    #[test]
    fn chomp_tabs() {
        assert_eq!(chomp("\thello\n\tworld\n"), "hello\nworld\n");
    }
}
