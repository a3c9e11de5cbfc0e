//! The entry point the `registry_requests` fuzz target drives (`fuzz/fuzz_targets/`), and
//! that `tests/fuzz_corpus.rs` replays the checked-in corpus through on the stable
//! toolchain.
//!
//! An input is a raw request: a first line `METHOD TARGET`, header lines `name: value`, an
//! empty line, then the body. Each input runs against a fresh filesystem-backed registry
//! (no auth) through the same handler every HTTP request reaches. The handler must answer
//! every input: a panic, a hang, or a server error (5xx) caused by nothing but the
//! request is the bug the fuzzer reports.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::config::Config;
use crate::storage::fs::FsStorage;

/// A request decoded from fuzzer bytes; `None` when the bytes do not make one (a method or
/// URI the HTTP layer would have refused before any handler ran).
fn decode(data: &[u8]) -> Option<(Method, Uri, HeaderMap, Vec<u8>)> {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or((data, &[][..]), |i| (&data[..i], &data[i + 2..]));
    let (head, body) = split;
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let (method, target) = lines.next()?.split_once(' ')?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let uri: Uri = target.parse().ok()?;
    uri.path().starts_with('/').then_some(())?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':')?;
        headers.append(
            HeaderName::from_bytes(k.trim().as_bytes()).ok()?,
            HeaderValue::from_str(v.trim()).ok()?,
        );
    }
    Some((method, uri, headers, body.to_vec()))
}

/// Run one fuzz input through the request handler. Panics when the registry answers a
/// server error: a request alone must never cause one.
pub fn request_handlers(data: &[u8]) {
    let Some((method, uri, headers, body)) = decode(data) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("strata-fuzz-{}", uuid::Uuid::new_v4()));
    let storage = Arc::new(FsStorage::open(&dir).expect("storage"));
    let state = crate::server::build_state(&Config::default(), storage).expect("state");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let status = rt.block_on(async move {
        let resp = crate::routes::v2(State(state), method, uri, headers, Body::from(body)).await;
        let status = resp.status();
        // Read the body too: streamed answers (blobs) run their code while being read.
        let _ = axum::body::to_bytes(resp.into_body(), 64 << 20).await;
        status
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !status.is_server_error(),
        "request {:?} caused {status}",
        String::from_utf8_lossy(&data[..data.len().min(200)])
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_requests_and_answers_them() {
        let (m, u, h, b) = decode(b"PUT /v2/a/manifests/v1\ncontent-type: x\n\n{}").unwrap();
        assert_eq!(
            (m.as_str(), u.path(), b.as_slice()),
            ("PUT", "/v2/a/manifests/v1", &b"{}"[..])
        );
        assert_eq!(h["content-type"], "x");
        assert!(decode(b"no-space").is_none());
        request_handlers(b"GET /v2/\n\n");
        request_handlers(b"GET /v2/a/tags/list?n=-1\n\n");
    }
}
