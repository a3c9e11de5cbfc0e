//! Content discovery: tag lists, the catalog and the referrers API, with `n`/`last`
//! pagination and RFC 5988 `Link` headers.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{page_size, query, ApiResult, AppState};
use crate::auth::{Action, Identity};
use crate::error::ErrorKind;
use crate::names::parse_digest;
use crate::registry::{paginate, Registry};

fn json_page(body: serde_json::Value, next: Option<String>) -> Response {
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(link) =
        next.and_then(|l| HeaderValue::from_str(&format!("<{l}>; rel=\"next\"")).ok())
    {
        resp.headers_mut().insert(header::LINK, link);
    }
    resp
}

pub(super) async fn tags(r: &Registry, name: &str, q: &[(String, String)]) -> ApiResult {
    let n = page_size(q)?;
    let last = query(q, "last");
    let page = r.tags(name, n, last).await?;
    let next = match (page.more, page.tags.last(), n) {
        (true, Some(l), Some(n)) => Some(format!("/v2/{name}/tags/list?n={n}&last={l}")),
        _ => None,
    };
    Ok(json_page(
        serde_json::json!({"name": name, "tags": page.tags}),
        next,
    ))
}

pub(super) async fn catalog(st: &AppState, ident: &Identity, q: &[(String, String)]) -> ApiResult {
    let n = page_size(q)?;
    let last = query(q, "last");
    // Only list repositories the caller may pull from.
    let (all, _) = st.registry.catalog(None, None).await?;
    let visible: Vec<String> = all
        .into_iter()
        .filter(|repo| ident.can(&st.auth, repo, Action::Pull))
        .collect();
    let (repos, more) = paginate(visible, n, last);
    let next = match (more, repos.last(), n) {
        (true, Some(l), Some(n)) => Some(format!("/v2/_catalog?n={n}&last={l}")),
        _ => None,
    };
    Ok(json_page(serde_json::json!({"repositories": repos}), next))
}

pub(super) async fn referrers(
    r: &Registry,
    name: &str,
    digest: &str,
    q: &[(String, String)],
) -> ApiResult {
    let digest = parse_digest(digest).map_err(|e| e.or_kind(ErrorKind::DigestInvalid))?;
    let filter = query(q, "artifactType");
    let index = r.referrers(name, &digest, filter).await?;
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, strata_oci::media_type::OCI_INDEX)],
        index.to_string(),
    )
        .into_response();
    if filter.is_some() {
        resp.headers_mut().insert(
            "OCI-Filters-Applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(resp)
}
