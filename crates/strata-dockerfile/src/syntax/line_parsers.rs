//! Per-instruction argument splitting, following BuildKit's line parsers so the syntax tree
//! (and its dump) matches BuildKit's: JSON-array detection with the shell-form fallback,
//! `k=v` pairs for ENV/LABEL, whitespace lists for FROM/EXPOSE, HEALTHCHECK's type word.

use super::{Args, Node};
use crate::error::{ErrorKind, ParseError};

/// Nesting limit for ONBUILD triggers inside ONBUILD triggers; deeper input is refused
/// instead of recursing without bound.
const MAX_NESTING: usize = 2;

fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Splits on runs of `[\t\v\f\r ]`, like BuildKit's `reWhitespace`.
pub(crate) fn split_ws(s: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        if out.len() + 1 == limit {
            out.push(rest.to_string());
            return out;
        }
        match rest.find(is_ws) {
            Some(i) => {
                out.push(rest[..i].to_string());
                let after = &rest[i..];
                let skip = after.len() - after.trim_start_matches(is_ws).len();
                rest = &after[skip..];
            }
            None => {
                out.push(rest.to_string());
                return out;
            }
        }
    }
}

/// Splits an instruction line into keyword, leading `--flags`, and the rest.
pub(crate) fn split_command(line: &str) -> (String, Vec<String>, String) {
    let trimmed = line.trim();
    let parts = split_ws(trimmed, 2);
    let cmd = parts[0].clone();
    if parts.len() == 2 {
        let (rest, flags) = extract_builder_flags(&parts[1]);
        (cmd, flags, rest.trim().to_string())
    } else {
        (cmd, Vec::new(), String::new())
    }
}

/// Reads the `--flag[=value]` words at the start of the arguments; `--` ends the flags.
/// Quotes group characters and a backslash escapes the next one, as BuildKit does.
pub(crate) fn extract_builder_flags(line: &str) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= chars.len() {
        let at_end = pos == chars.len();
        let ch = if at_end { '\0' } else { chars[pos].1 };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            if ch != '-' || pos + 1 == chars.len() || chars[pos + 1].1 != '-' {
                return (line[chars[pos].0..].to_string(), words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (line[chars[pos].0..].to_string(), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == '\\' {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                word.push(chars[pos].1);
                pos += 1;
                continue;
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == '\\' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
        }
        word.push(chars[pos].1);
        pos += 1;
    }
    (String::new(), words)
}

/// Splits into words on whitespace, keeping quotes and escapes in the words (they are
/// removed later, during expansion).
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= chars.len() {
        let at_end = pos == chars.len();
        let mut ch = if at_end { '\0' } else { chars[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                // An unquoted escape keeps itself and the next character, even a quote.
                word.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            word.push(ch);
            pos += 1;
            ch = chars[pos];
        }
        word.push(ch);
        pos += 1;
    }
    words
}

/// The outcome of trying the JSON-array form.
enum Json {
    Array(Vec<String>),
    Other,
    NotStringArray,
}

fn parse_json(rest: &str) -> Json {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Json::Other;
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(rest) {
        Ok(values) => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    serde_json::Value::String(s) => out.push(s),
                    _ => return Json::NotStringArray,
                }
            }
            Json::Array(out)
        }
        // Not valid JSON: the caller falls back to the shell form.
        Err(_) => Json::Other,
    }
}

fn not_string_array() -> ParseError {
    ParseError::new(
        ErrorKind::Syntax,
        "dockerfile json arrays must contain only strings",
    )
    .with_hint("write every element as a double-quoted string, e.g. [\"echo\", \"hi\"]")
}

fn maybe_json(rest: &str) -> Result<Args, ParseError> {
    if rest.is_empty() {
        return Ok(Args::default());
    }
    match parse_json(rest) {
        Json::Array(words) => Ok(Args {
            words,
            json: true,
            sub: None,
        }),
        Json::NotStringArray => Err(not_string_array()),
        Json::Other => Ok(Args::words(vec![rest.to_string()])),
    }
}

fn maybe_json_to_list(rest: &str) -> Result<Args, ParseError> {
    match parse_json(rest) {
        Json::Array(words) => Ok(Args {
            words,
            json: true,
            sub: None,
        }),
        Json::NotStringArray => Err(not_string_array()),
        Json::Other => Ok(strings_ws(rest)),
    }
}

fn strings_ws(rest: &str) -> Args {
    if rest.is_empty() {
        return Args::default();
    }
    Args::words(split_ws(rest, 0))
}

fn name_val(rest: &str, key: &str, escape: char) -> Result<Args, ParseError> {
    let words = parse_words(rest, escape);
    if words.is_empty() {
        return Ok(Args::default());
    }
    if !words[0].contains('=') {
        // Legacy `KEY name value` form: the whole rest after the name is the value.
        let parts = split_ws(rest, 2);
        if parts.len() < 2 {
            return Err(ParseError::new(
                ErrorKind::InvalidArgument,
                format!("{key} must have two arguments"),
            )
            .with_hint(format!("write {key} name=value")));
        }
        return Ok(Args::words(vec![
            parts[0].clone(),
            parts[1].clone(),
            String::new(),
        ]));
    }
    let mut out = Vec::with_capacity(words.len() * 3);
    for word in words {
        let Some((k, v)) = word.split_once('=') else {
            return Err(ParseError::new(
                ErrorKind::InvalidArgument,
                format!("Syntax error - can't find = in {word:?}. Must be of the form: name=value"),
            )
            .with_hint("every word after the first name=value pair must also be name=value"));
        };
        out.push(k.to_string());
        out.push(v.to_string());
        out.push("=".to_string());
    }
    Ok(Args::words(out))
}

