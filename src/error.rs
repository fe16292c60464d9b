//! Every error a client can see, in one place: the `extensions.code` each kind
//! gets, the one error type of resolvers ([`AppError`]), the refusals raised outside
//! them (before execution, or by the HTTP layer), and the masking that hides an
//! internal cause behind the request id. "Which code does X get" is answered here.

use std::sync::Arc;

use async_graphql::{ErrorExtensionValues, ErrorExtensions as _, ServerError, Value};
use sea_orm::DbErr;

use crate::http::apq::ApqError;

/// `extensions.code` of each kind of GraphQL error the service sends.
pub mod code {
    /// No valid session.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// An argument failed validation; `extensions.field` names it.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// No such task for this user.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// The document does not parse.
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The document fails validation, limits included.
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// An automatic persisted query the service has not seen.
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// A request refused before execution.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// The response would be larger than `MAX_RESPONSE_BYTES`; nothing of it is sent.
    pub const RESPONSE_TOO_LARGE: &str = "RESPONSE_TOO_LARGE";
    /// The database is unreachable or timed out; safe to retry.
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    /// Anything else; the real cause is in the log under the request id.
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    /// Over a per-IP or per-session request rate (HTTP 429, `Retry-After`).
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// A subscription fell too far behind its events and was ended.
    pub const TOO_SLOW: &str = "TOO_SLOW";
}

/// Everything a resolver can fail with.
///
/// Deliberately not `Display`: async-graphql converts any `Display` type into an
/// error without extensions, so a `?` would silently drop the code. Without it, the
/// only way into a GraphQL error is the `From` below, which sets the code.
#[derive(Debug, Clone)]
pub enum AppError {
    /// `UNAUTHENTICATED`: the request carries no valid Better Auth session.
    Unauthenticated,
    /// `BAD_USER_INPUT`: `field` names the argument or input field at fault.
    BadUserInput {
        /// The argument or input field, as named in the schema.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// `NOT_FOUND`: no such task, or it belongs to someone else.
    NotFound,
    /// `SERVICE_UNAVAILABLE`: the database did not answer in time, or stopped a
    /// write at `statement_timeout`; nothing was written.
    Unavailable(Arc<DbErr>),
    /// `INTERNAL_SERVER_ERROR`: a bug or an unexpected database error.
    Internal(Arc<anyhow::Error>),
    /// `TOO_SLOW`: a subscription fell too far behind and was ended.
    TooSlow,
    /// `SERVICE_UNAVAILABLE`: the service is stopping.
    ShuttingDown,
}

impl AppError {
    /// A `BAD_USER_INPUT` error.
    pub fn bad_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadUserInput { field, message: message.into() }
    }

    /// An `INTERNAL_SERVER_ERROR` with this cause.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(Arc::new(cause.into()))
    }

    /// The message a client sees.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated => "not signed in".into(),
            Self::BadUserInput { message, .. } => message.clone(),
            Self::NotFound => "task not found".into(),
            Self::Unavailable(_) => "the database is unavailable; try again".into(),
            Self::Internal(_) => "internal server error".into(),
            Self::TooSlow => "the subscription fell too far behind its events and was ended; subscribe again".into(),
            Self::ShuttingDown => "the service is stopping; subscribe again".into(),
        }
    }

    /// The `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => code::UNAUTHENTICATED,
            Self::BadUserInput { .. } => code::BAD_USER_INPUT,
            Self::NotFound => code::NOT_FOUND,
            Self::Unavailable(_) => code::SERVICE_UNAVAILABLE,
            Self::Internal(_) => code::INTERNAL_SERVER_ERROR,
            Self::TooSlow => code::TOO_SLOW,
            Self::ShuttingDown => code::SERVICE_UNAVAILABLE,
        }
    }
}

/// Unreachable, or stopped by `statement_timeout` (which rolled the write back):
/// either way nothing was written and a retry is safe.
fn retryable(err: &DbErr) -> bool {
    crate::db::is_unreachable(err) || crate::db::stopped_by_timeout(err)
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if retryable(&err) { Self::Unavailable(Arc::new(err)) } else { Self::internal(err) }
    }
}

impl From<Arc<DbErr>> for AppError {
    fn from(err: Arc<DbErr>) -> Self {
        if retryable(&err) { Self::Unavailable(err) } else { Self::internal(anyhow::anyhow!("{err}")) }
    }
}

