//! Rendering of build progress on stderr.
//!
//! - plain: BuildKit's line format (`#N [stage i/n] RUN …`, `#N 0.123 output`,
//!   `#N CACHED`, `#N DONE 1.2s`, `#N ERROR: …`), one line per event, safe for logs;
//! - tty: a compact live view, one line per step with its timer, output shown only while
//!   the step runs and for failed steps;
//! - quiet: nothing.
//!
//! The export step's `DONE` line is held back until [`Renderer::finish`], so the CLI can
//! add its own export lines (`naming to …`, archive writing) under the same `#N`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_build::{Event, Progress};

/// Which view to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Tty,
    Quiet,
}

/// The export step's names: to the store, or to an `-o` output.
const EXPORT_STEPS: [&str; 2] = ["exporting to image", "exporting to client"];

/// A progress sink for the builder plus the CLI's final lines.
pub struct Renderer {
    mode: Mode,
    /// Show `Explain` events (`--explain-cache`).
    explain: bool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Step names by id, and the step the last plain line belonged to: a line of another
    /// step repeats that step's header first, so parallel stages' lines are never shown
    /// under the wrong step (BuildKit's plain output does the same).
    names: HashMap<usize, String>,
    last: Option<usize>,
    export_id: Option<usize>,
    export_elapsed: Option<Duration>,
    tty: Option<Tty>,
}

