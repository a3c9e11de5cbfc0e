//! The crate's one error type. Every error names the Dockerfile, the line and column it
//! concerns (when known) and carries an optional hint; [`ParseError::render`] draws the
//! source line with a caret under the column.

use std::fmt;

use crate::span::{Position, Span};

/// What went wrong, for callers that branch on the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Malformed text: bad continuation, unterminated quote or heredoc, bad JSON array.
    Syntax,
    /// A parser directive (`# escape=`, `# syntax=`, `# check=`) is invalid or repeated.
    Directive,
    /// The file has no instructions at all.
    Empty,
    /// An instruction keyword that does not exist.
    UnknownInstruction,
    /// An instruction with missing, extra or malformed arguments.
    InvalidArgument,
    /// An unknown flag, a flag on the wrong instruction, or a flag with a bad value.
    InvalidFlag,
    /// Input beyond the limits that keep parsing bounded (line length, nesting, size).
    TooLarge,
    /// A stage reference that cannot be resolved, a duplicate or reserved stage name, a cycle.
    Stage,
    /// Variable expansion failed (e.g. `${VAR:?message}` on an unset variable).
    Expansion,
}

/// An error in a Dockerfile, located by file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    pub message: String,
    pub file: String,
    pub span: Option<Span>,
    /// The text of the first line of `span`, filled in by the parser for rendering.
    pub source_line: Option<String>,
    pub hint: Option<String>,
}

impl ParseError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ParseError {
            kind,
            message: message.into(),
            file: String::new(),
            span: None,
            source_line: None,
            hint: None,
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Fills in the file name and the source line from the whole Dockerfile text.
    pub fn with_source(mut self, file: &str, text: &str) -> Self {
        if self.file.is_empty() {
            self.file = file.to_string();
        }
        if self.source_line.is_none() {
            if let Some(span) = self.span {
                self.source_line =
                    text.split('\n')
                        .nth(span.start.line.saturating_sub(1))
                        .map(|l| {
                            l.trim_end_matches('\r')
                                .trim_start_matches('\u{feff}')
                                .to_string()
                        });
            }
        }
        self
    }

    /// The start position, if the error is located.
    pub fn position(&self) -> Option<Position> {
        self.span.map(|s| s.start)
    }

    /// A multi-line diagnostic: message, `file:line:col`, the source line, a caret under the
    /// column, and the hint on its own line.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n", self.message);
        let file = if self.file.is_empty() {
            "Dockerfile"
        } else {
            &self.file
        };
        match self.span {
            Some(span) => {
                let line_no = span.start.line.to_string();
                let pad = " ".repeat(line_no.len());
                out.push_str(&format!(
                    " {pad}--> {file}:{}:{}\n",
                    span.start.line, span.start.column
                ));
                if let Some(src) = &self.source_line {
                    // Tabs are kept so the caret lines up under the same characters.
                    let prefix: String = src
                        .chars()
                        .take(span.start.column.saturating_sub(1))
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    out.push_str(&format!(" {pad} |\n"));
                    out.push_str(&format!(" {line_no} | {src}\n"));
                    out.push_str(&format!(" {pad} | {prefix}^\n"));
                }
            }
            None => out.push_str(&format!(" --> {file}\n")),
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("  = hint: {hint}\n"));
        }
        out
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = if self.file.is_empty() {
            "Dockerfile"
        } else {
            &self.file
        };
        match self.span {
            Some(s) => write!(
                f,
                "{file}:{}:{}: {}",
                s.start.line, s.start.column, self.message
            ),
            None => write!(f, "{file}: {}", self.message),
        }
    }
}

impl std::error::Error for ParseError {}

pub type Result<T, E = ParseError> = std::result::Result<T, E>;
