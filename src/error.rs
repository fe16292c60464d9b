//! The one error type of the request path and how each variant reaches a client.

use std::sync::Arc;

use async_graphql::ErrorExtensions as _;
use sea_orm::DbErr;

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
pub fn with_code(mut error: async_graphql::ServerError, code: &str) -> async_graphql::ServerError {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
    error
}

/// What resolvers return.
pub type AppResult<T> = Result<T, AppError>;
