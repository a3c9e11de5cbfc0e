//! Drawing the explorer: layers and details on the left, the file tree on the right, the
//! prompt or status line and the key footer at the bottom. Sized for 80×24 and up.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use strata_analyze::explore::{Mark, Scope};
use strata_analyze::gofmt::human_bytes;

use super::{App, Pane, Prompt};

pub const FOOTER: &str =
    "q:quit tab:pane a:aggr spc:fold /:filter c:chg s:size v:view x:extract e:export";

fn pane_block(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::default()
            .fg(Color::Cyan)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(title, style))
}

/// The window of `len` rows of height `height` that keeps `cursor` visible.
fn window(cursor: usize, len: usize, height: usize) -> std::ops::Range<usize> {
    if height == 0 || len <= height {
        return 0..len;
    }
    let start = cursor.saturating_sub(height / 2).min(len - height);
    start..start + height
}

pub fn draw(f: &mut Frame<'_>, app: &App) {
    let area = f.area();
    let outer = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(5),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(area);
    let scope = match app.scope {
        Scope::Layer => "changes in this layer",
        Scope::Aggregated => "aggregated up to here",
    };
    let title = format!(
        "{} · layer {}/{} · {}",
        app.image.name,
        app.layer,
        app.analysis.layers.len() - 1,
        scope
    );
    f.render_widget(Paragraph::new(title), outer[0]);

    let left_width = (area.width / 2).clamp(30, 50);
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(left_width), Constraint::Min(20)])
        .split(outer[1]);
    let layers_height = (app.analysis.layers.len() as u16 + 2)
        .min(cols[0].height / 2)
        .max(3);
    let left = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Length(layers_height), Constraint::Min(3)])
        .split(cols[0]);
    draw_layers(f, app, left[0]);
    draw_details(f, app, left[1]);
    draw_tree(f, app, cols[1]);

    let line = match &app.prompt {
        Some((kind, text)) => {
            let label = match kind {
                Prompt::Filter => "filter (regex): ",
                Prompt::Extract => "extract to: ",
                Prompt::Export => "export layer to: ",
            };
            format!("{label}{text}_")
        }
        None => app.status.clone(),
    };
    f.render_widget(Paragraph::new(line), outer[2]);
    f.render_widget(
        Paragraph::new(FOOTER).style(Style::default().add_modifier(Modifier::REVERSED)),
        outer[3],
    );

    if let Some(popup) = &app.popup {
        let r = Rect {
            x: area.x + 1,
            y: area.y + 1,
            width: area.width.saturating_sub(2),
            height: area.height.saturating_sub(3),
        };
        f.render_widget(Clear, r);
        let body: Vec<Line<'_>> = popup
            .lines
            .iter()
            .skip(popup.scroll)
            .map(|l| Line::raw(l.as_str()))
            .collect();
        f.render_widget(
            Paragraph::new(body).block(pane_block(
                format!("{} (esc: close, ↑↓: scroll)", popup.title),
                true,
            )),
            r,
        );
    }
}

fn draw_layers(f: &mut Frame<'_>, app: &App, area: Rect) {
    let inner_h = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let range = window(app.layer, app.analysis.layers.len(), inner_h);
    let lines: Vec<Line<'_>> = app.analysis.layers[range]
        .iter()
        .map(|l| {
            let text = format!("{:>2} {:>8} {}", l.index, human_bytes(l.size), l.command);
            let text: String = text.chars().take(width).collect();
            let style = if l.index == app.layer {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            Line::styled(text, style)
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(pane_block("Layers".into(), app.focus == Pane::Layers)),
        area,
    );
}

fn draw_details(f: &mut Frame<'_>, app: &App, area: Rect) {
    let l = &app.analysis.layers[app.layer];
    let e = &app.analysis.efficiency;
    let short: String = l.digest.chars().take(19).collect();
    let text = vec![
        Line::raw(format!("Digest: {short}…")),
        Line::raw(format!(
            "Size: {}  +{} ~{} -{}",
            human_bytes(l.size),
            l.changes.added,
            l.changes.modified,
            l.changes.removed
        )),
        Line::raw(format!(
            "Image: eff {:.2}% wasted {}",
            e.score * 100.0,
            human_bytes(e.wasted_bytes)
        )),
        Line::raw("Command:"),
        Line::raw(l.command.clone()),
    ];
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(pane_block("Layer details".into(), false)),
        area,
    );
}

fn draw_tree(f: &mut Frame<'_>, app: &App, area: Rect) {
    let inner_h = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let range = window(app.cursor, app.rows.len(), inner_h);
    let start = range.start;
    let lines: Vec<Line<'_>> = app.rows[range]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let fold = match (r.is_dir, r.collapsed) {
                (true, true) => "+ ",
                (true, false) => "- ",
                _ => "  ",
            };
            let text = format!(
                "{} {:>8} {}{}{}",
                r.mark.letter(),
                human_bytes(r.size),
                "  ".repeat(r.depth),
                fold,
                r.name
            );
            let text: String = text.chars().take(width).collect();
            let mut style = match r.mark {
                Mark::Added => Style::default().fg(Color::Green),
                Mark::Modified => Style::default().fg(Color::Yellow),
                Mark::Removed => Style::default().fg(Color::Red),
                Mark::Unchanged => Style::default(),
            };
            if start + i == app.cursor && app.focus == Pane::Tree {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Line::styled(text, style)
        })
        .collect();
    let mut flags = Vec::new();
    if app.view.changes_only {
        flags.push("changes only");
    }
    if app.view.sort_by_size {
        flags.push("by size");
    }
    if app.view.filter.is_some() {
        flags.push("filtered");
    }
    let title = if flags.is_empty() {
        "Files".to_owned()
    } else {
        format!("Files ({})", flags.join(", "))
    };
    f.render_widget(
        Paragraph::new(lines).block(pane_block(title, app.focus == Pane::Tree)),
        area,
    );
}
