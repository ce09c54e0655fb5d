//! `GET /api/v1/audit/compliance-pack/download`: a local-directory pack to
//! the holder of its signed URL (`valdrix serve`; in AWS the URL is S3's).

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use serde::Deserialize;
use valdrix_shared::http::ApiError;
use valdrix_shared::objects::ObjectError;
use valdrix_shared::state::PackLinks;

#[derive(Deserialize)]
pub(crate) struct DownloadQuery {
    key: String,
    expires: i64,
    filename: String,
    sig: String,
}

pub(crate) async fn download(
    State(PackLinks(objects)): State<PackLinks>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let local = objects
        .as_ref()
        .and_then(|o| o.as_local())
        .ok_or_else(|| ApiError::NotFound("no local export store here".into()))?;
    let path = local
        .resolve(&q.key, q.expires, &q.filename, &q.sig, Utc::now())
        .map_err(|e| match e {
            ObjectError::BadSignature => ApiError::Forbidden("the link is invalid".into()),
            ObjectError::Expired => ApiError::Forbidden("the link has expired".into()),
            ObjectError::NotFound => ApiError::NotFound("the export no longer exists".into()),
            other => ApiError::internal(other),
        })?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(ApiError::internal)?;
    let len = file.metadata().await.map_err(ApiError::internal)?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = format!("attachment; filename=\"{}\"", safe_file(&q.filename));
    Ok((
        StatusCode::OK,
        [
            (CONTENT_TYPE, "application/zip".to_owned()),
            (CONTENT_LENGTH, len.to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

fn safe_file(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}
