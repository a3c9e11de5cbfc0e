//! Parallel gzip: one gzip member whose deflate stream is compressed in blocks on several
//! threads, the way pigz does it.
//!
//! The input is cut into fixed 1 MiB blocks and each block into 64 KiB segments, and each
//! segment is deflated, Huffman-coded only or stored verbatim, whichever a cheap scan says
//! is worth it (see [`classify`]): random or already-compressed bytes then cost a copy
//! instead of a fruitless match search. Runs of deflated segments are primed with the
//! 32 KiB of input before them as a preset dictionary (so the ratio stays close to
//! single-threaded gzip), and every run ends with a sync flush, which leaves the stream
//! byte-aligned so the pieces concatenate into one valid deflate stream; an empty final
//! stored block ends it. Every boundary and every decision depends only on the input bytes,
//! so the output does not depend on the number of threads: the same tar gives the same
//! compressed digest on a laptop and on a 64-core builder.

mod classify;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Strategy};

use classify::{Class, Classifier};

/// Uncompressed bytes per block: large enough that the preset dictionary (re-hashed at the
/// start of every block) and thread hand-off cost little, small enough that peak memory
/// stays at a few MiB per thread.
const BLOCK: usize = 1024 * 1024;
/// Unit of the stored-or-deflated decision.
const SEGMENT: usize = 64 * 1024;
/// Deflate's window: the most history a block can refer back to.
const WINDOW: usize = 32 * 1024;
/// zlib's fastest level that still builds dynamic Huffman codes: greedy matching.
const GREEDY_LEVEL: u32 = 2;
/// Largest payload of one stored deflate block.
const MAX_STORED: usize = 65535;
/// Fixed gzip header: no name, mtime 0, OS "unknown": nothing host-specific leaks in.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty stored block with the final bit set: ends the deflate stream.
const FINAL_BLOCK: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];

/// A `Write` that gzip-compresses onto `inner` using up to `threads` threads.
pub struct ParGzEncoder<W: Write> {
    inner: Option<W>,
    level: u32,
    threads: usize,
    /// The last `hist` bytes of the previous block followed by the current block's data.
    buf: Vec<u8>,
    hist: usize,
    crc: flate2::Crc,
    in_flight: VecDeque<JoinHandle<io::Result<Vec<u8>>>>,
    header_written: bool,
}

impl<W: Write> ParGzEncoder<W> {
    /// `level` 0–9; `threads` 0 or 1 compresses on the calling thread.
    pub fn new(inner: W, level: u32, threads: usize) -> Self {
        ParGzEncoder {
            inner: Some(inner),
            level: level.min(9),
            threads: threads.max(1),
            buf: Vec::with_capacity(WINDOW + BLOCK),
            hist: 0,
            crc: flate2::Crc::new(),
            in_flight: VecDeque::new(),
            header_written: false,
        }
    }

