//! Where credentials may go, and how redirects are followed.
//!
//! A registry's `Authorization` (basic credentials or a bearer token) belongs to the scheme,
//! host and port strata reached the registry at; the credentials sent for a token belong to
//! the realm whose challenge asked for them. A server names other URLs all the time (an
//! upload's `Location`, a tag list's `Link`, redirects, the token realm), so every request
//! checks its URL against the credential's [`Origin`] and goes without the credential when
//! they differ. Redirects are followed here rather than inside reqwest, so that this one
//! rule decides for every hop, a redirect from https to plain http is refused, and a
//! request body is never replayed to another origin.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LOCATION};
use reqwest::{Method, Response, StatusCode, Url};

use crate::error::{Error, ErrorKind, Result};

/// Redirect hops followed for one request (reqwest's and Go's default).
pub(crate) const MAX_REDIRECTS: usize = 10;

/// The scheme, host and port a credential is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http`/`https` URL; `None` for anything else.
    pub(crate) fn of(url: &str) -> Option<Origin> {
        let u = Url::parse(url).ok()?;
        if u.scheme() != "http" && u.scheme() != "https" {
            return None;
        }
        Some(Origin {
            scheme: u.scheme().to_owned(),
            host: u.host_str()?.to_ascii_lowercase(),
            port: u.port_or_known_default()?,
        })
    }

    pub(crate) fn is_https(&self) -> bool {
        self.scheme == "https"
    }
}

/// A replayable request.
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

/// An `Authorization` value and the only origin it may be sent to.
#[derive(Debug, Clone)]
pub(crate) struct Scoped {
    pub origin: Origin,
    pub value: HeaderValue,
}

impl Scoped {
    /// The header value if `url` is on the credential's origin.
    pub(crate) fn for_url(&self, url: &str) -> Option<&HeaderValue> {
        (Origin::of(url).as_ref() == Some(&self.origin)).then_some(&self.value)
    }
}

/// Send `req`, following up to [`MAX_REDIRECTS`] redirects. `credential` goes only to URLs
/// on its origin. Without a redirect to follow (or with one that may not be followed, such
/// as a body that would have to be replayed elsewhere), the last response is returned.
pub(crate) async fn send_following(
    http: &reqwest::Client,
    req: &Req,
    credential: Option<&Scoped>,
) -> Result<Response> {
    let mut method = req.method.clone();
    let mut url = req.url.clone();
    let mut body = req.body.clone();
    let mut hops = 0;
    loop {
        let mut r = http
            .request(method.clone(), &url)
            .headers(req.headers.clone());
        if let Some(v) = credential.and_then(|c| c.for_url(&url)) {
            r = r.header(AUTHORIZATION, v.clone());
        }
        if let Some(b) = &body {
            r = r.body(b.clone());
        }
        let resp = r
            .send()
            .await
            .map_err(|e| Error::transport(format!("{method} {url}"), e))?;
        let Some(next) = redirect_target(&resp)? else {
            return Ok(resp);
        };
        let status = resp.status();
        let (next_method, next_body) = match (status, &method) {
            (_, m) if *m == Method::GET || *m == Method::HEAD => (method.clone(), None),
            (StatusCode::SEE_OTHER, _) => (Method::GET, None),
            // 307/308 repeat the request with its body: never to another origin.
            (StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT, _)
                if Origin::of(&url) == Origin::of(next.as_str()) =>
            {
                (method.clone(), body.clone())
            }
            _ => return Ok(resp),
        };
        hops += 1;
        if hops > MAX_REDIRECTS {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "{} {}: more than {MAX_REDIRECTS} redirects",
                    req.method, req.url
                ),
            ));
        }
        method = next_method;
        body = next_body;
        url = next.to_string();
    }
}

/// Where a redirect response points, resolved against the request URL. Refuses targets
/// that are not http(s) and a step down from https to http.
fn redirect_target(resp: &Response) -> Result<Option<Url>> {
    let status = resp.status();
    if !matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return Ok(None);
    }
    let Some(location) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    resolve_redirect(resp.url(), location).map(Some)
}

/// `location` resolved against `from`; refused unless it is http(s) and keeps https.
fn resolve_redirect(from: &Url, location: &str) -> Result<Url> {
    let refuse = |why: &str| {
        Error::new(
            ErrorKind::Protocol,
            format!("{from} redirected to {location:?}: {why}"),
        )
    };
    let next = from.join(location).map_err(|_| refuse("not a valid url"))?;
    match (from.scheme(), next.scheme()) {
        ("https", "http") => Err(refuse("refusing to follow a redirect from https to http")),
        (_, "http" | "https") => Ok(next),
        _ => Err(refuse("not an http(s) url")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Origin::of("https://Registry.example/v2/").unwrap();
        assert_eq!(
            Some(&a),
            Origin::of("https://registry.example:443/x").as_ref()
        );
        assert_ne!(Some(&a), Origin::of("http://registry.example/x").as_ref());
        assert_ne!(
            Some(&a),
            Origin::of("https://registry.example:444/x").as_ref()
        );
        assert_ne!(
            Some(&a),
            Origin::of("https://registry.example.evil/x").as_ref()
        );
        assert!(Origin::of("/v2/relative").is_none());
        assert!(Origin::of("file:///etc/passwd").is_none());
        let scoped = Scoped {
            origin: a,
            value: HeaderValue::from_static("Basic x"),
        };
        assert!(scoped.for_url("https://registry.example/v2/a").is_some());
        assert!(scoped.for_url("https://cdn.example/v2/a").is_none());
    }

    #[test]
    fn redirects_resolve_and_never_downgrade() {
        let from = Url::parse("https://r.example/v2/a/blobs/x").unwrap();
        assert_eq!(
            resolve_redirect(&from, "/cdn/x").unwrap().as_str(),
            "https://r.example/cdn/x"
        );
        assert_eq!(
            resolve_redirect(&from, "https://cdn.example/x")
                .unwrap()
                .as_str(),
            "https://cdn.example/x"
        );
        let e = resolve_redirect(&from, "http://r.example/x").unwrap_err();
        assert!(e.message.contains("from https to http"), "{}", e.message);
        assert!(resolve_redirect(&from, "ftp://r.example/x").is_err());
        let plain = Url::parse("http://127.0.0.1:5000/v2/").unwrap();
        assert!(resolve_redirect(&plain, "https://127.0.0.1:5001/x").is_ok());
    }
}
