//! Encoding one block: classify its segments and write each run of equally classified
//! segments as stored, Huffman-only or deflated data, ending byte-aligned.
//!
//! A [`BlockEncoder`] lives as long as its worker thread, so the classifier's table and the
//! buffers are allocated once; zlib states live for one block (see [`BlockEncoder::encode`]).

use std::io;

use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Strategy};

use super::classify::{Class, Classifier};
use super::{SEGMENT, WINDOW};

/// zlib's fastest level that still builds dynamic Huffman codes: greedy matching.
const GREEDY_LEVEL: u32 = 2;
/// Largest payload of one stored deflate block.
const MAX_STORED: usize = 65535;

/// Turns blocks into deflate bytes; reusable across blocks.
pub(super) struct BlockEncoder {
    level: u32,
    classifier: Classifier,
    deflate: Option<Deflate>,
    greedy: Option<Deflate>,
    huffman: Option<Deflate>,
}

impl BlockEncoder {
    pub(super) fn new(level: u32) -> Self {
        BlockEncoder {
            level,
            classifier: Classifier::new(),
            deflate: None,
            greedy: None,
            huffman: None,
        }
    }

    /// Append the deflate bytes for `data[start..]` to `out`, ending byte-aligned and not
    /// final; `data[..start]` is the history before it.
    pub(super) fn encode(
        &mut self,
        data: &[u8],
        start: usize,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let len = data.len() - start;
        // Room for the worst case (stored) plus flush markers, so deflate rarely needs a
        // second allocation.
        out.reserve(len + len / 64 + 1024);
        if self.level == 0 {
            store(&data[start..], out);
            return Ok(());
        }
        self.classifier.reset();
        // Fresh zlib states for every block: a reset one keeps stale window bytes that a
        // preset dictionary's hashing can read, so a reused state would make the output
        // depend on which blocks this worker happened to encode before. Within the block
        // the sequence of runs is fixed, so reuse across its runs stays deterministic.
        self.deflate = None;
        self.greedy = None;
        self.huffman = None;
        let mut run: Option<(Class, usize)> = None;
        let mut pos = start;
        while pos < data.len() {
            let end = (pos + SEGMENT).min(data.len());
            let class = self.classifier.classify(data, pos, end);
            match run {
                Some((c, _)) if c == class => {}
                Some((c, from)) => {
                    self.emit(data, from, pos, c, out)?;
                    run = Some((class, pos));
                }
                None => run = Some((class, pos)),
            }
            pos = end;
        }
        if let Some((c, from)) = run {
            self.emit(data, from, pos, c, out)?;
        }
        Ok(())
    }

    /// Append one run of equally classified segments.
    fn emit(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        class: Class,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let (slot, strategy, level) = match class {
            Class::Stored => {
                store(&data[start..end], out);
                return Ok(());
            }
            Class::Deflate => (&mut self.deflate, Strategy::Default, self.level),
            Class::Greedy => (
                &mut self.greedy,
                Strategy::Default,
                self.level.min(GREEDY_LEVEL),
            ),
            Class::Huffman => (&mut self.huffman, Strategy::HuffmanOnly, self.level),
        };
        let c = match slot {
            Some(c) => {
                c.reset();
                c
            }
            None => slot.insert(Deflate::new_with_config(DeflateConfig {
                level: level as i32,
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
