//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`, with content negotiation.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{count_sent, ApiResult, AppState};
use crate::error::{Error, ErrorKind};
use crate::manifest::MAX_MANIFEST_SIZE;
use crate::names::{is_tag, Reference};
use crate::registry::Registry;

/// Whether the client's `Accept` headers admit `media_type`. No `Accept` means anything.
fn acceptable(headers: &HeaderMap, media_type: &str) -> bool {
    let mut any_header = false;
    for v in headers.get_all(header::ACCEPT) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let t = item.split(';').next().unwrap_or("").trim();
            if t.is_empty() {
                continue;
            }
            any_header = true;
            if t == media_type || t == "*/*" || t == "application/*" || t == "application/json" {
                return true;
            }
        }
    }
    !any_header
}

pub(super) async fn get(
    st: &AppState,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    head: bool,
) -> ApiResult {
    // A reference that is neither a tag nor a digest names nothing: 404, as distribution
    // and Harbor answer (their routes do not match it).
    let reference = Reference::parse(reference).map_err(|_| {
        Error::new(
            ErrorKind::ManifestUnknown,
            format!("manifest {reference:?} unknown to repository {name}"),
        )
    })?;
    let m = st.registry.manifest_get(name, &reference).await?;
    if !acceptable(headers, &m.media_type) {
        return Err(Error::new(
            ErrorKind::ManifestUnknown,
            format!(
                "manifest {} has media type {} which the client does not accept",
                m.digest, m.media_type
            ),
        )
        .into());
    }
    let len = m.bytes.len();
    let body = if head {
        Body::empty()
    } else {
        count_sent(st, len as u64);
        Body::from(m.bytes)
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, &m.media_type)
        .header(header::CONTENT_LENGTH, len)
        .header(header::ETAG, format!("\"{}\"", m.digest))
        .header("Docker-Content-Digest", m.digest.to_string())
        .body(body)
        .map_err(|e| Error::storage(format!("building response: {e}")).into())
}

pub(super) async fn put(
    st: &AppState,
    name: &str,
    reference: &str,
    q: &[(String, String)],
    headers: &HeaderMap,
    body: Body,
) -> ApiResult {
    let reference = Reference::parse(reference)?;
    let too_large = || {
        Error::new(
            ErrorKind::TooLarge,
            format!("manifest exceeds the {MAX_MANIFEST_SIZE} byte limit"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_MANIFEST_SIZE) {
        // Drain a moderately oversized body so the client reads our 413 rather than a reset.
        if declared.is_some_and(|n| n <= 4 * MAX_MANIFEST_SIZE) {
            let _ = axum::body::to_bytes(body, 4 * MAX_MANIFEST_SIZE).await;
        }
        return Err(too_large().into());
    }
    let bytes = axum::body::to_bytes(body, MAX_MANIFEST_SIZE)
        .await
        .map_err(|_| too_large())?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // `?tag=` on a push by digest adds tags (spec end-7b), all naming the pushed digest.
    let mut extra_tags: Vec<String> = Vec::new();
    for (_, t) in q.iter().filter(|(k, _)| k == "tag") {
        if !is_tag(t) {
            return Err(
                Error::new(ErrorKind::ManifestInvalid, format!("invalid tag {t:?}")).into(),
            );
        }
        if !extra_tags.contains(t) {
            extra_tags.push(t.clone());
        }
    }
    let (digest, info) = st
        .registry
        .manifest_put_tagged(name, &reference, &extra_tags, content_type, bytes)
        .await?;
    let mut resp = (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/v2/{name}/manifests/{digest}")),
            (header::CONTENT_LENGTH, "0".to_string()),
            (
                HeaderName::from_static("docker-content-digest"),
                digest.to_string(),
            ),
        ],
    )
        .into_response();
    if !extra_tags.is_empty() {
        if let Ok(v) = extra_tags.join(", ").parse() {
            resp.headers_mut()
                .insert(HeaderName::from_static("oci-tag"), v);
        }
    }
    if let Some(subject) = info.subject {
        if let Ok(v) = subject.to_string().parse() {
            resp.headers_mut()
                .insert(HeaderName::from_static("oci-subject"), v);
        }
    }
    Ok(resp)
}

pub(super) async fn delete(r: &Registry, name: &str, reference: &str) -> ApiResult {
    let reference = Reference::parse(reference)?;
    r.manifest_delete(name, &reference).await?;
    Ok((StatusCode::ACCEPTED, [(header::CONTENT_LENGTH, "0")]).into_response())
}
