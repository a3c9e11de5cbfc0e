//! Parallel gzip: one gzip member whose deflate stream is compressed in blocks on several
//! threads, the way pigz does it.
//!
//! Each block is raw-deflated independently, primed with the last 32 KiB of the previous
//! block as a preset dictionary (so the ratio stays close to single-threaded gzip) and ended
//! with a sync flush, which makes the concatenation one valid deflate stream. The block size
//! is fixed, so the output bytes do not depend on the number of threads: the same tar gives
//! the same compressed digest on a laptop and on a 64-core builder.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::thread::JoinHandle;

use flate2::{Compress, Compression as Level, FlushCompress, Status};

/// Uncompressed bytes per block. Large enough that thread hand-off costs nothing, small
/// enough that peak memory stays at a few MiB per thread.
const BLOCK: usize = 256 * 1024;
/// Deflate's window: the most history a block can refer back to.
const WINDOW: usize = 32 * 1024;

/// A `Write` that gzip-compresses onto `inner` using up to `threads` threads.
pub struct ParGzEncoder<W: Write> {
    inner: Option<W>,
    level: u32,
    threads: usize,
    buf: Vec<u8>,
    dict: Vec<u8>,
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
            buf: Vec::with_capacity(BLOCK),
            dict: Vec::new(),
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
            // Fixed header: no name, mtime 0, OS "unknown": nothing host-specific leaks in.
            let header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
            self.inner().write_all(&header)?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Hand the buffered block to a worker (or compress it here when single-threaded).
    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        self.write_header()?;
        let block = std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK));
        self.crc.update(&block);
        let dict = std::mem::take(&mut self.dict);
        // The next block's dictionary is the tail of the history ending with this block.
        let mut history = dict.clone();
        history.extend_from_slice(&block[block.len().saturating_sub(WINDOW)..]);
        self.dict = history[history.len().saturating_sub(WINDOW)..].to_vec();
        let level = self.level;
        if self.threads == 1 {
            let out = compress_block(&block, &dict, level, last)?;
            return self.inner().write_all(&out);
        }
        while self.in_flight.len() >= self.threads {
            self.drain_one()?;
        }
        self.in_flight.push_back(std::thread::spawn(move || {
            compress_block(&block, &dict, level, last)
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
        self.dispatch(true)?;
        while !self.in_flight.is_empty() {
            self.drain_one()?;
        }
        let crc = self.crc.sum();
        let size = self.crc.amount();
        let mut inner = self.inner.take().expect("encoder used after finish");
        inner.write_all(&crc.to_le_bytes())?;
        inner.write_all(&size.to_le_bytes())?;
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for ParGzEncoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BLOCK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == BLOCK {
            self.dispatch(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Flushing mid-stream would change block boundaries and so the output bytes; only
        // the inner writer is flushed.
        self.inner().flush()
    }
}

fn compress_block(block: &[u8], dict: &[u8], level: u32, last: bool) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Level::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(block.len() / 2 + 1024);
    let mut input = block;
    loop {
        let before = c.total_in();
        let status = c
            .compress_vec(input, &mut out, flush)
            .map_err(io::Error::other)?;
        input = &input[(c.total_in() - before) as usize..];
        let done = match status {
            Status::StreamEnd => true,
            // A sync flush is complete once the compressor stopped with room to spare.
            _ => !last && input.is_empty() && out.len() < out.capacity(),
        };
        if done {
            return Ok(out);
        }
        out.reserve(64 * 1024);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(n: usize) -> Vec<u8> {
        // Compressible but not trivial: a counter pattern with some noise.
        (0..n).map(|i| ((i * 7) ^ (i >> 5)) as u8 % 61).collect()
    }

    fn gz(data: &[u8], threads: usize) -> Vec<u8> {
        let mut e = ParGzEncoder::new(Vec::new(), 6, threads);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn round_trips_and_is_thread_count_independent() {
        for n in [0, 1, 1000, BLOCK, BLOCK + 1, 3 * BLOCK + 12345] {
            let data = sample(n);
            let one = gz(&data, 1);
            let four = gz(&data, 4);
            assert_eq!(one, four, "output differs by thread count for {n} bytes");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn dictionary_keeps_ratio_close_to_serial() {
        let data = sample(4 * BLOCK);
        let par = gz(&data, 2);
        let mut serial = flate2::write::GzEncoder::new(Vec::new(), Level::new(6));
        serial.write_all(&data).unwrap();
        let serial = serial.finish().unwrap();
        assert!(
            par.len() < serial.len() + serial.len() / 10 + 256,
            "{} vs {}",
            par.len(),
            serial.len()
        );
    }
}
