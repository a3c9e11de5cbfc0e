//! Bounds on what a registry can make strata hold in memory or wait for.
//!
//! Memory: every body read whole is capped before it is parsed (manifests and tag lists at
//! [`crate::MANIFEST_LIMIT`], configs and other small blobs at [`SMALL_BLOB_LIMIT`], tokens
//! at [`TOKEN_LIMIT`], error bodies at [`ERROR_BODY_LIMIT`]); blobs are streamed to disk and
//! counted against their descriptor's size.
//!
//! Time: a request whose answer is read whole, or whose headers are all that matter, must
//! finish within [`ClientOptions::deadline`](crate::ClientOptions::deadline), retries
//! included. A blob body may take as long as its size needs, but must keep up
//! [`ClientOptions::min_rate`](crate::ClientOptions::min_rate) over every
//! [`ClientOptions::rate_window`](crate::ClientOptions::rate_window): a stalled or trickling
//! body is cut off and resumed like a broken connection, so one attempt on a blob of `size`
//! bytes ends within about `size / min_rate + rate_window`.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Result};

/// Blobs read whole into memory (image configs, build-cache indexes) larger than this are
/// refused. Real configs are kilobytes; a thousand-entry history stays far below it.
pub const SMALL_BLOB_LIMIT: u64 = 16 * 1024 * 1024;

/// Largest token-server answer read.
pub(crate) const TOKEN_LIMIT: u64 = 1024 * 1024;

/// Bytes of an error body read for its message; the rest is never read.
pub(crate) const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// How long an error body may take to arrive before the error is reported without it.
pub(crate) const ERROR_BODY_WAIT: Duration = Duration::from_secs(5);

/// Read a whole body, failing with `over()` as soon as it passes `limit` bytes.
pub(crate) async fn read_capped(
    resp: reqwest::Response,
    limit: u64,
    host: &str,
    what: &str,
    over: impl FnOnce() -> Error,
) -> Result<Bytes> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(over());
    }
    let mut out = BytesMut::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| Error::transport(format!("registry {host}: reading {what}"), e))?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(over());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// The first [`ERROR_BODY_LIMIT`] bytes of an error body, or what arrived of them within
/// [`ERROR_BODY_WAIT`]. The connection is dropped afterwards, unread rest and all.
pub(crate) async fn error_body_prefix(resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    let _ = tokio::time::timeout(ERROR_BODY_WAIT, async {
        while let Some(Ok(chunk)) = stream.next().await {
            let room = ERROR_BODY_LIMIT - out.len();
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= ERROR_BODY_LIMIT {
                break;
            }
        }
    })
    .await;
    out
}

/// The slowest transfer accepted for a blob body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateFloor {
    /// Bytes per second, averaged over `window`.
    pub min_rate: u64,
    pub window: Duration,
}

impl RateFloor {
    fn floor_bytes(&self) -> u64 {
        (self.min_rate as f64 * self.window.as_secs_f64()) as u64
    }
}

/// Wrap a blob body so that it ends with a [`ErrorKind::Transport`] error when fewer than
/// `floor.min_rate × floor.window` bytes arrive in any window: a stalled or trickling body.
pub(crate) fn rate_guarded<S>(
    body: S,
    floor: RateFloor,
    what: String,
) -> impl Stream<Item = Result<Bytes>> + Send + Unpin
where
    S: Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
{
    struct State<S> {
        body: std::pin::Pin<Box<S>>,
        window_end: Instant,
        in_window: u64,
        done: bool,
    }
    let state = State {
        body: Box::pin(body),
        window_end: Instant::now() + floor.window,
        in_window: 0,
        done: false,
    };
    let stalled = move |what: &str, got: u64| {
        Error::new(
            ErrorKind::Transport,
            format!(
                "{what}: stalled: {got} bytes in the last {:?}, under the {} bytes/s minimum",
                floor.window, floor.min_rate
            ),
        )
    };
    Box::pin(futures::stream::unfold(state, move |mut st| {
        let what = what.clone();
        async move {
            if st.done {
                return None;
            }
            loop {
                match tokio::time::timeout_at(st.window_end, st.body.next()).await {
                    Ok(item) => {
                        let item = match item {
                            None => return None,
                            Some(Ok(b)) => b,
                            Some(Err(e)) => {
                                st.done = true;
                                return Some((Err(Error::transport(&what, e)), st));
                            }
                        };
                        st.in_window += item.len() as u64;
                        if Instant::now() >= st.window_end {
                            if st.in_window < floor.floor_bytes() {
                                st.done = true;
                                let e = stalled(&what, st.in_window);
                                return Some((Err(e), st));
                            }
                            st.window_end = Instant::now() + floor.window;
                            st.in_window = 0;
                        }
                        return Some((Ok(item), st));
                    }
                    Err(_) => {
                        if st.in_window < floor.floor_bytes() {
                            st.done = true;
                            let e = stalled(&what, st.in_window);
                            return Some((Err(e), st));
                        }
                        st.window_end = Instant::now() + floor.window;
                        st.in_window = 0;
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trickling_body_is_cut_off_after_one_window() {
        let floor = RateFloor {
            min_rate: 1000,
            window: Duration::from_millis(200),
        };
        // One byte every 20 ms: never a long silence, far under 1000 bytes/s.
        let trickle = futures::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok::<_, reqwest::Error>(Bytes::from_static(b"x")), n + 1))
        });
        let mut s = rate_guarded(trickle, floor, "blob x".into());
        let mut got = 0;
        let err = loop {
            match s.next().await {
                Some(Ok(b)) => got += b.len(),
                Some(Err(e)) => break e,
                None => panic!("an endless trickle cannot end"),
            }
        };
        assert_eq!(err.kind, ErrorKind::Transport);
        assert!(err.message.contains("stalled"), "{}", err.message);
        // Cut off in the first window: at most one window's worth of trickle got through.
        assert!(got <= 11, "{got}");
    }

    #[tokio::test]
    async fn a_steady_body_passes_and_a_silent_one_stops() {
        let floor = RateFloor {
            min_rate: 1000,
            window: Duration::from_millis(200),
        };
        let steady = futures::stream::iter(0..30).then(|_| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, reqwest::Error>(Bytes::from(vec![0u8; 500]))
        });
        let s = rate_guarded(steady, floor, "blob y".into());
        let all: Vec<Result<Bytes>> = s.collect().await;
        assert_eq!(all.len(), 30);
        assert!(all.iter().all(|r| r.is_ok()));

        let silent = futures::stream::pending::<reqwest::Result<Bytes>>();
        let mut s = rate_guarded(silent, floor, "blob z".into());
        let err = s.next().await.unwrap().unwrap_err();
        assert!(err.message.contains("blob z: stalled"), "{}", err.message);
    }
}
