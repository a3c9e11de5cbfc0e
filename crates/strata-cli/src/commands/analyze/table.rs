//! strata's table report for `strata analyze`.

use std::fmt::Write as _;

use strata_analyze::gofmt::{go_percent, human_bytes};
use strata_analyze::{Action, Analysis};

use crate::output::human_size;

/// How many wasted paths the table lists (the JSON report lists all).
const WASTED_ROWS: usize = 20;

fn short_digest(d: &str) -> String {
    let hex = d.split_once(':').map_or(d, |(_, h)| h);
    hex[..hex.len().min(12)].to_owned()
}

fn one_line(s: &str, max: usize) -> String {
    let s = s.replace(['\t', '\n'], " ");
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

pub fn render(name: &str, a: &Analysis) -> String {
    let e = &a.efficiency;
    let mut s = String::new();
    let _ = writeln!(s, "Image: {name}");
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<5}  {:<12}  {:>8}  {:>6}  {:>8}  {:>7}  CREATED BY",
        "LAYER", "DIGEST", "SIZE", "ADDED", "MODIFIED", "REMOVED"
    );
    for l in &a.layers {
        let mark = if l.base { " (base)" } else { "" };
        let _ = writeln!(
            s,
            "{:<5}  {:<12}  {:>8}  {:>6}  {:>8}  {:>7}  {}{mark}",
            l.index,
            short_digest(&l.digest),
            human_size(l.size),
            l.changes.added,
            l.changes.modified,
            l.changes.removed,
            one_line(&l.command, 60)
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Total size:           {} ({} bytes in {} layers; user layers {} bytes)",
        human_bytes(e.size_bytes),
        e.size_bytes,
        a.layers.len(),
        e.user_size_bytes
    );
    if a.base_layers > 0 {
        let _ = writeln!(
            s,
            "Base layers excluded: {} (the score covers layers {} and up)",
            a.base_layers, a.base_layers
        );
    }
    let _ = writeln!(s, "Efficiency:           {} %", go_percent(e.score));
    let _ = writeln!(
        s,
        "Wasted bytes:         {} ({}), every copy counted as dive does",
        e.wasted_bytes,
        human_bytes(e.wasted_bytes)
    );
    let _ = writeln!(
        s,
        "Wasted bytes (N-1):   {} ({}), copies the final image does not show",
        e.wasted_bytes_n_minus_1,
        human_bytes(e.wasted_bytes_n_minus_1)
    );
    let _ = writeln!(
        s,
        "User wasted percent:  {} % (N-1: {} %)",
        go_percent(e.user_wasted_percent),
        go_percent(e.user_wasted_percent_n_minus_1)
    );

    let _ = writeln!(s);
    let _ = writeln!(s, "Biggest files and directories per layer:");
    for l in &a.layers {
        if l.changes.biggest_files.is_empty() {
            continue;
        }
        let files: Vec<String> = l
            .changes
            .biggest_files
            .iter()
            .map(|f| format!("/{} {}", f.path, human_bytes(f.size)))
            .collect();
        let dirs: Vec<String> = l
            .changes
            .biggest_dirs
            .iter()
            .map(|d| format!("/{} {}", d.path, human_bytes(d.size)))
            .collect();
        let _ = writeln!(s, "  layer {}: files {}", l.index, files.join(", "));
        let _ = writeln!(
            s,
            "  {:>width$}  dirs  {}",
            "",
            dirs.join(", "),
            width = 6 + l.index.to_string().len()
        );
    }

    let _ = writeln!(s);
    if e.inefficient.is_empty() {
        let _ = writeln!(s, "Wasted paths: none");
        return s;
    }
    let _ = writeln!(
        s,
        "Wasted paths ({} in all{}):",
        e.inefficient.len(),
        if e.inefficient.len() > WASTED_ROWS {
            format!(", biggest {WASTED_ROWS} shown; --format json lists all")
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "{:>5}  {:>9}  {:>9}  {:<40}  HISTORY",
        "COUNT", "WASTED", "N-1", "PATH"
    );
    for w in e.inefficient.iter().take(WASTED_ROWS) {
        let history: Vec<String> = w
            .touches
            .iter()
            .map(|t| {
                let verb = match t.action {
                    Action::Added => "added",
                    Action::Overwrote => "overwritten",
                    Action::Deleted => "deleted",
                };
                format!("{verb} in {}", t.layer)
            })
            .collect();
        let _ = writeln!(
            s,
            "{:>5}  {:>9}  {:>9}  {:<40}  {}",
            w.count,
            human_bytes(w.wasted_bytes),
            human_bytes(w.wasted_bytes_n_minus_1),
            w.path,
            history.join(", ")
        );
    }
    s
}
