//! The HTTP side: one [`Client`] per command, TLS and scheme choice per registry host,
//! authentication and retries around every request.
//!
//! Scheme: `https` with verified certificates (system roots plus any configured CA files).
//! A host in the insecure list, or any host with `tls_verify = false`, is contacted over
//! https without verification. Loopback hosts and insecure hosts fall back to plain `http`
//! when the https probe cannot complete a TLS handshake, as docker treats them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use crate::auth::{self, AuthCache, Authorization};
use crate::credentials::{Credential, DockerConfig};
use crate::error::{Error, ErrorKind, Result};

/// How a [`Client`] reaches registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Verify TLS certificates (docker `--tls-verify`). `false` also allows plain http.
    pub tls_verify: bool,
    /// Hosts (`host[:port]`) treated as insecure: unverified TLS, http fallback.
    pub insecure_registries: Vec<String>,
    /// Extra trusted CA certificates, PEM.
    pub ca_certs: Vec<Vec<u8>>,
    /// Where credentials come from; `None` means anonymous only.
    pub docker_config: Option<DockerConfig>,
    /// Credentials that override the config file, per host.
    pub credentials: HashMap<String, Credential>,
    /// Attempts after the first for idempotent requests failing with 5xx or a reset.
    pub retries: u32,
    /// First retry delay; doubled each attempt.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: true,
            insecure_registries: Vec::new(),
            ca_certs: Vec::new(),
            docker_config: None,
            credentials: HashMap::new(),
            retries: 4,
            backoff: Duration::from_millis(200),
        }
    }
}

/// A request body that can be sent again on retry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Req {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
}

impl Req {
    pub(crate) fn new(method: Method, url: String) -> Self {
        Req {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    pub(crate) fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

/// A registry client shared by every transfer of one command.
pub struct Client {
    pub(crate) opts: ClientOptions,
    verified: reqwest::Client,
    unverified: reqwest::Client,
    auth: AuthCache,
    bases: Mutex<HashMap<String, String>>,
    creds: Mutex<HashMap<String, Option<Credential>>>,
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Self> {
        let mut certs = Vec::new();
        for pem in &opts.ca_certs {
            let c = reqwest::Certificate::from_pem(pem).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("invalid CA certificate: {e}"),
                )
            })?;
            certs.push(c);
        }
        let build = |verify: bool| {
            let mut b = reqwest::Client::builder()
                .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .read_timeout(Duration::from_secs(120))
                .redirect(reqwest::redirect::Policy::limited(10))
                .pool_max_idle_per_host(16);
            if verify {
                b = b.tls_certs_merge(certs.clone());
            } else {
                b = b.tls_danger_accept_invalid_certs(true);
            }
            b.build()
                .map_err(|e| Error::transport("cannot set up the http client", e))
        };
        Ok(Client {
            verified: build(true)?,
            unverified: build(false)?,
            opts,
            auth: AuthCache::default(),
            bases: Mutex::new(HashMap::new()),
            creds: Mutex::new(HashMap::new()),
        })
    }

    fn insecure(&self, host: &str) -> bool {
        !self.opts.tls_verify || self.opts.insecure_registries.iter().any(|h| h == host)
    }

    fn http_for(&self, host: &str) -> &reqwest::Client {
        if self.insecure(host) {
            &self.unverified
        } else {
            &self.verified
        }
    }

    /// `https://host` or `http://host`, probed once per host.
    pub async fn base_url(&self, host: &str) -> Result<String> {
        if let Some(b) = self.bases.lock().expect("bases lock").get(host) {
            return Ok(b.clone());
        }
        let https = format!("https://{host}");
        let base = if is_loopback(host) || self.insecure(host) {
            let probe = self
                .http_for(host)
                .get(format!("{https}/v2/"))
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            match probe {
                Ok(_) => https,
                Err(e) if e.is_connect() || e.is_request() || e.is_timeout() => {
                    format!("http://{host}")
                }
                Err(_) => format!("http://{host}"),
            }
        } else {
            https
        };
        self.bases
            .lock()
            .expect("bases lock")
            .insert(host.to_owned(), base.clone());
        Ok(base)
    }

    fn credential(&self, host: &str) -> Result<Option<Credential>> {
        if let Some(c) = self.opts.credentials.get(host) {
            return Ok(Some(c.clone()));
        }
        if let Some(c) = self.creds.lock().expect("creds lock").get(host) {
            return Ok(c.clone());
        }
        let found = match &self.opts.docker_config {
            Some(cfg) => cfg.credential(host)?,
            None => None,
        };
        self.creds
            .lock()
            .expect("creds lock")
            .insert(host.to_owned(), found.clone());
        Ok(found)
    }