/// The cause behind a masked error, kept as the GraphQL error's `source` so that the
/// HTTP layer can log it once, next to the request id, and send only a generic text.
#[derive(Debug)]
pub struct HiddenCause(pub String);

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        let code = err.code();
        let mut error = match &err {
            AppError::Unavailable(cause) => async_graphql::Error {
                message: err.message(),
                source: Some(Arc::new(HiddenCause(cause.to_string()))),
                extensions: None,
            },
            AppError::Internal(cause) => async_graphql::Error {
                message: err.message(),
                source: Some(Arc::new(HiddenCause(format!("{cause:#}")))),
                extensions: None,
            },
            _ => async_graphql::Error::new(err.message()),
        };
        error = error.extend_with(|_, ext| ext.set("code", code));
        if let AppError::BadUserInput { field, .. } = err {
            error = error.extend_with(|_, ext| ext.set("field", field));
        }
        error
    }
}

/// Sets `extensions.code` unless the error already carries one.
pub fn with_code(mut error: ServerError, code: &str) -> ServerError {
    let extensions = extensions(&mut error);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

/// A GraphQL error raised outside a resolver, with its code.
pub fn refusal(message: impl Into<String>, code: &str) -> ServerError {
    with_code(ServerError::new(message, None), code)
}

/// A document that does not parse: `GRAPHQL_PARSE_FAILED`.
pub fn parse_failed(err: async_graphql::parser::Error) -> ServerError {
    with_code(ServerError::from(err), code::GRAPHQL_PARSE_FAILED)
}

/// A document over a limit, or otherwise invalid: `GRAPHQL_VALIDATION_FAILED`.
pub fn invalid(message: impl Into<String>) -> ServerError {
    refusal(message, code::GRAPHQL_VALIDATION_FAILED)
}

/// A persisted query that cannot be used: an unknown hash is
/// `PERSISTED_QUERY_NOT_FOUND` (Apollo's clients then resend the document), anything
/// else `BAD_REQUEST`.
pub fn persisted_query_refusal(err: &ApqError) -> ServerError {
    let code = match err {
        ApqError::NotFound => code::PERSISTED_QUERY_NOT_FOUND,
        ApqError::HashMismatch | ApqError::Unsupported => code::BAD_REQUEST,
    };
    refusal(err.to_string(), code)
}

/// The response would pass `MAX_RESPONSE_BYTES`: `RESPONSE_TOO_LARGE`.
pub fn response_too_large(limit: usize, request_id: &str) -> ServerError {
    let message = format!(
        "the response would be larger than {limit} bytes (MAX_RESPONSE_BYTES); select fewer fields or smaller pages"
    );
    let mut error = refusal(message, code::RESPONSE_TOO_LARGE);
    extensions(&mut error).set("requestId", request_id);
    error
}

/// The body of a refusal made before any GraphQL work (the HTTP layer: media type,
/// CSRF, body, rate limits), as GraphQL over HTTP has it.
pub fn refusal_body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

/// The `extensions.code` of an error, if it has one.
pub fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code),
        _ => None,
    }
}

/// A parse or validation error, or one async-graphql raised before execution
/// (no path, no code yet: an unknown operation name and the like).
pub fn refused_before_execution(error: &ServerError) -> bool {
    error.path.is_empty()
        && matches!(code_of(error), None | Some(code::GRAPHQL_PARSE_FAILED | code::GRAPHQL_VALIDATION_FAILED))
}

/// Gives every error a code, and hides internal causes behind the request id: an
/// `INTERNAL_SERVER_ERROR` or `SERVICE_UNAVAILABLE` is logged here, once, with its
/// cause, and reaches the client only with the request id (and, when internal, a
/// generic message). An error without a code is `BAD_REQUEST` before execution
/// (async-graphql's own, about the request) and `INTERNAL_SERVER_ERROR` from a
/// resolver (a bug: every [`AppError`] has one).
pub fn mask(error: &mut ServerError, request_id: &str) {
    match code_of(error) {
        Some(code @ (code::INTERNAL_SERVER_ERROR | code::SERVICE_UNAVAILABLE)) => {
            let internal = code == code::INTERNAL_SERVER_ERROR;
            let cause = error.source::<HiddenCause>().map_or(error.message.as_str(), |cause| cause.0.as_str());
            tracing::error!(request.id = %request_id, error.code = code, error.cause = %cause, "request failed");
            if internal {
                error.message = format!("Internal server error (request id {request_id})");
            }
            extensions(error).set("requestId", request_id);
        }
        Some(_) => {}
        None if error.path.is_empty() => {
            extensions(error).set("code", code::BAD_REQUEST);
        }
        None => {
            tracing::error!(request.id = %request_id, error.cause = %error.message, "resolver error without a code");
            error.message = format!("Internal server error (request id {request_id})");
            extensions(error).set("code", code::INTERNAL_SERVER_ERROR);
            extensions(error).set("requestId", request_id);
        }
    }
}

fn extensions(error: &mut ServerError) -> &mut ErrorExtensionValues {
    error.extensions.get_or_insert_with(Default::default)
}

/// What resolvers return.
pub type AppResult<T> = Result<T, AppError>;
