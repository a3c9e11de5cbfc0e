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

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use crate::auth::{self, AuthCache, Authorization};
use crate::credentials::{Credential, DockerConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{self, RateFloor};
pub(crate) use crate::origin::Req;
use crate::origin::{send_following, Origin, Scoped};

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
    /// Longest time one request may take, retries and authentication included, when its
    /// answer is read whole (manifests, configs, tag lists, tokens, errors) or only its
    /// headers matter (blob checks, upload starts and commits).
    pub deadline: Duration,
    /// Slowest blob body accepted, in bytes per second over every `rate_window`: a body
    /// that stalls or trickles below it is cut off and resumed like a broken connection.
    pub min_rate: u64,
    pub rate_window: Duration,
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
            deadline: Duration::from_secs(120),
            min_rate: 8 * 1024,
            rate_window: Duration::from_secs(30),
        }
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
                // Redirects are followed by `origin::send_following`, which decides per hop
                // whether credentials go along.
                .redirect(reqwest::redirect::Policy::none())
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

    /// The origin `host`'s credentials belong to: the base URL strata reaches it at.
    fn registry_origin(&self, host: &str) -> Option<Origin> {
        let bases = self.bases.lock().expect("bases lock");
        bases.get(host).and_then(|b| Origin::of(b))
    }

    /// The cached authorization for `host` and `scope`, bound to the registry's origin.
    fn scoped_auth(&self, host: &str, scope: &str) -> Option<Scoped> {
        let origin = self.registry_origin(host)?;
        let auth = self.auth.get(host, scope)?;
        let value = HeaderValue::from_str(&auth.header()).ok()?;
        Some(Scoped { origin, value })
    }

    /// Run `fut` within [`ClientOptions::deadline`]; past it, fail naming `what`.
    pub(crate) async fn within<T>(
        &self,
        host: &str,
        what: &str,
        fut: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let deadline = self.opts.deadline;
        tokio::time::timeout(deadline, fut)
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    ErrorKind::Transport,
                    format!(
                        "registry {host}: {what}: no complete answer within {}",
                        human_duration(deadline)
                    ),
                ))
            })
    }

    /// The rate floor blob bodies are held to.
    pub(crate) fn rate_floor(&self) -> RateFloor {
        RateFloor {
            min_rate: self.opts.min_rate,
            window: self.opts.rate_window,
        }
    }

    /// Send `req` to `host` with authorization for `scope`, answering one challenge and
    /// retrying 5xx answers and broken connections with backoff, all within the deadline.
    pub(crate) async fn send(&self, host: &str, scope: &str, req: Req) -> Result<Response> {
        let what = format!("{} {}", req.method, req.url);
        self.within(host, &what, self.send_retrying(host, scope, req))
            .await
    }

    async fn send_retrying(&self, host: &str, scope: &str, req: Req) -> Result<Response> {
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
                Err(e) if attempt < self.opts.retries && e.kind == ErrorKind::Transport => {}
                Err(e) => return Err(e),
            }
            tokio::time::sleep(self.opts.backoff * 2u32.pow(attempt)).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, host: &str, scope: &str, req: &Req) -> Result<Response> {
        let auth = self.scoped_auth(host, scope);
        send_following(self.http_for(host), req, auth.as_ref()).await
    }

    /// Send a streaming (not replayable) body; redirects are not followed. Authorization,
    /// if the URL is on the registry's origin, must already be cached for this scope, which
    /// an earlier request of the same operation guarantees.
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
        if let Some(v) = self
            .scoped_auth(host, scope)
            .as_ref()
            .and_then(|a| a.for_url(url))
        {
            r = r.header(AUTHORIZATION, v.clone());
        }
        r.send()
            .await
            .map_err(|e| Error::transport(format!("{method} {url}"), e))
    }

    /// Handle a 401: remember basic credentials or fetch a token. Returns whether the
    /// request should be repeated. Only the registry itself may ask for its credentials: a
    /// challenge from any other origin (a redirect target, an upload location elsewhere)
    /// is not answered.
    async fn answer_challenge(&self, host: &str, scope: &str, resp: &Response) -> Result<bool> {
        let Some(origin) = self.registry_origin(host) else {
            return Ok(false);
        };
        if Origin::of(resp.url().as_str()).as_ref() != Some(&origin) {
            return Ok(false);
        }
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
                let token = auth::fetch_token(
                    self.http_for(host),
                    host,
                    &origin,
                    &ch,
                    scope,
                    cred.as_ref(),
                )
                .await?;
                self.auth.put(host, scope, token);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// `90s`, `2m`: durations as a person reads them in an error.
fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        format!("{}ms", d.as_millis())
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Turn a non-success answer into an error naming the registry and what was asked.
pub(crate) async fn status_error(host: &str, what: &str, resp: Response) -> Error {
    let status = resp.status();
    let body = limits::error_body_prefix(resp).await;
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