struct Tty {
    multi: MultiProgress,
    bars: HashMap<usize, (ProgressBar, String)>,
    /// Output lines of running steps, replayed when a step fails.
    output: HashMap<usize, Vec<String>>,
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl Renderer {
    pub fn new(mode: Mode, explain: bool) -> Self {
        let mut inner = Inner::default();
        if mode == Mode::Tty {
            inner.tty = Some(Tty {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: HashMap::new(),
                output: HashMap::new(),
            });
        }
        Renderer {
            mode,
            explain,
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Print the CLI's own export lines (each gets ` done`), then the held-back `DONE`.
    pub fn finish(&self, lines: &[String]) {
        let mut inner = self.lock();
        // A build that failed before exporting has no export step to close.
        let Some(id) = inner.export_id else {
            return;
        };
        let elapsed = inner.export_elapsed.take().unwrap_or_default();
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => {
                let mut err = std::io::stderr().lock();
                if inner.last != Some(id) {
                    if let Some(name) = inner.names.get(&id) {
                        let _ = writeln!(err, "#{id} {name}");
                    }
                }
                for l in lines {
                    let _ = writeln!(err, "#{id} {l} done");
                }
                let _ = writeln!(err, "#{id} DONE {}\n", secs(elapsed));
            }
            Mode::Tty => {
                if let Some(tty) = inner.tty.as_mut() {
                    if let Some((bar, name)) = tty.bars.remove(&id) {
                        bar.set_style(ProgressStyle::with_template(" ✔ {prefix} {msg}").unwrap());
                        bar.finish_with_message(format!("{name}  {}", secs(elapsed)));
                    }
                    for l in lines {
                        let _ = tty.multi.println(format!(" => {l}"));
                    }
                }
            }
        }
    }

    fn plain(&self, inner: &mut Inner, event: Event) {
        let mut err = std::io::stderr().lock();
        let id = match &event {
            Event::Started { id, .. }
            | Event::Cached { id }
            | Event::Explain { id, .. }
            | Event::Output { id, .. }
            | Event::Done { id, .. }
            | Event::Failed { id, .. }
            | Event::Note { id, .. } => *id,
        };
        let quiet_explain = matches!(event, Event::Explain { .. }) && !self.explain;
        if !matches!(event, Event::Started { .. }) && inner.last != Some(id) && !quiet_explain {
            if let Some(name) = inner.names.get(&id) {
                let _ = writeln!(err, "#{id} {name}");
            }
        }
        if !quiet_explain {
            inner.last = Some(id);
        }
        let _ = match event {
            Event::Started { id, name } => {
                if EXPORT_STEPS.contains(&name.as_str()) {
                    inner.export_id = Some(id);
                }
                let line = writeln!(err, "#{id} {name}");
                inner.names.insert(id, name);
                line
            }
            Event::Cached { id } => writeln!(err, "#{id} CACHED\n"),
            Event::Explain { id, reasons } => {
                if self.explain {
                    for r in reasons {
                        let _ = writeln!(err, "#{id} cache miss: {r}");
                    }
                }
                Ok(())
            }
            Event::Output { id, elapsed, line } => {
                writeln!(err, "#{id} {:.3} {line}", elapsed.as_secs_f64())
            }
            Event::Done { id, elapsed } => {
                if Some(id) == inner.export_id {
                    inner.export_elapsed = Some(elapsed);
                    Ok(())
                } else {
                    writeln!(err, "#{id} DONE {}\n", secs(elapsed))
                }
            }
            Event::Failed {
                id,
                elapsed: _,
                message,
            } => {
                let first = message.lines().next().unwrap_or_default();
                writeln!(err, "#{id} ERROR: {first}\n")
            }
            Event::Note { id, text } => writeln!(err, "#{id} {text} done"),
        };
    }

    fn tty(&self, inner: &mut Inner, event: Event) {
        let Some(tty) = inner.tty.as_mut() else {
            return;
        };
        match event {
            Event::Started { id, name } => {
                if EXPORT_STEPS.contains(&name.as_str()) {
                    inner.export_id = Some(id);
                }
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template(" {spinner} {prefix:.bold} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(format!("#{id}"));
                bar.set_message(name.clone());
                let bar = tty.multi.add(bar);
                bar.enable_steady_tick(Duration::from_millis(120));
                tty.bars.insert(id, (bar, name));
            }
            Event::Cached { id } => {
                if let Some((bar, name)) = tty.bars.remove(&id) {
                    bar.set_style(ProgressStyle::with_template(" ✔ {prefix} {msg}").unwrap());
                    bar.finish_with_message(format!("{name}  CACHED"));
                }
            }
            Event::Explain { id, reasons } => {
                if self.explain {
                    for r in reasons {
                        let _ = tty.multi.println(format!(" #{id} cache miss: {r}"));
                    }
                }
            }
            Event::Output { id, line, .. } => {
                if let Some((bar, name)) = tty.bars.get(&id) {
                    let short: String = line.chars().take(60).collect();
                    bar.set_message(format!("{name}  > {short}"));
                }
                let lines = tty.output.entry(id).or_default();
                lines.push(line);
                if lines.len() > 10 {
                    lines.remove(0);
                }
            }
            Event::Done { id, elapsed } => {
                tty.output.remove(&id);
                if Some(id) == inner.export_id {
                    inner.export_elapsed = Some(elapsed);
                    return;
                }
                if let Some((bar, name)) = tty.bars.remove(&id) {
                    bar.set_style(ProgressStyle::with_template(" ✔ {prefix} {msg}").unwrap());
                    bar.finish_with_message(format!("{name}  {}", secs(elapsed)));
                }
            }
            Event::Failed {
                id,
                elapsed,
                message,
            } => {
                if let Some((bar, name)) = tty.bars.remove(&id) {
                    bar.set_style(ProgressStyle::with_template(" ✘ {prefix} {msg}").unwrap());
                    bar.finish_with_message(format!("{name}  ERROR {}", secs(elapsed)));
                }
                for l in tty.output.remove(&id).unwrap_or_default() {
                    let _ = tty.multi.println(format!("   > {l}"));
                }
                let first = message.lines().next().unwrap_or_default().to_owned();
                let _ = tty.multi.println(format!(" #{id} ERROR: {first}"));
            }
            Event::Note { id, text } => {
                let _ = tty.multi.println(format!(" #{id} {text}"));
            }
        }
    }
}

impl Progress for Renderer {
    fn event(&self, event: Event) {
        let mut inner = self.lock();
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => self.plain(&mut inner, event),
            Mode::Tty => self.tty(&mut inner, event),
        }
    }
}
