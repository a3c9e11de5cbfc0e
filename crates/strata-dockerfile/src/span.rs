//! Source positions: every node of the syntax tree and every typed instruction carries the
//! span of Dockerfile text it came from, so diagnostics can point at a line and column.

use serde::Serialize;

/// A position in the Dockerfile: 1-based line and 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A range of source text. `end` is the position just after the last character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

impl Span {
    pub fn new(start_line: usize, start_column: usize, end_line: usize, end_column: usize) -> Self {
        Span {
            start: Position {
                line: start_line,
                column: start_column,
            },
            end: Position {
                line: end_line,
                column: end_column,
            },
        }
    }

    /// A span covering whole lines, used when only line numbers are known.
    pub fn lines(start_line: usize, end_line: usize) -> Self {
        Span::new(start_line, 1, end_line, 1)
    }
}