    fn inner(&mut self) -> &mut W {
        self.inner.as_mut().expect("encoder used after finish")
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.inner().write_all(&HEADER)?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Hand the buffered block to a worker (or compress it here when single-threaded).
    fn dispatch(&mut self) -> io::Result<()> {
        self.write_header()?;
        if self.buf.len() == self.hist {
            return Ok(());
        }
        // The next block's history is the tail of this one; the buffer itself moves to
        // the worker, so only those 32 KiB are copied.
        let tail = self.buf.len().saturating_sub(WINDOW);
        let mut next = Vec::with_capacity(WINDOW + BLOCK);
        next.extend_from_slice(&self.buf[tail..]);
        let data = std::mem::replace(&mut self.buf, next);
        let start = std::mem::replace(&mut self.hist, data.len() - tail);
        self.crc.update(&data[start..]);
        let level = self.level;
        if self.threads == 1 {
            let out = compress_block(&data, start, level)?;
            return self.inner().write_all(&out);
        }
        while self.in_flight.len() >= self.threads {
            self.drain_one()?;
        }
        self.in_flight.push_back(std::thread::spawn(move || {
            compress_block(&data, start, level)
        }));
        Ok(())
    }

    fn drain_one(&mut self) -> io::Result<()> {
        if let Some(handle) = self.in_flight.pop_front() {
            let out = handle
                .join()
                .map_err(|_| io::Error::other("gzip worker thread panicked"))??;
            self.inner().write_all(&out)?;
        }
        Ok(())
    }

    /// Compress what is left, write the trailer and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.dispatch()?;
        while !self.in_flight.is_empty() {
            self.drain_one()?;
        }
        let crc = self.crc.sum();
        let size = self.crc.amount();
        let mut inner = self.inner.take().expect("encoder used after finish");
        inner.write_all(&FINAL_BLOCK)?;
        inner.write_all(&crc.to_le_bytes())?;
        inner.write_all(&size.to_le_bytes())?;
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for ParGzEncoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.hist + BLOCK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.hist + BLOCK {
            self.dispatch()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Flushing mid-stream would change block boundaries and so the output bytes; only
        // the inner writer is flushed.
        self.inner().flush()
    }
}

/// The deflate bytes for `data[start..]`, ending byte-aligned and not final; `data[..start]`
/// is the history before it.
fn compress_block(data: &[u8], start: usize, level: u32) -> io::Result<Vec<u8>> {
    let len = data.len() - start;
    // Room for the worst case (stored) plus flush markers, so deflate rarely needs a second
    // output allocation.
    let mut out = Vec::with_capacity(len + len / 64 + 1024);
    if level == 0 {
        store(&data[start..], &mut out);
        return Ok(out);
    }
    let mut classifier = Classifier::new();
    let mut runs = RunEncoder {
        level,
        deflate: None,
        greedy: None,
        huffman: None,
    };
    let mut run: Option<(Class, usize)> = None;
    let mut pos = start;
    while pos < data.len() {
        let end = (pos + SEGMENT).min(data.len());
        let class = classifier.classify(data, pos, end);
        match run {
            Some((c, _)) if c == class => {}
            Some((c, from)) => {
                runs.emit(data, from, pos, c, &mut out)?;
                run = Some((class, pos));
            }
            None => run = Some((class, pos)),
        }
        pos = end;
    }
    if let Some((c, from)) = run {
        runs.emit(data, from, pos, c, &mut out)?;
    }
    Ok(out)
}

/// Encodes runs of equally classified segments, keeping one compressor per strategy for
/// the whole block (they are reset between runs, not reallocated).
struct RunEncoder {
    level: u32,
    deflate: Option<Deflate>,
    greedy: Option<Deflate>,
    huffman: Option<Deflate>,
}

impl RunEncoder {
    fn emit(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        class: Class,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let (slot, strategy) = match class {
            Class::Stored => {
                store(&data[start..end], out);
                return Ok(());
            }
            Class::Deflate => (&mut self.deflate, Strategy::Default),
            Class::Greedy => (&mut self.greedy, Strategy::Default),
            Class::Huffman => (&mut self.huffman, Strategy::HuffmanOnly),
        };
        let c = match slot {
            Some(c) => {
                c.reset();
                c
            }
            None => slot.insert(Deflate::new_with_config(DeflateConfig {
                level: if class == Class::Greedy {
                    self.level.min(GREEDY_LEVEL) as i32
                } else {
                    self.level as i32
                },
                // Negative: a raw deflate stream, no zlib header or trailer.
                window_bits: -15,
                strategy,
                ..DeflateConfig::default()
            })),
        };
        if class.searches_matches() {
            // Huffman-only coding never looks back, so only a match search needs history.
            let dict = &data[start.saturating_sub(WINDOW)..start];
            if !dict.is_empty() {
                c.set_dictionary(dict).map_err(deflate_error)?;
            }
        }
        let mut input = &data[start..end];
        loop {
            let filled = out.len();
            // deflate writes into initialised memory only; zeroing room for the worst case
            // (a little more than the input) is cheap next to compressing it.
            out.resize(filled + input.len() + input.len() / 64 + 1024, 0);
            let (in0, out0) = (c.total_in(), c.total_out());
            c.compress(input, &mut out[filled..], DeflateFlush::SyncFlush)
                .map_err(deflate_error)?;
            input = &input[(c.total_in() - in0) as usize..];
            let produced = (c.total_out() - out0) as usize;
            let room = out.len() - filled;
            out.truncate(filled + produced);
            // A sync flush is complete once deflate stopped with output room to spare.
            if input.is_empty() && produced < room {
                return Ok(());
            }
        }
    }
}

fn deflate_error(e: zlib_rs::DeflateError) -> io::Error {
    io::Error::other(format!("deflate: {}", e.as_str()))
}

/// Append `data` as non-final stored deflate blocks (the stream is byte-aligned here).
fn store(data: &[u8], out: &mut Vec<u8>) {
    for piece in data.chunks(MAX_STORED) {
        let len = piece.len() as u16;
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(piece);
    }
}

#[cfg(test)]
mod tests;
