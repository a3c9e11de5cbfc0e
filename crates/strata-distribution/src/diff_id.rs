//! Checking a layer's diffID while it downloads, as docker does at pull time.
//!
//! The compressed bytes a download writes are also handed, through a bounded channel, to
//! a blocking thread that decompresses and hashes them, so the check overlaps the network
//! transfer instead of following it. The thread's result is compared with the config's
//! `rootfs.diff_ids` entry before the image is recorded.

use std::io::{self, Read};

use bytes::Bytes;
use strata_oci::{Digest, DigestWriter};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Chunks in flight between the download and the hashing thread.
const DEPTH: usize = 16;

pub(crate) struct DiffIdCheck {
    tx: Option<mpsc::Sender<Bytes>>,
    worker: JoinHandle<io::Result<(Digest, u64, Option<u64>)>>,
}

impl DiffIdCheck {
    /// Start hashing the uncompressed form of a layer that should have diffID `want`.
    pub(crate) fn start(want: &Digest) -> Self {
        let (tx, rx) = mpsc::channel::<Bytes>(DEPTH);
        let algorithm = want.algorithm();
        let worker = tokio::task::spawn_blocking(move || {
            let reader = ChannelReader {
                rx,
                current: Bytes::new(),
            };
            let mut plain = strata_layer::decompress(reader, None)?;
            // The same pass counts the layer's size as docker shows it.
            let mut sink = DigestWriter::new(strata_layer::ContentSizeCounter::new(), algorithm);
            let size = io::copy(&mut plain, &mut sink)?;
            let (counter, digest, _) = sink.finish();
            Ok((digest, size, counter.finish()))
        });
        DiffIdCheck {
            tx: Some(tx),
            worker,
        }
    }

    /// Hand over the next downloaded bytes. A worker that already failed (bad compressed
    /// data) stops taking them; its error is reported by [`DiffIdCheck::finish`].
    pub(crate) async fn feed(&mut self, chunk: Bytes) {
        if let Some(tx) = &self.tx {
            if tx.send(chunk).await.is_err() {
                self.tx = None;
            }
        }
    }

    /// The diffID and uncompressed size of everything fed, and docker's size of the layer
    /// if it is a well-formed tar, once the download is complete.
    pub(crate) async fn finish(mut self) -> io::Result<(Digest, u64, Option<u64>)> {
        self.tx = None;
        match self.worker.await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(format!("diffID worker: {e}"))),
        }
    }
}

/// A `Read` over chunks from the channel; end of stream when the sender is dropped.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
