//! The syntax layer: Dockerfile text to a tree of untyped instruction nodes, the way
//! BuildKit's parser sees it. Handles parser directives, line continuations (with comment
//! and blank lines inside them), heredoc bodies, and per-instruction argument splitting.
//!
//! The typed layer ([`crate::instructions`]) validates nodes into [`crate::Instruction`]s.

mod check;
mod dump;
pub mod heredoc;
mod line_parsers;

use serde::Serialize;

pub use check::CheckDirective;
pub use dump::{dump, go_quote};
pub use heredoc::{chomp, parse_heredoc, Heredoc};
pub use line_parsers::parse_words;

use crate::error::{ErrorKind, ParseError};
use crate::span::Span;

/// Longest physical line accepted, as BuildKit's scanner.
pub const MAX_LINE_BYTES: usize = 65535;
/// Longest logical line (after joining continuations) accepted.
pub const MAX_LOGICAL_LINE_BYTES: usize = 4 << 20;
/// Largest Dockerfile accepted.
pub const MAX_FILE_BYTES: usize = 64 << 20;

/// One instruction as written: keyword, raw flags, argument words, nested trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The keyword with its original case (`RUN`, `copy`, …).
    pub value: String,
    /// The logical line (continuations joined) the node was parsed from.
    pub original: String,
    /// `--name=value` words before the arguments, unquoted.
    pub flags: Vec<String>,
    /// Argument words; see the crate docs for how each instruction splits them.
    pub args: Vec<String>,
    /// The arguments were a JSON array (exec form).
    pub json: bool,
    /// ONBUILD's trigger instruction.
    pub sub: Option<Box<Node>>,
    pub heredocs: Vec<Heredoc>,
    pub span: Span,
    /// Comment lines directly above the instruction, without `#`.
    pub prev_comment: Vec<String>,
}

/// A parser directive from the top of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// Lowercased: `syntax`, `escape` or `check`.
    pub name: String,
    pub value: String,
    pub line: usize,
}

/// A non-fatal finding, e.g. an empty line inside a continuation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub message: String,
    pub span: Span,
}

/// The parsed file: instruction nodes in order, directives, escape character, warnings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyntaxTree {
    pub children: Vec<Node>,
    pub directives: Vec<Directive>,
    pub escape: char,
    pub warnings: Vec<Warning>,
    /// First and last line holding an instruction.
    pub span: Span,
}

impl SyntaxTree {
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.directives
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.value.as_str())
    }
}

#[derive(Debug, Default)]
pub(crate) struct Args {
    pub words: Vec<String>,
    pub json: bool,
    pub sub: Option<Box<Node>>,
}

impl Args {
    pub(crate) fn words(words: Vec<String>) -> Self {
        Args {
            words,
            json: false,
            sub: None,
        }
    }
}

/// Tracks the directive block at the top of the file.
struct Directives {
    escape: char,
    done: bool,
    physical: usize,
    found: Vec<Directive>,
}

impl Directives {
    /// Looks at one physical line (newline and, for first lines, indentation removed).
    fn observe(&mut self, line: &str, line_no: usize) -> Result<(), ParseError> {
        self.physical += 1;
        if self.done {
            return Ok(());
        }
        if self.physical == 1 && line.starts_with("#!") {
            return Ok(());
        }
        let Some((name, value)) = match_directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            return Ok(());
        }
        let span = Span::new(line_no, 1, line_no, line.chars().count() + 1);
        if self.found.iter().any(|d| d.name == name) {
            return Err(ParseError::new(
                ErrorKind::Directive,
                format!("only one {name} parser directive can be used"),
            )
            .at(span)
            .with_hint("remove the repeated directive"));
        }
        if name == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return Err(ParseError::new(
                        ErrorKind::Directive,
                        format!("invalid escape token '{other}' does not match ` or \\"),
                    )
                    .at(span)
                    .with_hint("use `# escape=\\` or `# escape=``"))
                }
            };
        }
        self.found.push(Directive {
            name,
            value: value.to_string(),
            line: line_no,
        });
        Ok(())
    }
}

/// Matches `#[ \t]*name[ \t]*=[ \t]*value[ \t]*`.
fn match_directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches([' ', '\t']);
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    if name_len == 0 {
        return None;
    }
    let (name, after) = rest.split_at(name_len);
    let after = after.trim_start_matches([' ', '\t']).strip_prefix('=')?;
    let value = after.trim_matches([' ', '\t']);
    if value.is_empty() {
        return None;
    }
    Some((name, value))
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(raw: &str) -> bool {
    trim_newline(raw).trim_start().starts_with('#')
}

/// Removes a trailing escape character (plus trailing blanks) that continues the line,
/// unless the escape is itself escaped. Returns the line and whether it ends here.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    if let Some(before) = body.strip_suffix(escape) {
        if before.is_empty() || !before.ends_with(escape) {
            return (before.to_string(), false);
        }
    }
    (line.to_string(), true)
}

