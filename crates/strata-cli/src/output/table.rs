//! A text/tabwriter work-alike with docker's settings (minimum width 10, padding 3): cells
//! end at `\t`, the last cell of a line is not padded.

/// Collects lines, then aligns tab-terminated cells into columns.
pub struct TabWriter {
    min_width: usize,
    padding: usize,
    lines: Vec<String>,
}

impl Default for TabWriter {
    fn default() -> Self {
        TabWriter {
            min_width: 10,
            padding: 3,
            lines: Vec::new(),
        }
    }
}

impl TabWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add text; may contain several lines.
    pub fn push(&mut self, text: &str) {
        self.lines.extend(text.split('\n').map(str::to_owned));
    }

    /// The aligned text.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = Vec::new();
        for line in &self.lines {
            let cells: Vec<&str> = line.split('\t').collect();
            for (i, c) in cells.iter().enumerate().take(cells.len().saturating_sub(1)) {
                let w = (c.chars().count() + self.padding).max(self.min_width);
                if widths.len() <= i {
                    widths.push(w);
                } else {
                    widths[i] = widths[i].max(w);
                }
            }
        }
        let mut out = String::new();
        for (n, line) in self.lines.iter().enumerate() {
            let cells: Vec<&str> = line.split('\t').collect();
            let last = cells.len() - 1;
            for (i, c) in cells.iter().enumerate() {
                out.push_str(c);
                if i < last {
                    let pad = widths[i] - c.chars().count();
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if n + 1 < self.lines.len() {
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_docker() {
        let mut t = TabWriter::new();
        t.push("REPOSITORY\tTAG\tIMAGE ID\tSIZE");
        t.push("busybox\tlatest\ta416a98b71e2\t4.26MB");
        assert_eq!(
            t.render(),
            "REPOSITORY   TAG       IMAGE ID       SIZE\nbusybox      latest    a416a98b71e2   4.26MB"
        );
    }
}
