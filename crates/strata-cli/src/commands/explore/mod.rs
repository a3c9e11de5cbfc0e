//! `strata explore IMAGE`: an interactive layer explorer in the terminal (ratatui).
//!
//! Left: the layers (one selected; `a` switches between that layer's changes and everything
//! up to it) and the selected layer's command and figures. Right: the file tree with
//! added / modified / removed marks and sizes. Keys are listed in the footer; the whole
//! screen fits 80×24. Beyond viewing: a file's contents (text or hexdump), extracting a
//! file or directory to the host, exporting the layer as a tar.

mod actions;
mod ui;

use std::process::ExitCode;

use anyhow::Result;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use regex::Regex;
use strata_analyze::explore::{items_for, Row, Scope, TreeView};
use strata_analyze::{Analysis, AnalyzeOptions};

use super::analyze::analyze_image;
use super::analyze::source::{open_image, OpenedImage};
use super::pull::RegistryFlags;
use crate::Global;

/// Explore an image's layers and files interactively
#[derive(clap::Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The image: a local name or ID, docker-archive:FILE[:REF], oci:DIR[:TAG], docker://REF
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pane {
    Layers,
    Tree,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prompt {
    Filter,
    Extract,
    Export,
}

/// A text popup (file contents, messages), scrolled by line.
pub(crate) struct Popup {
    pub title: String,
    pub lines: Vec<String>,
    pub scroll: usize,
}

pub(crate) struct App {
    pub image: OpenedImage,
    pub analysis: Analysis,
    pub layer: usize,
    pub scope: Scope,
    pub focus: Pane,
    pub view: TreeView,
    pub rows: Vec<Row>,
    pub cursor: usize,
    pub prompt: Option<(Prompt, String)>,
    pub popup: Option<Popup>,
    pub status: String,
    pub quit: bool,
}

impl App {
    fn new(image: OpenedImage, analysis: Analysis) -> Self {
        let mut app = App {
            image,
            analysis,
            layer: 0,
            scope: Scope::Layer,
            focus: Pane::Layers,
            view: TreeView::default(),
            rows: Vec::new(),
            cursor: 0,
            prompt: None,
            popup: None,
            status: String::new(),
            quit: false,
        };
        app.reload();
        app
    }

    /// Recompute the tree for the selected layer and scope, keeping the view settings.
    fn reload(&mut self) {
        let items = items_for(&self.analysis.entries, self.layer, self.scope);
        self.view.items = items;
        self.refresh();
    }

    fn refresh(&mut self) {
        self.rows = self.view.rows();
        self.cursor = self.cursor.min(self.rows.len().saturating_sub(1));
    }

    pub fn selected(&self) -> Option<&Row> {
        self.rows.get(self.cursor)
    }

    fn handle(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if let Some(popup) = &mut self.popup {
            match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => self.popup = None,
                KeyCode::Down | KeyCode::Char('j') => popup.scroll += 1,
                KeyCode::Up | KeyCode::Char('k') => popup.scroll = popup.scroll.saturating_sub(1),
                KeyCode::PageDown => popup.scroll += 15,
                KeyCode::PageUp => popup.scroll = popup.scroll.saturating_sub(15),
                _ => {}
            }
            return;
        }
        if let Some((kind, text)) = &mut self.prompt {
            match key.code {
                KeyCode::Esc => self.prompt = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                KeyCode::Enter => {
                    let (kind, text) = (*kind, text.clone());
                    self.prompt = None;
                    self.submit(kind, &text);
                }
                _ => {}
            }
            return;
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Pane::Layers => Pane::Tree,
                    Pane::Tree => Pane::Layers,
                }
            }
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::PageDown => self.step(15),
            KeyCode::PageUp => self.step(-15),
            KeyCode::Char('a') => {
                self.scope = match self.scope {
                    Scope::Layer => Scope::Aggregated,
                    Scope::Aggregated => Scope::Layer,
                };
                self.reload();
            }
            KeyCode::Char(' ') | KeyCode::Enter if self.focus == Pane::Tree => {
                if let Some(row) = self.selected().filter(|r| r.is_dir) {
                    let path = row.path.clone();
                    self.view.toggle(&path);
                    self.refresh();
                } else if key.code == KeyCode::Enter {
                    self.view_file();
                }
            }
            KeyCode::Char('/') => self.prompt = Some((Prompt::Filter, String::new())),
            KeyCode::Char('c') => {
                self.view.changes_only = !self.view.changes_only;
                self.refresh();
            }
            KeyCode::Char('s') => {
                self.view.sort_by_size = !self.view.sort_by_size;
                self.refresh();
            }
            KeyCode::Char('v') => self.view_file(),
            KeyCode::Char('x') => {
                if let Some(row) = self.selected() {
                    let default = format!("./{}", row.name);
                    self.prompt = Some((Prompt::Extract, default));
                }
            }
            KeyCode::Char('e') => {
                self.prompt = Some((Prompt::Export, format!("./layer-{}.tar", self.layer)));
            }
            _ => {}
        }
    }

    fn step(&mut self, delta: isize) {
        match self.focus {
            Pane::Layers => {
                let max = self.analysis.layers.len().saturating_sub(1);
                let next = (self.layer as isize + delta).clamp(0, max as isize) as usize;
                if next != self.layer {
                    self.layer = next;
                    self.reload();
                }
            }
            Pane::Tree => {
                let max = self.rows.len().saturating_sub(1);
                self.cursor = (self.cursor as isize + delta).clamp(0, max as isize) as usize;
            }
        }
    }

    fn submit(&mut self, kind: Prompt, text: &str) {
        match kind {
            Prompt::Filter if text.is_empty() => {
                self.view.filter = None;
                self.status = "filter cleared".into();
                self.refresh();
            }
            Prompt::Filter => match Regex::new(text) {
                Ok(re) => {
                    self.view.filter = Some(re);
                    self.status = format!("filter: {text}");
                    self.cursor = 0;
                    self.refresh();
                }
                Err(e) => self.status = format!("bad regex: {e}"),
            },
            Prompt::Extract => {
                self.status = match actions::extract(self, text) {
                    Ok(msg) => msg,
                    Err(e) => format!("extract failed: {e:#}"),
                }
            }
            Prompt::Export => {
                self.status = match actions::export_layer(self, text) {
                    Ok(msg) => msg,
                    Err(e) => format!("export failed: {e:#}"),
                }
            }
        }
    }

    fn view_file(&mut self) {
        match actions::view(self) {
            Ok(Some(popup)) => self.popup = Some(popup),
            Ok(None) => {}
            Err(e) => self.status = format!("view failed: {e:#}"),
        }
    }
}

pub fn run(args: ExploreArgs, global: &Global) -> Result<ExitCode> {
    let image = open_image(&args.image, global, &args.registry)?;
    let analysis = analyze_image(
        &image,
        AnalyzeOptions {
            base_layers: 0,
            keep_entries: true,
        },
    )?;
    if analysis.layers.is_empty() {
        anyhow::bail!("{}: the image has no layers", args.image);
    }
    let mut app = App::new(image, analysis);
    let mut terminal = ratatui::try_init()?;
    let result = (|| -> Result<()> {
        while !app.quit {
            terminal.draw(|f| ui::draw(f, &app))?;
            if let Event::Key(key) = event::read()? {
                app.handle(key);
            }
        }
        Ok(())
    })();
    ratatui::restore();
    result?;
    Ok(ExitCode::SUCCESS)
}