fn can_contain_heredoc(node: &Node) -> bool {
    let node = match (&node.sub, node.value.eq_ignore_ascii_case("onbuild")) {
        (Some(sub), true) => sub,
        _ => node,
    };
    matches!(
        node.value.to_ascii_lowercase().as_str(),
        "run" | "copy" | "add"
    ) && !node.json
}

fn leading_ws_chars(s: &str) -> usize {
    s.chars().take_while(|c| c.is_whitespace()).count()
}

/// Parses Dockerfile text into its syntax tree.
pub fn parse_syntax(text: &str) -> Result<SyntaxTree, ParseError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ParseError::new(
            ErrorKind::TooLarge,
            format!("dockerfile larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if let Some((n, _)) = lines
        .iter()
        .enumerate()
        .find(|(_, l)| trim_newline(l).len() > MAX_LINE_BYTES)
    {
        return Err(ParseError::new(
            ErrorKind::TooLarge,
            format!("dockerfile line greater than max allowed size of {MAX_LINE_BYTES}"),
        )
        .at(Span::new(n + 1, 1, n + 1, 1))
        .with_hint("split the line with continuation characters"));
    }

    let mut d = Directives {
        escape: '\\',
        done: false,
        physical: 0,
        found: Vec::new(),
    };
    let mut children: Vec<Node> = Vec::new();
    let mut warnings = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    let mut i = 0;
    let mut current_line = 0;

    while i < lines.len() {
        let raw = lines[i];
        i += 1;
        if is_comment(raw) {
            let c = trim_newline(raw).trim_start()[1..].trim();
            if c.is_empty() {
                comments.clear();
            } else {
                comments.push(c.to_string());
            }
        }
        let first = trim_newline(raw).trim_start();
        d.observe(first, current_line + 1)?;
        current_line += 1;
        let token = if is_comment(raw) { "" } else { first };
        let start_line = current_line;
        let start_col = leading_ws_chars(trim_newline(raw)) + 1;
        let (mut line, mut eol) = trim_continuation(token, d.escape);
        if eol && line.is_empty() {
            continue;
        }
        let mut has_empty = false;
        while !eol && i < lines.len() {
            let raw = lines[i];
            i += 1;
            let token = trim_newline(raw);
            d.observe(token, current_line + 1)?;
            current_line += 1;
            if is_comment(raw) {
                continue;
            }
            if token.trim_start().is_empty() {
                has_empty = true;
                continue;
            }
            let (cont, end) = trim_continuation(token, d.escape);
            eol = end;
            line.push_str(&cont);
            if line.len() > MAX_LOGICAL_LINE_BYTES {
                return Err(ParseError::new(
                    ErrorKind::TooLarge,
                    "instruction longer than 4 MiB after joining continuation lines",
                )
                .at(Span::new(start_line, start_col, current_line, 1)));
            }
        }
        let end_of_args = Span::new(
            start_line,
            start_col,
            current_line,
            lines[i - 1].chars().count() + 1,
        );
        if has_empty {
            warnings.push(Warning {
                message: format!("Empty continuation line found in: {line}"),
                span: end_of_args,
            });
        }

        let locate = |e: ParseError, end_line: usize| {
            if e.span.is_some() {
                e
            } else {
                e.at(Span::new(start_line, start_col, end_line, 1))
            }
        };
        let mut node = line_parsers::node_from_line(&line, d.escape, 0)
            .map_err(|e| locate(e, current_line))?;
        if can_contain_heredoc(&node) && line.contains("<<") {
            let docs = heredoc::heredocs_from_line(&line).map_err(|e| locate(e, current_line))?;
            for mut doc in docs {
                let mut terminated = false;
                while i < lines.len() {
                    let raw = lines[i];
                    i += 1;
                    current_line += 1;
                    let mut candidate = trim_newline(raw);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                }
                if !terminated {
                    return Err(ParseError::new(ErrorKind::Syntax, "unterminated heredoc")
                        .at(Span::new(start_line, start_col, current_line, 1))
                        .with_hint(format!(
                            "end the heredoc with a line holding only `{}`",
                            doc.name
                        )));
                }
                node.heredocs.push(doc);
            }
        }
        let end_col = lines[i - 1].trim_end_matches(['\r', '\n']).chars().count() + 1;
        node.span = Span::new(start_line, start_col, current_line, end_col);
        if let Some(sub) = node.sub.as_mut() {
            sub.span = node.span;
        }
        node.prev_comment = std::mem::take(&mut comments);
        children.push(node);
    }

    let Some(first) = children.first() else {
        return Err(
            ParseError::new(ErrorKind::Empty, "file with no instructions")
                .with_hint("a Dockerfile needs at least a FROM instruction"),
        );
    };
    let span = Span::new(
        first.span.start.line,
        1,
        children.last().map_or(1, |c| c.span.end.line),
        1,
    );
    Ok(SyntaxTree {
        children,
        directives: d.found,
        escape: d.escape,
        warnings,
        span,
    })
}
