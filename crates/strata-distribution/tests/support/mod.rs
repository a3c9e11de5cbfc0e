//! A malicious registry for the client's tests: an HTTP server on loopback whose every
//! answer comes from a script, able to lie about digests, send endless or trickling bodies,
//! stall after the headers, redirect anywhere and name other hosts in `Location`, `Link`
//! and `WWW-Authenticate`. It records every request it receives (with its `Authorization`
//! header) and counts the body bytes it has produced, so tests can show what leaked and
//! how much a client really read.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use strata_distribution::{Client, ClientOptions, Credential};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub authorization: Option<String>,
    pub body_len: usize,
}

impl Seen {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(&self.target)
    }
}

/// How an answer's body behaves.
#[derive(Debug, Clone)]
pub enum Flow {
    /// These bytes, with a `Content-Length`.
    Bytes(Vec<u8>),
    /// `chunk`-sized pieces of filler forever.
    Endless { chunk: usize },
    /// One byte every `every`, forever: never silent long enough for a read timeout.
    Trickle { every: Duration },
    /// `prefix`, then nothing, with the connection held open.
    Stall { prefix: Vec<u8> },
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub flow: Flow,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            flow: Flow::Bytes(Vec::new()),
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200).body(body)
    }

    pub fn json(value: serde_json::Value) -> Reply {
        Reply::ok(serde_json::to_vec(&value).unwrap()).header("content-type", "application/json")
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::status(status).header("location", location)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.flow = Flow::Bytes(body.into());
        self
    }

    pub fn flow(mut self, flow: Flow) -> Reply {
        self.flow = flow;
        self
    }
}

type Script = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Shared {
    script: Script,
    log: Arc<Mutex<Vec<Seen>>>,
    produced: Arc<AtomicU64>,
}

/// A running scripted server.
pub struct Hostile {
    /// `127.0.0.1:<port>`, what a client names as the registry host.
    pub host: String,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: Arc<Mutex<Vec<Seen>>>,
    produced: Arc<AtomicU64>,
}

impl Hostile {
    /// Bind a port now; answer with `script` once [`Hostile::serve`] is called. Lets two
    /// servers name each other.
    pub async fn bind() -> (tokio::net::TcpListener, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        (listener, host)
    }

    pub async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Hostile {
        let (listener, _) = Hostile::bind().await;
        Hostile::serve(listener, script)
    }

    pub fn serve(
        listener: tokio::net::TcpListener,
        script: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Hostile {
        let host = listener.local_addr().unwrap().to_string();
        let shared = Shared {
            script: Arc::new(script),
            log: Arc::new(Mutex::new(Vec::new())),
            produced: Arc::new(AtomicU64::new(0)),
        };
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hostile {
            base: format!("http://{host}"),
            host,
            log: shared.log,
            produced: shared.produced,
        }
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// Requests that carried an `Authorization` header.
    pub fn with_credentials(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.authorization.is_some())
            .collect()
    }

    /// Body bytes handed to the connection so far (endless bodies included).
    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::SeqCst)
    }
}

async fn answer(State(sh): State<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // Drain what the client sends (bounded) so uploads complete as against a registry.
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        authorization: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body_len: body.len(),
    };
    sh.log.lock().unwrap().push(seen.clone());
    let reply = (sh.script)(&seen);
    let produced = sh.produced.clone();
    let body = match reply.flow {
        Flow::Bytes(b) => {
            produced.fetch_add(b.len() as u64, Ordering::SeqCst);
            Body::from(b)
        }
        Flow::Endless { chunk } => {
            let piece = Bytes::from(vec![b'{'; chunk]);
            Body::from_stream(futures::stream::repeat_with(move || {
                produced.fetch_add(piece.len() as u64, Ordering::SeqCst);
                Ok::<_, std::io::Error>(piece.clone())
            }))
        }
        Flow::Trickle { every } => Body::from_stream(futures::stream::unfold((), move |()| {
            let produced = produced.clone();
            async move {
                tokio::time::sleep(every).await;
                produced.fetch_add(1, Ordering::SeqCst);
                Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), ()))
            }
        })),
        Flow::Stall { prefix } => {
            produced.fetch_add(prefix.len() as u64, Ordering::SeqCst);
            let first =
                futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(prefix)) });
            Body::from_stream(first.chain(futures::stream::pending()))
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    for (k, v) in reply.headers {
        resp.headers_mut().append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    resp
}

/// A client with basic credentials for `host` and short limits, so hostile answers end
/// quickly: a 2 s deadline, blob bodies held to 64 KiB/s over 500 ms, one retry.
pub fn client_for(host: &str) -> Client {
    let mut credentials = HashMap::new();
    credentials.insert(
        host.to_owned(),
        Credential::Basic {
            username: "alice".into(),
            password: "secret".into(),
        },
    );
    Client::new(ClientOptions {
        credentials,
        retries: 1,
        backoff: Duration::from_millis(10),
        deadline: Duration::from_secs(2),
        min_rate: 64 * 1024,
        rate_window: Duration::from_millis(500),
        ..ClientOptions::default()
    })
    .unwrap()
}

/// `Basic` for alice:secret, as the client sends it.
pub const ALICE: &str = "Basic YWxpY2U6c2VjcmV0";

/// A challenge asking for basic credentials.
pub fn basic_challenge() -> Reply {
    Reply::status(401).header("www-authenticate", r#"Basic realm="hostile""#)
}

/// Whether a request carries alice's basic credentials.
pub fn is_alice(seen: &Seen) -> bool {
    seen.authorization.as_deref() == Some(ALICE)
}
