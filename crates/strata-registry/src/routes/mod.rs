//! HTTP layer: maps distribution-spec endpoints onto [`Registry`] operations.
//!
//! Repository names contain `/`, so `/v2/...` paths are parsed here rather than by the
//! router: the last `/blobs/`, `/manifests/`, `/tags/list` or `/referrers/` segment
//! splits the name from the rest, as the spec's grammar allows.

mod blobs;
mod discovery;
mod manifests;
mod uploads;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::{StreamExt, TryStreamExt};

use crate::auth::{Action, Authorizer, Need, Refusal};
use crate::error::{Error, ErrorKind};
use crate::metrics::Metrics;
use crate::names::validate_name;
use crate::registry::Registry;
use crate::storage::ByteStream;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    pub auth: Arc<Authorizer>,
    pub metrics: Arc<Metrics>,
    /// Whether the listener is TLS (for token realm URLs).
    pub tls: bool,
    /// Serve `/metrics` (unauthenticated, like distribution's debug endpoint).
    pub expose_metrics: bool,
}

/// Builds the router for all endpoints.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/token", get(token))
        .route("/v2", axum::routing::any(v2))
        .route("/v2/", axum::routing::any(v2))
        .route("/v2/{*rest}", axum::routing::any(v2))
        .with_state(state)
}

/// A parsed `/v2/` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Base,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
    Referrers(String, String),
}

impl Route {
    fn label(&self) -> &'static str {
        match self {
            Route::Base => "base",
            Route::Catalog => "catalog",
            Route::Tags(_) => "tags",
            Route::Manifest(..) => "manifest",
            Route::Blob(..) => "blob",
            Route::UploadStart(_) | Route::Upload(..) => "upload",
            Route::Referrers(..) => "referrers",
        }
    }

    pub(crate) fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/v2")?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Some(Route::Base);
        }
        if rest == "_catalog" {
            return Some(Route::Catalog);
        }
        if let Some(name) = rest.strip_suffix("/tags/list") {
            return Some(Route::Tags(name.to_string()));
        }
        let split = |sep: &str| {
            rest.rfind(sep)
                .map(|i| (rest[..i].to_string(), rest[i + sep.len()..].to_string()))
        };
        if let Some((name, id)) = split("/blobs/uploads/").or_else(|| {
            rest.strip_suffix("/blobs/uploads")
                .map(|n| (n.to_string(), String::new()))
        }) {
            return Some(if id.is_empty() {
                Route::UploadStart(name)
            } else {
                Route::Upload(name, id)
            });
        }
        // A manifest reference or digest never contains '/', so take the last segment.
        for (sep, make) in [
            (
                "/manifests/",
                Route::Manifest as fn(String, String) -> Route,
            ),
            ("/blobs/", Route::Blob),
            ("/referrers/", Route::Referrers),
        ] {
            if let Some((name, r)) = split(sep) {
                if !r.contains('/') && !r.is_empty() {
                    return Some(make(name, r));
                }
            }
        }
        None
    }

    fn name(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Catalog => None,
            Route::Tags(n) | Route::UploadStart(n) => Some(n),
            Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::Upload(n, _)
            | Route::Referrers(n, _) => Some(n),
        }
    }

    /// The permission a method on this route needs.
    fn need(&self, method: &Method) -> Need {
        let Some(name) = self.name() else {
            return if *self == Route::Catalog {
                Need::Catalog
            } else {
                Need::Base
            };
        };
        let action = match (self, method.as_str()) {
            (_, "GET" | "HEAD") if !matches!(self, Route::Upload(..)) => Action::Pull,
            (Route::Manifest(..) | Route::Blob(..), "DELETE") => Action::Delete,
            _ => Action::Push,
        };
        Need::Repo(name.to_string(), action)
    }
}

/// An error response: spec JSON body, status, and a challenge for 401s.
pub(crate) struct ApiError(pub Error, pub Option<String>);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e, None)
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        ApiError(r.error, r.challenge)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        let status =
            StatusCode::from_u16(kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // Server-side failures are logged in full; clients get no internal paths.
        let message = if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
            "internal server error"
        } else if kind == ErrorKind::NotFound {
            kind.description()
        } else {
            self.0.message()
        };
        let body = serde_json::json!({"errors": [{"code": kind.code(), "message": message, "detail": null}]});
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(c) = self.1.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        resp
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

pub(crate) fn body_stream(body: Body) -> ByteStream<'static> {
    body.into_data_stream()
        .map_err(std::io::Error::other)
        .boxed()
}

fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string()
}