fn health_config(rest: &str, escape: char) -> Result<Args, ParseError> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok(Args::default());
    }
    let typ = &rest[..sep];
    let after = rest[sep..].trim_start();
    let _ = escape;
    let cmd = maybe_json(after)?;
    let mut words = vec![typ.to_string()];
    words.extend(cmd.words);
    Ok(Args {
        words,
        json: cmd.json,
        sub: None,
    })
}

/// Dispatches the argument text to the parser for `cmd` (lowercased keyword).
pub(crate) fn parse_args(
    cmd: &str,
    rest: &str,
    escape: char,
    depth: usize,
) -> Result<Args, ParseError> {
    match cmd {
        "add" | "copy" | "volume" => maybe_json_to_list(rest),
        "arg" => Ok(Args::words(parse_words(rest, escape))),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest),
        "env" => name_val(rest, "ENV", escape),
        "label" => name_val(rest, "LABEL", escape),
        "expose" | "from" => Ok(strings_ws(rest)),
        "healthcheck" => health_config(rest, escape),
        "maintainer" | "stopsignal" | "user" | "workdir" => {
            if rest.is_empty() {
                Ok(Args::default())
            } else {
                Ok(Args::words(vec![rest.to_string()]))
            }
        }
        "onbuild" => {
            if rest.is_empty() {
                return Ok(Args::default());
            }
            if depth >= MAX_NESTING {
                return Err(ParseError::new(
                    ErrorKind::TooLarge,
                    "ONBUILD triggers nested too deeply",
                )
                .with_hint("an ONBUILD trigger cannot itself be ONBUILD"));
            }
            let child = node_from_line(rest, escape, depth + 1)?;
            Ok(Args {
                words: Vec::new(),
                json: false,
                sub: Some(Box::new(child)),
            })
        }
        // Unknown keywords parse to an empty node; the typed layer reports them.
        _ => Ok(Args::default()),
    }
}

/// Builds a node (without position) from one logical line.
pub(crate) fn node_from_line(line: &str, escape: char, depth: usize) -> Result<Node, ParseError> {
    let (cmd, flags, rest) = split_command(line);
    let args = parse_args(&cmd.to_lowercase(), &rest, escape, depth)?;
    Ok(Node {
        value: cmd,
        original: line.to_string(),
        flags,
        args: args.words,
        json: args.json,
        sub: args.sub,
        ..Node::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words("foo bar 'abc xyz'", '\\'),
            ["foo", "bar", "'abc xyz'"]
        );
        assert_eq!(
            parse_words(r#"foo bar "abc xyz""#, '\\'),
            ["foo", "bar", "\"abc xyz\""]
        );
        assert_eq!(parse_words(r"foo\ bar", '\\'), [r"foo\ bar"]);
        assert_eq!(
            parse_words("föo bàr \"âbc xÿz\"", '\\'),
            ["föo", "bàr", "\"âbc xÿz\""]
        );
        assert_eq!(parse_words("foo=bar", '\\'), ["foo=bar"]);
    }

    #[test]
    fn json_detection() {
        assert!(matches!(parse_json("[]"), Json::Array(v) if v.is_empty()));
        assert!(matches!(parse_json("\t[ \"a\",\t\"b\" ]\t"), Json::Array(v) if v == ["a", "b"]));
        for bad in [
            r#"["a",42,"b"]"#,
            r#"["a",{},"b"]"#,
            r#"["a",["c"],"b"]"#,
            r#"["a",null,"b"]"#,
            r#"["a",true,"b"]"#,
        ] {
            assert!(matches!(parse_json(bad), Json::NotStringArray), "{bad}");
        }
        assert!(matches!(parse_json("['a']"), Json::Other));
    }

    #[test]
    fn label_forms() {
        let a = name_val("foo bar", "LABEL", '\\').unwrap();
        assert_eq!(a.words, ["foo", "bar", ""]);
        let a = name_val("foo=bar thing=star", "LABEL", '\\').unwrap();
        assert_eq!(a.words, ["foo", "bar", "=", "thing", "star", "="]);
        let e = name_val("foo", "ENV", '\\').unwrap_err();
        assert_eq!(e.message, "ENV must have two arguments");
    }

    #[test]
    fn flags_extraction() {
        let (rest, flags) = extract_builder_flags("--user=me --doit=true -- foo /tmp/");
        assert_eq!(flags, ["--user=me", "--doit=true"]);
        assert_eq!(rest.trim(), "foo /tmp/");
        let (rest, flags) = extract_builder_flags("--mount=\"type=bind,a b\" echo");
        assert_eq!(flags, ["--mount=type=bind,a b"]);
        assert_eq!(rest, "echo");
    }
}
