//! Blob uploads: `POST` (start, single-POST monolithic, cross-repo mount), `PATCH` (chunk),
//! `PUT` (finish), `GET` (status) and `DELETE` (cancel).

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use strata_oci::Algorithm;

use super::{body_stream, query, ApiResult, AppState};
use crate::auth::{Action, Identity};
use crate::error::{Error, ErrorKind};
use crate::names::{parse_digest, validate_name};
use crate::registry::Registry;

fn upload_response(status: StatusCode, name: &str, id: &str, offset: u64) -> Response {
    // The spec's Range is inclusive; an empty upload reports "0-0" as distribution does.
    let end = offset.saturating_sub(1);
    (
        status,
        [
            (header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}")),
            (header::RANGE, format!("0-{end}")),
            (header::CONTENT_LENGTH, "0".to_string()),
            (
                header::HeaderName::from_static("docker-upload-uuid"),
                id.to_string(),
            ),
        ],
    )
        .into_response()
}

fn created(name: &str, digest: &str) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/v2/{name}/blobs/{digest}")),
            (header::CONTENT_LENGTH, "0".to_string()),
            (
                header::HeaderName::from_static("docker-content-digest"),
                digest.to_string(),
            ),
        ],
    )
        .into_response()
}

fn counted(st: &AppState, body: Body) -> crate::storage::ByteStream<'static> {
    let metrics = st.metrics.clone();
    body_stream(body)
        .inspect(move |r| {
            if let Ok(b) = r {
                metrics
                    .bytes_received
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
            }
        })
        .boxed()
}

pub(super) async fn start(
    st: &AppState,
    ident: &Identity,
    name: &str,
    q: &[(String, String)],
    _headers: &HeaderMap,
    body: Body,
) -> ApiResult {
    let r = &st.registry;
    if let (Some(mount), Some(from)) = (query(q, "mount"), query(q, "from")) {
        let digest = parse_digest(mount)?;
        // Mounting needs pull access to the source; without it fall back to an upload.
        if validate_name(from).is_ok()
            && ident.can(&st.auth, from, Action::Pull)
            && r.blob_mount(name, from, &digest).await?
        {
            return Ok(created(name, mount));
        }
    }
    let algorithm = match query(q, "digest-algorithm") {
        None | Some("sha256") => Algorithm::Sha256,
        Some("sha512") => Algorithm::Sha512,
        Some(alg) => {
            return Err(Error::new(
                ErrorKind::DigestInvalid,
                format!("unsupported digest algorithm {alg:?}"),
            )
            .into())
        }
    };
    let id = r.upload_start_with(name, algorithm).await?;
    if let Some(d) = query(q, "digest") {
        let digest = parse_digest(d)?;
        r.upload_complete(name, &id, &digest, Some(counted(st, body)))
            .await?;
        return Ok(created(name, d));
    }
    Ok(upload_response(StatusCode::ACCEPTED, name, &id, 0))
}

/// Parses `Content-Range: <start>-<end>` (also accepting a `bytes ` prefix).
fn content_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>, Error> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let bad = || {
        Error::new(
            ErrorKind::RangeInvalid,
            format!("invalid content-range {v:?}"),
        )
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    Ok(Some((
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    )))
}

pub(super) async fn patch(
    st: &AppState,
    name: &str,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult {
    let range = content_range(headers)?;
    let offset = st
        .registry
        .upload_append(name, id, range, counted(st, body))
        .await?;
    Ok(upload_response(StatusCode::ACCEPTED, name, id, offset))
}

pub(super) async fn put(
    st: &AppState,
    name: &str,
    id: &str,
    q: &[(String, String)],
    headers: &HeaderMap,
    body: Body,
) -> ApiResult {
    let d = query(q, "digest")
        .ok_or_else(|| Error::new(ErrorKind::DigestInvalid, "upload finished without ?digest="))?;
    let digest = parse_digest(d)?;
    if let Some(range) = content_range(headers)? {
        st.registry
            .upload_append(name, id, Some(range), counted(st, body))
            .await?;
        st.registry.upload_complete(name, id, &digest, None).await?;
    } else {
        st.registry
            .upload_complete(name, id, &digest, Some(counted(st, body)))
            .await?;
    }
    Ok(created(name, d))
}

pub(super) async fn status(r: &Registry, name: &str, id: &str) -> ApiResult {
    let offset = r.upload_offset(name, id).await?;
    Ok(upload_response(StatusCode::NO_CONTENT, name, id, offset))
}

pub(super) async fn cancel(r: &Registry, name: &str, id: &str) -> ApiResult {
    r.upload_cancel(name, id).await?;
    Ok((StatusCode::NO_CONTENT, [(header::CONTENT_LENGTH, "0")]).into_response())
}
