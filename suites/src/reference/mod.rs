//! Reference implementations: conformant by default, and deliberately broken variants
//! (`--fault NAME`, one rule broken each) that prove every check can fail.

pub mod listener;
pub mod metrics;
pub mod relay;
pub mod sender;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answer as an RFC 9457 problem document, shared by the reference servers.
pub(crate) fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    let body = serde_json::json!({ "status": status.as_u16(), "detail": detail.into() });
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}
