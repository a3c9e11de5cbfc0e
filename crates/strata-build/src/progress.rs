//! Build progress events. The CLI renders them (plain lines, a tty view, or nothing).

use std::time::Duration;

/// One thing that happened during a build. `id` numbers steps as BuildKit's `#N` does.
#[derive(Debug, Clone)]
pub enum Event {
    /// A step starts: `[stage i/n] INSTRUCTION`.
    Started { id: usize, name: String },
    /// A step's result came from the cache.
    Cached { id: usize },
    /// Why a step could not use the cache (only when explaining).
    Explain { id: usize, reasons: Vec<String> },
    /// A line of a RUN step's output.
    Output {
        id: usize,
        elapsed: Duration,
        line: String,
    },
    /// A step finished.
    Done { id: usize, elapsed: Duration },
    /// A step failed.
    Failed {
        id: usize,
        elapsed: Duration,
        message: String,
    },
    /// A free-form line about the build (export, naming).
    Note { id: usize, text: String },
}

/// Receives events from the builder's threads.
pub trait Progress: Send + Sync {
    fn event(&self, event: Event);
}

/// Discards everything (`--progress quiet`, tests).
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event) {}
}

/// Collects events in memory (tests).
#[derive(Default)]
pub struct Recorder(pub std::sync::Mutex<Vec<Event>>);

impl Progress for Recorder {
    fn event(&self, event: Event) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(event);
    }
}
