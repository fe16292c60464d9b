//! One HTTP request's GraphQL work: resolving persisted queries, executing within
//! the request's deadline, masking errors, counting operations, and the response.
//!
//! Internal causes are logged once, with the request id, and reach the client only
//! as a generic message carrying that id.

use std::{sync::Arc, time::Instant};

use async_graphql::{
    ErrorExtensionValues, Request, Response as GqlResponse, ServerError, Value,
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{AppState, REQUEST_ID, apq::ApqError, negotiate::Media};
use crate::{
    auth::Viewer,
    error::{HiddenCause, code},
    graphql::{self, with_code},
    monitoring::{self, GraphqlOutcome},
};

/// One executed (or refused) operation.
pub struct Executed {
    response: GqlResponse,
    operation: String,
    outcome: String,
}

/// Who is asking, under which request id, and until when.
pub struct Exchange<'s> {
    state: &'s AppState,
    viewer: Arc<Viewer>,
    request_id: String,
    /// The request time limit covers the whole HTTP request, a batch included.
    deadline: tokio::time::Instant,
}

impl<'s> Exchange<'s> {
    /// Reads the session candidates (no database yet) and the request id.
    pub fn new(state: &'s AppState, headers: &HeaderMap) -> Self {
        let request_id = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        Self {
            state,
            viewer: Arc::new(Viewer::new(state.sessions.candidates(headers))),
            request_id,
            deadline: tokio::time::Instant::now() + state.limits.request_timeout,
        }
    }

    /// Resolves, then executes, one operation.
    pub async fn run(&self, mut request: Request) -> Executed {
        match self.resolve(&mut request) {
            Ok(()) => self.execute(request).await,
            Err(refused) => *refused,
        }
    }

    /// Fills in a persisted query's document; refuses an unknown hash or an empty query.
    pub fn resolve(&self, request: &mut Request) -> Result<(), Box<Executed>> {
        let refused = |code: &str, message: &str, operation: &str| {
            let error = with_code(ServerError::new(message, None), code);
            self.finish(GqlResponse::from_errors(vec![error]), operation.to_owned(), Instant::now())
        };
        if let Err(err) = self.state.persisted.resolve(request) {
            let code = match err {
                ApqError::NotFound => code::PERSISTED_QUERY_NOT_FOUND,
                ApqError::HashMismatch | ApqError::Unsupported => code::BAD_REQUEST,
            };
            return Err(Box::new(refused(code, &err.to_string(), "persisted-query")));
        }
        if request.query.trim().is_empty() {
            return Err(Box::new(refused(code::BAD_REQUEST, "the request has no query", "empty")));
        }
        Ok(())
    }

    /// Executes a resolved operation within the deadline.
    pub async fn execute(&self, mut request: Request) -> Executed {
        let started = Instant::now();
        let (name, operation) = selected_operation(&mut request).unzip();
        let label = self.state.operation_names.label(name.flatten().as_deref());
        let request = request.data(self.viewer.clone()).data(graphql::owner_loader(&self.state.db));
        // A query is cut at the deadline; a mutation never half-way (see `execute_within`).
        let response = graphql::execute_within(&self.state.schema, request, operation, self.deadline).await;
        self.finish(response, label, started)
    }

    fn finish(&self, mut response: GqlResponse, operation: String, started: Instant) -> Executed {
        for error in &mut response.errors {
            self.mask(error);
        }
        let outcome = response.errors.first().and_then(error_code).unwrap_or_else(|| "ok".into());
        monitoring::record_operation(&operation, &outcome, started);
        Executed { response, operation, outcome }
    }

    /// One operation's response: 400 for a request error when the client speaks
    /// `application/graphql-response+json` (except a persisted-query miss, which
    /// Apollo's protocol answers with 200), else 200.
    pub fn render(&self, executed: Executed, media: Media) -> Response {
        let apq_miss = executed.response.errors.iter().any(|e| has_code(e, code::PERSISTED_QUERY_NOT_FOUND));
        let (body, request_error) = body(&executed.response);
        let status = if media == Media::GraphQLResponse && request_error && !apq_miss {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let mut response = json_response(status, media, &body);
        response.extensions_mut().insert(self.outcome(executed.operation, executed.outcome));
        response
    }

    /// A batch's response: an array, 200.
    pub fn render_batch(&self, executed: Vec<Executed>, media: Media) -> Response {
        let outcome = executed.iter().map(|e| e.outcome.as_str()).find(|o| *o != "ok").unwrap_or("ok").to_owned();
        let bodies = executed.iter().map(|e| body(&e.response).0).collect();
        let mut response = json_response(StatusCode::OK, media, &serde_json::Value::Array(bodies));
        response.extensions_mut().insert(self.outcome("batch".into(), outcome));
        response
    }

    /// What the request log and metrics middleware learns about this request.
    fn outcome(&self, operation: String, outcome: String) -> GraphqlOutcome {
        GraphqlOutcome { operation, outcome, user_id: self.viewer.known_user_id().map(str::to_owned) }
    }

    /// Gives every error a code; hides internal causes behind the request id.
    fn mask(&self, error: &mut ServerError) {
        let code = error_code(error);
        match code.as_deref() {
            Some(code::INTERNAL_SERVER_ERROR) | Some(code::SERVICE_UNAVAILABLE) => {
                let cause = error.source::<HiddenCause>().map_or_else(|| error.message.clone(), |c| c.0.clone());
                tracing::error!(request.id = %self.request_id, error.code = code.as_deref(), error.cause = %cause, "request failed");
                if code.as_deref() == Some(code::INTERNAL_SERVER_ERROR) {
                    error.message = format!("Internal server error (request id {})", self.request_id);
                }
                extensions(error).set("requestId", self.request_id.as_str());
            }
            Some(_) => {}
            // Refused before execution (unknown operation name and the like): the
            // message is about the request, not the server.
            None if error.path.is_empty() => {
                extensions(error).set("code", code::BAD_REQUEST);
            }
            None => {
                tracing::error!(request.id = %self.request_id, error.cause = %error.message, "resolver error without a code");
                error.message = format!("Internal server error (request id {})", self.request_id);
                extensions(error).set("code", code::INTERNAL_SERVER_ERROR);
                extensions(error).set("requestId", self.request_id.as_str());
            }
        }
    }
}

fn extensions(error: &mut ServerError) -> &mut ErrorExtensionValues {
    error.extensions.get_or_insert_with(Default::default)
}

fn error_code(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

fn has_code(error: &ServerError, code: &str) -> bool {
    error_code(error).as_deref() == Some(code)
}

/// The JSON body of one response; and whether it is a request error (no `data`).
fn body(response: &GqlResponse) -> (serde_json::Value, bool) {
    let request_error = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut body = serde_json::to_value(response).unwrap_or_else(|_| json!({}));
    if request_error && let Some(object) = body.as_object_mut() {
        object.remove("data");
    }
    (body, request_error)
}

/// A JSON response of the negotiated media type.
pub fn json_response(status: StatusCode, media: Media, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    response
}

/// The name (from the document) and type of the operation the request selects.
/// The document is parsed once here and the parse is reused by execution; one
/// that does not parse gives `None` and is left to execution, which reports it.
pub fn selected_operation(request: &mut Request) -> Option<(Option<String>, OperationType)> {
    let wanted = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    match (&document.operations, wanted.as_deref()) {
        (DocumentOperations::Single(operation), _) => Some((None, operation.node.ty)),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get_key_value(name).map(|(name, op)| (Some(name.to_string()), op.node.ty))
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.iter().next().map(|(name, op)| (Some(name.to_string()), op.node.ty))
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}