async fn metrics(State(st): State<AppState>) -> Response {
    if !st.expose_metrics {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

async fn token(State(st): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let mut service = None;
    let mut scopes = Vec::new();
    let query: Query<Vec<(String, String)>> =
        Query::try_from_uri(&uri).unwrap_or_else(|_| Query(Vec::new()));
    for (k, v) in query.0 {
        match k.as_str() {
            "service" => service = Some(v),
            "scope" => scopes.push(v),
            _ => {}
        }
    }
    match st.auth.issue_token(&headers, service.as_deref(), &scopes) {
        Ok(body) => (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
        Err(r) => ApiError::from(r).into_response(),
    }
}

pub(crate) async fn v2(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let route = Route::parse(uri.path());
    let label = route.as_ref().map_or("unknown", Route::label);
    let mut resp = match route {
        Some(route) => dispatch(&st, route, &method, &uri, &headers, body)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        None => ApiError(
            Error::new(
                ErrorKind::NotFound,
                format!("no endpoint at {}", uri.path()),
            ),
            None,
        )
        .into_response(),
    };
    resp.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    let status = resp.status().as_u16();
    st.metrics
        .observe(method.as_str(), label, status, started.elapsed());
    tracing::info!(method = %method, path = %uri.path(), status, elapsed_ms = started.elapsed().as_secs_f64() * 1e3, "request");
    resp
}

async fn dispatch(
    st: &AppState,
    route: Route,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult {
    if let Some(name) = route.name() {
        validate_name(name)?;
    }
    let need = route.need(method);
    let ident = st.auth.authorize(headers, &need, &host(headers), st.tls)?;
    let q: Vec<(String, String)> = Query::try_from_uri(uri).map(|q| q.0).unwrap_or_default();
    let r = &st.registry;
    let unsupported = || {
        Err(ApiError::from(Error::new(
            ErrorKind::Unsupported,
            format!("{method} is not supported on {}", uri.path()),
        )))
    };
    match (route, method.as_str()) {
        (Route::Base, "GET" | "HEAD") => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response()),
        (Route::Catalog, "GET") => discovery::catalog(st, &ident, &q).await,
        (Route::Tags(name), "GET") => discovery::tags(r, &name, &q).await,
        (Route::Referrers(name, d), "GET") => discovery::referrers(r, &name, &d, &q).await,
        (Route::Blob(name, d), "GET" | "HEAD") => {
            blobs::get(st, &name, &d, headers, method == Method::HEAD).await
        }
        (Route::Blob(name, d), "DELETE") => blobs::delete(r, &name, &d).await,
        (Route::UploadStart(name), "POST") => {
            uploads::start(st, &ident, &name, &q, headers, body).await
        }
        (Route::Upload(name, id), "PATCH") => uploads::patch(st, &name, &id, headers, body).await,
        (Route::Upload(name, id), "PUT") => uploads::put(st, &name, &id, &q, headers, body).await,
        (Route::Upload(name, id), "GET") => uploads::status(r, &name, &id).await,
        (Route::Upload(name, id), "DELETE") => uploads::cancel(r, &name, &id).await,
        (Route::Manifest(name, re), "GET" | "HEAD") => {
            manifests::get(st, &name, &re, headers, method == Method::HEAD).await
        }
        (Route::Manifest(name, re), "PUT") => {
            manifests::put(st, &name, &re, &q, headers, body).await
        }
        (Route::Manifest(name, re), "DELETE") => manifests::delete(r, &name, &re).await,
        _ => unsupported(),
    }
}

pub(crate) fn count_sent(st: &AppState, n: u64) {
    st.metrics.bytes_sent.fetch_add(n, Ordering::Relaxed);
}

pub(crate) fn query<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Parses `n` for paginated listings.
pub(crate) fn page_size(q: &[(String, String)]) -> Result<Option<usize>, ApiError> {
    match query(q, "n") {
        None => Ok(None),
        Some(n) => n.parse().map(Some).map_err(|_| {
            Error::new(
                ErrorKind::PaginationNumberInvalid,
                format!("invalid page size n={n:?}"),
            )
            .into()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_routes() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Route::parse("/v2/"), Some(Route::Base));
        assert_eq!(Route::parse("/v2"), Some(Route::Base));
        assert_eq!(Route::parse("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(
            Route::parse("/v2/a/b/tags/list"),
            Some(Route::Tags("a/b".into()))
        );
        assert_eq!(
            Route::parse("/v2/a/manifests/b/manifests/latest"),
            Some(Route::Manifest("a/manifests/b".into(), "latest".into()))
        );
        assert_eq!(
            Route::parse(&format!("/v2/x/blobs/{d}")),
            Some(Route::Blob("x".into(), d.clone()))
        );
        assert_eq!(
            Route::parse("/v2/x/y/blobs/uploads/"),
            Some(Route::UploadStart("x/y".into()))
        );
        assert_eq!(
            Route::parse("/v2/x/blobs/uploads/abc"),
            Some(Route::Upload("x".into(), "abc".into()))
        );
        assert_eq!(
            Route::parse(&format!("/v2/x/referrers/{d}")),
            Some(Route::Referrers("x".into(), d))
        );
        assert_eq!(Route::parse("/v2/x/unknown"), None);
        assert_eq!(Route::parse("/v3/"), None);
    }
}