    /// Send `req` to `host` with authorization for `scope`, answering one challenge and
    /// retrying 5xx answers and broken connections with backoff.
    pub(crate) async fn send(&self, host: &str, scope: &str, req: Req) -> Result<Response> {
        let mut attempt = 0;
        let mut challenged = false;
        loop {
            let result = self.send_once(host, scope, &req).await;
            match result {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !challenged => {
                    challenged = true;
                    if self.answer_challenge(host, scope, &resp).await? {
                        continue;
                    }
                    return Ok(resp);
                }
                Ok(resp) if resp.status().is_server_error() && attempt < self.opts.retries => {}
                Ok(resp) => return Ok(resp),
                Err(e) if attempt < self.opts.retries => {
                    let _ = e;
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(self.opts.backoff * 2u32.pow(attempt)).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, host: &str, scope: &str, req: &Req) -> Result<Response> {
        let mut r = self
            .http_for(host)
            .request(req.method.clone(), &req.url)
            .headers(req.headers.clone());
        if let Some(a) = self.auth.get(host, scope) {
            r = r.header(AUTHORIZATION, a.header());
        }
        if let Some(b) = &req.body {
            r = r.body(b.clone());
        }
        r.send()
            .await
            .map_err(|e| Error::transport(format!("{} {}", req.method, req.url), e))
    }

    /// Send a streaming (not replayable) body. Authorization must already be cached for
    /// this scope, which an earlier request of the same operation guarantees.
    pub(crate) async fn send_stream(
        &self,
        host: &str,
        scope: &str,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: reqwest::Body,
    ) -> Result<Response> {
        let mut r = self
            .http_for(host)
            .request(method.clone(), url)
            .headers(headers)
            .body(body);
        if let Some(a) = self.auth.get(host, scope) {
            r = r.header(AUTHORIZATION, a.header());
        }
        r.send()
            .await
            .map_err(|e| Error::transport(format!("{method} {url}"), e))
    }

    /// Handle a 401: remember basic credentials or fetch a token. Returns whether the
    /// request should be repeated.
    async fn answer_challenge(&self, host: &str, scope: &str, resp: &Response) -> Result<bool> {
        let Some(ch) = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::parse_challenge)
        else {
            return Ok(false);
        };
        let cred = self.credential(host)?;
        match ch.scheme.as_str() {
            "basic" => match cred {
                Some(Credential::Basic { username, password }) => {
                    self.auth.put(
                        host,
                        scope,
                        Authorization::Basic(auth::basic_value(&username, &password)),
                    );
                    Ok(true)
                }
                _ => Ok(false),
            },
            "bearer" => {
                let token =
                    auth::fetch_token(self.http_for(host), host, &ch, scope, cred.as_ref()).await?;
                self.auth.put(host, scope, token);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Turn a non-success answer into an error naming the registry and what was asked.
pub(crate) async fn status_error(host: &str, what: &str, resp: Response) -> Error {
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    let detail = registry_error_detail(&body);
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    match status {
        StatusCode::UNAUTHORIZED => Error::new(
            ErrorKind::Unauthorized,
            format!("registry {host}: authentication required for {what}{detail}\nhint: run `strata login {host}`"),
        ),
        StatusCode::FORBIDDEN => Error::new(
            ErrorKind::Denied,
            format!("registry {host}: access to {what} denied{detail}\nhint: run `strata login {host}` with an account that may access it"),
        ),
        StatusCode::NOT_FOUND => Error::new(
            ErrorKind::NotFound,
            format!("registry {host}: {what} not found{detail}"),
        ),
        s => Error::new(
            ErrorKind::Protocol,
            format!("registry {host}: {what} failed with {s}{detail}"),
        ),
    }
}

/// The distribution error body: `{"errors":[{"code":..,"message":..}]}`.
fn registry_error_detail(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    v.get("errors")
        .and_then(|e| e.as_array())
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                    let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                    format!("{code} {msg}").trim().to_lowercase()
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// `localhost`, `127.x.y.z` and `::1`, with or without a port.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(host)
    };
    name == "localhost"
        || name.ends_with(".localhost")
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Resolve a `Location` header against the registry base.
pub(crate) fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        format!("{base}/{location}")
    }
}

impl Client {
    /// `GET /v2/` with credentials: checks that the registry speaks the API and accepts
    /// what [`ClientOptions`] holds for `host` (what `login` verifies).
    pub async fn ping(&self, host: &str) -> Result<()> {
        let base = self.base_url(host).await?;
        let resp = self
            .send(host, "", Req::new(Method::GET, format!("{base}/v2/")))
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(status_error(host, "the registry api", resp).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1:33"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("10.0.0.1"));
    }

    #[test]
    fn error_detail_and_locations() {
        let d = registry_error_detail(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        );
        assert_eq!(d, "manifest_unknown manifest unknown");
        assert_eq!(absolute("http://h", "/v2/x?y"), "http://h/v2/x?y");
        assert_eq!(absolute("http://h", "https://o/p"), "https://o/p");
    }
}
