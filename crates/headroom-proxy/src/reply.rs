//! Responses the proxy writes itself. Errors are shaped like the provider's own error JSON so
//! Claude Code, Codex and friends print a readable message instead of a parse failure.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};

use crate::route::Provider;
use crate::upstream::Body;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub(crate) fn json<T: serde::Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    let mut resp = Response::new(full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Plain 404, also what admin routes answer to callers that are not allowed to see them.
pub(crate) fn not_found() -> Response<Body> {
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not found"}),
    )
}

/// The provider's error JSON for `message`.
pub(crate) fn error_payload(
    provider: Provider,
    status: StatusCode,
    message: &str,
) -> serde_json::Value {
    match provider {
        Provider::Anthropic => serde_json::json!({
            "type": "error",
            "error": {
                "type": anthropic_type(status),
                "message": message,
            }
        }),
        Provider::OpenAi => serde_json::json!({
            "error": {
                "message": message,
                "type": openai_type(status),
                "param": null,
                "code": openai_code(status),
            }
        }),
    }
}

pub(crate) fn error(provider: Provider, status: StatusCode, message: &str) -> Response<Body> {
    let mut resp = json(status, &error_payload(provider, status, message));
    resp.headers_mut()
        .insert("x-headroom-error", HeaderValue::from_static("true"));
    resp
}

/// One SSE `error` event carrying the provider's error JSON, appended when a stream breaks.
pub(crate) fn sse_error_event(provider: Provider, message: &str) -> Bytes {
    let payload = error_payload(provider, StatusCode::BAD_GATEWAY, message);
    Bytes::from(format!("event: error\ndata: {payload}\n\n"))
}

fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 408 => "invalid_request_error",
        404 => "not_found_error",
        413 => "request_too_large",
        _ => "api_error",
    }
}

fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 408 | 413 => "invalid_request_error",
        404 => "not_found_error",
        _ => "server_error",
    }
}

fn openai_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        408 => "request_timeout",
        413 => "request_too_large",
        502 => "upstream_unreachable",
        504 => "upstream_timeout",
        400 => "invalid_request",
        _ => "proxy_error",
    }
}
