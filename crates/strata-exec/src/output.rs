//! Copying a child's output to caller sinks while keeping a bounded tail for error messages.
//!
//! Memory stays bounded whatever the process prints: at most `max_lines` lines of at most
//! [`MAX_LINE_BYTES`] bytes each are kept.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

/// Longer lines are cut in the tail (the sinks still receive everything).
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// The last lines seen on any stream, in arrival order.
#[derive(Debug)]
pub(crate) struct Tail {
    max_lines: usize,
    lines: VecDeque<String>,
}

/// A partial line per stream, so stdout and stderr fragments do not mix within a line.
#[derive(Debug, Default)]
pub(crate) struct Partial(Vec<u8>);

impl Tail {
    pub fn new(max_lines: usize) -> Self {
        Self {
            max_lines,
            lines: VecDeque::new(),
        }
    }

    fn push_line(&mut self, bytes: &[u8]) {
        if self.max_lines == 0 {
            return;
        }
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if self.lines.len() == self.max_lines {
            self.lines.pop_front();
        }
        self.lines
            .push_back(String::from_utf8_lossy(bytes).into_owned());
    }

    /// Feed a chunk of one stream; complete lines go into the tail.
    pub fn feed(&mut self, partial: &mut Partial, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(pos);
            append_capped(&mut partial.0, line);
            let full = std::mem::take(&mut partial.0);
            self.push_line(&full);
            rest = &after[1..];
        }
        append_capped(&mut partial.0, rest);
    }

    /// Flush an unterminated last line of a stream.
    pub fn finish(&mut self, partial: &mut Partial) {
        if !partial.0.is_empty() {
            let full = std::mem::take(&mut partial.0);
            self.push_line(&full);
        }
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines.into()
    }
}

fn append_capped(buf: &mut Vec<u8>, data: &[u8]) {
    let room = MAX_LINE_BYTES.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

/// Copy `from` to `to` until end of stream, feeding `tail`. A failing or panicking sink does
/// not stop the copy: the child would block on a full pipe and never exit. The first sink
/// error is returned at the end; a sink panic is resumed at the end.
pub(crate) fn pump(
    mut from: impl Read,
    to: &mut (dyn Write + Send),
    tail: &Mutex<Tail>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial = Partial::default();
    let mut sink_err: Option<io::Error> = None;
    let mut sink_panic = None;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        if sink_err.is_none() && sink_panic.is_none() {
            match std::panic::catch_unwind(AssertUnwindSafe(|| to.write_all(chunk))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => sink_err = Some(e),
                Err(payload) => sink_panic = Some(payload),
            }
        }
        lock(tail).feed(&mut partial, chunk);
    }
    lock(tail).finish(&mut partial);
    if let Some(payload) = sink_panic {
        std::panic::resume_unwind(payload);
    }
    if sink_err.is_none() {
        if let Err(e) = to.flush() {
            sink_err = Some(e);
        }
    }
    sink_err.map_or(Ok(()), Err)
}

/// A poisoned tail only means another pump panicked; the data is still usable.
fn lock(tail: &Mutex<Tail>) -> std::sync::MutexGuard<'_, Tail> {
    tail.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_lines_across_chunks() {
        let mut t = Tail::new(2);
        let mut p = Partial::default();
        t.feed(&mut p, b"one\ntw");
        t.feed(&mut p, b"o\nthree\r\nfou");
        t.finish(&mut p);
        assert_eq!(t.into_lines(), ["three", "fou"]);
    }

    #[test]
    fn streams_do_not_mix_within_a_line() {
        let mut t = Tail::new(10);
        let (mut a, mut b) = (Partial::default(), Partial::default());
        t.feed(&mut a, b"out-");
        t.feed(&mut b, b"err line\n");
        t.feed(&mut a, b"line\n");
        assert_eq!(t.into_lines(), ["err line", "out-line"]);
    }

    #[test]
    fn long_lines_are_capped() {
        let mut t = Tail::new(1);
        let mut p = Partial::default();
        t.feed(&mut p, &vec![b'x'; MAX_LINE_BYTES * 3]);
        t.feed(&mut p, b"\n");
        assert_eq!(t.into_lines()[0].len(), MAX_LINE_BYTES);
    }

    #[test]
    fn pump_drains_after_sink_failure() {
        struct Failing;
        impl Write for Failing {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let tail = Mutex::new(Tail::new(5));
        let err = pump(&b"x\ny\n"[..], &mut Failing, &tail).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        // Everything was still read (and tailed), so the child could not block.
        assert_eq!(tail.into_inner().unwrap().into_lines(), ["x", "y"]);
    }

    #[test]
    fn pump_copies_everything_and_tails() {
        let tail = Mutex::new(Tail::new(1));
        let mut out: Vec<u8> = Vec::new();
        pump(&b"a\nb\nc"[..], &mut out, &tail).unwrap();
        assert_eq!(out, b"a\nb\nc");
        assert_eq!(tail.into_inner().unwrap().into_lines(), ["c"]);
    }
}
