//! Reading a request body under a limit, and refusing one past it without a reset.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use http_body_util::BodyExt;

use crate::ApiError;

/// Most bytes of a refused body read (and dropped) before the 413 goes out.
const DRAIN_BYTES: usize = 16 << 20;
/// Longest time spent reading a refused body before the 413 goes out.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads a body of at most `limit` bytes (413 past it, whatever content-length said).
pub async fn read_limited(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
    what: &str,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{what} is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        discard(body).await;
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad(format!("could not read the body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len() + data.len() > limit {
            discard(body).await;
            return Err(too_large());
        }
        out.extend_from_slice(&data);
    }
    Ok(Bytes::from(out))
}

/// Reads and drops the rest of a refused body (up to `DRAIN_BYTES`, for `DRAIN_TIME`).
///
/// hyper closes a connection whose request body was left unread, and a close with
/// unread bytes is a TCP reset: a client still writing then loses the 413 it was sent.
async fn discard(mut body: Body) {
    let drain = async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, Bytes::len);
            if seen > DRAIN_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
}
