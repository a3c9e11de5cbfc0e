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

mod block;
mod classify;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use block::BlockEncoder;

/// Uncompressed bytes per block: large enough that the preset dictionary (re-hashed at the
/// start of every block) and thread hand-off cost little, small enough that peak memory
/// stays at a few MiB per thread.
const BLOCK: usize = 1024 * 1024;
/// Unit of the stored/Huffman/deflate decision.
const SEGMENT: usize = 64 * 1024;
/// Deflate's window: the most history a block can refer back to.
const WINDOW: usize = 32 * 1024;
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
    header_written: bool,
    /// Workers, started with the second block (a layer of one block never starts them).
    pool: Option<Pool>,
    /// The encoder used on this thread (single-threaded, or a one-block stream).
    local: Option<BlockEncoder>,
    in_flight: VecDeque<Receiver<io::Result<Done>>>,
    /// Input and output buffers back from the workers, reused so the steady state
    /// allocates (and page-faults) nothing.
    spare_inputs: Vec<Vec<u8>>,
    spare_outputs: Vec<Vec<u8>>,
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
            header_written: false,
            pool: None,
            local: None,
            in_flight: VecDeque::new(),
            spare_inputs: Vec::new(),
            spare_outputs: Vec::new(),
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

    /// Hand the buffered block to a worker, or compress it here when single-threaded or
    /// when it is the whole stream.
    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        self.write_header()?;
        if self.buf.len() == self.hist {
            return Ok(());
        }
        // The next block's history is the tail of this one; the buffer itself moves to
        // the worker, so only those 32 KiB are copied.
        let tail = self.buf.len().saturating_sub(WINDOW);
        let mut next = self
            .spare_inputs
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(WINDOW + BLOCK));
        next.clear();
        next.extend_from_slice(&self.buf[tail..]);
        let data = std::mem::replace(&mut self.buf, next);
        let start = std::mem::replace(&mut self.hist, data.len() - tail);
        self.crc.update(&data[start..]);
        let mut out = self.spare_outputs.pop().unwrap_or_default();
        out.clear();
        if self.threads == 1 || (last && self.pool.is_none()) {
            let level = self.level;
            let encoder = self.local.get_or_insert_with(|| BlockEncoder::new(level));
            encoder.encode(&data, start, &mut out)?;
            self.inner().write_all(&out)?;
            self.spare_inputs.push(data);
            self.spare_outputs.push(out);
            return Ok(());
        }
        while self.in_flight.len() >= self.threads {
            self.drain_one()?;
        }
        let (level, threads) = (self.level, self.threads);
        let pool = self.pool.get_or_insert_with(|| Pool::new(level, threads));
        let (reply, result) = mpsc::sync_channel(1);
        pool.submit(Job {
            data,
            start,
            out,
            reply,
        })?;
        self.in_flight.push_back(result);
        Ok(())
    }

    fn drain_one(&mut self) -> io::Result<()> {
        if let Some(result) = self.in_flight.pop_front() {
            let done = result
                .recv()
                .map_err(|_| io::Error::other("gzip worker thread panicked"))??;
            self.inner().write_all(&done.out)?;
            self.spare_inputs.push(done.data);
            self.spare_outputs.push(done.out);
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

/// One block for a worker; the buffers travel back in [`Done`] for reuse.
struct Job {
    data: Vec<u8>,
    start: usize,
    out: Vec<u8>,
    reply: SyncSender<io::Result<Done>>,
}

struct Done {
    data: Vec<u8>,
    out: Vec<u8>,
}

/// Long-lived worker threads, each with its own [`BlockEncoder`], taking jobs from one
/// queue. Results come back on per-job channels, so the order of the stream is the order
/// of submission whatever the order of completion.
struct Pool {
    jobs: Option<mpsc::Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(level: u32, threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..threads)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || {
                    let mut encoder = BlockEncoder::new(level);
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        let Ok(mut job) = job else { return };
                        let result = encoder.encode(&job.data, job.start, &mut job.out);
                        let _ = job.reply.send(result.map(|()| Done {
                            data: job.data,
                            out: job.out,
                        }));
                    }
                })
            })
            .collect();
        Pool {
            jobs: Some(jobs),
            workers,
        }
    }

    fn submit(&self, job: Job) -> io::Result<()> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| io::Error::other("gzip worker threads have exited"))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends each worker after its current job.
        self.jobs.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests;
