//! GraphQL over HTTP: `POST` and `GET /graphql`, and GraphiQL for browsers.
//!
//! Everything a request can be refused for before execution is decided here, in
//! this order: the response media type (406), the CSRF rule (400), the body (413,
//! 415, 400), the batch size (400), persisted queries, and for `GET` a mutation
//! (405). Execution errors are masked here too: an internal cause is logged once
//! with the request id, and the client gets a generic message carrying that id.

use std::{sync::Arc, time::Instant};

use async_graphql::{
    BatchRequest, ErrorExtensionValues, Request, Response as GqlResponse, ServerError, Value,
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    body::Bytes,
    extract::{RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    AppState, REQUEST_ID,
    apq::ApqError,
    negotiate::{Media, content_type, passes_csrf_rule, response_media, wants_html},
};
use crate::{
    auth::Viewer,
    error::{HiddenCause, code},
    graphql::{self, with_code},
    monitoring::{self, GraphqlOutcome},
};

/// `POST /graphql`: one operation, or a batch of at most `MAX_BATCH`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let Some(media) = response_media(&headers) else {
        return not_acceptable();
    };
    if !passes_csrf_rule(&headers) {
        return csrf_refusal();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return refuse(rejection.status(), code::BAD_REQUEST, &rejection.body_text()),
    };
    if content_type(&headers).as_deref() != Some("application/json") {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::BAD_REQUEST,
            "send the request as Content-Type: application/json",
        );
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(err) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                &format!("the body is not a GraphQL request: {err}"),
            );
        }
    };
    let exchange = Exchange::new(&state, &headers);
    match batch {
        BatchRequest::Single(request) => {
            let executed = exchange.run(request).await;
            exchange.render(executed, media)
        }
        BatchRequest::Batch(requests) => {
            if requests.is_empty() || requests.len() > state.limits.max_batch {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    code::BAD_REQUEST,
                    &format!("a batch holds 1 to {} operations", state.limits.max_batch),
                );
            }
            let mut bodies = Vec::with_capacity(requests.len());
            let mut outcome = "ok".to_owned();
            for request in requests {
                let executed = exchange.run(request).await;
                if outcome == "ok" {
                    outcome = executed.outcome;
                }
                bodies.push(Exchange::body(&executed.response).0);
            }
            let mut response = json_response(StatusCode::OK, media, &serde_json::Value::Array(bodies));
            response.extensions_mut().insert(exchange.outcome("batch".into(), outcome));
            response
        }
    }
}

/// The query string of `GET /graphql`, as the GraphQL-over-HTTP spec names it.
#[derive(Deserialize)]
struct GetParams {
    #[serde(default)]
    query: Option<String>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<String>,
    #[serde(default)]
    extensions: Option<String>,
}

/// `GET /graphql`: GraphiQL for a browser, else a query (never a mutation).
pub async fn get(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let params: GetParams = match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
        Ok(params) => params,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, code::BAD_REQUEST, &format!("bad query string: {err}")),
    };
    if params.query.is_none() && params.extensions.is_none() && wants_html(&headers) {
        return graphiql();
    }
    let Some(media) = response_media(&headers) else {
        return not_acceptable();
    };
    if !passes_csrf_rule(&headers) {
        return csrf_refusal();
    }
    let mut request = match request_from_params(params) {
        Ok(request) => request,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, code::BAD_REQUEST, &message),
    };
    let exchange = Exchange::new(&state, &headers);
    if let Err(err) = state.persisted.resolve(&mut request) {
        let executed = exchange.finish(apq_failure(&err), "persisted-query".into(), Instant::now());
        return exchange.render(executed, media);
    }
    if is_mutation(&mut request) {
        let mut response =
            refuse(StatusCode::METHOD_NOT_ALLOWED, code::BAD_REQUEST, "mutations are only accepted over POST");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let executed = exchange.run(request).await;
    exchange.render(executed, media)
}

fn request_from_params(params: GetParams) -> Result<Request, String> {
    let json = |name: &str, text: Option<String>| -> Result<Option<serde_json::Value>, String> {
        text.filter(|t| !t.is_empty())
            .map(|t| serde_json::from_str(&t).map_err(|err| format!("{name} is not JSON: {err}")))
            .transpose()
    };
    let mut request = Request::new(params.query.unwrap_or_default());
    request.operation_name = params.operation_name.filter(|name| !name.is_empty());
    if let Some(variables) = json("variables", params.variables)? {
        request.variables = async_graphql::Variables::from_json(variables);
    }
    if let Some(serde_json::Value::Object(extensions)) = json("extensions", params.extensions)? {
        for (key, value) in extensions {
            let value = Value::from_json(value).map_err(|err| format!("extensions: {err}"))?;
            request.extensions.insert(key, value);
        }
    }
    Ok(request)
}

/// Whether the operation a request would run is a mutation (or a subscription).
/// A document that does not parse is left to execution, which reports it.
fn is_mutation(request: &mut Request) -> bool {
    selected_operation(request).is_some_and(|(_, ty)| ty != OperationType::Query)
}

/// The name (from the document) and type of the operation the request selects.
/// The document is parsed once here and the parse is reused by execution.
fn selected_operation(request: &mut Request) -> Option<(Option<String>, OperationType)> {
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

/// One executed operation.
struct Executed {
    response: GqlResponse,
    operation: String,
    outcome: String,
}

/// One HTTP request's GraphQL work: who is asking, and under which request id.
struct Exchange<'s> {
    state: &'s AppState,
    viewer: Arc<Viewer>,
    request_id: String,
}

impl<'s> Exchange<'s> {
    fn new(state: &'s AppState, headers: &HeaderMap) -> Self {
        let request_id = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        Self { state, viewer: Arc::new(Viewer::new(state.sessions.candidates(headers))), request_id }
    }

    /// Resolves a persisted query, then executes within the request time limit;
    /// errors come back masked, and the operation is counted.
    async fn run(&self, mut request: Request) -> Executed {
        let started = Instant::now();
        if let Err(err) = self.state.persisted.resolve(&mut request) {
            return self.finish(apq_failure(&err), "persisted-query".into(), started);
        }
        if request.query.trim().is_empty() {
            return self.finish(request_error(code::BAD_REQUEST, "the request has no query"), "empty".into(), started);
        }
        let name = selected_operation(&mut request).and_then(|(name, _)| name);
        let label = self.state.operation_names.label(name.as_deref());
        let request = request.data(self.viewer.clone()).data(graphql::owner_loader(&self.state.db));
        let execution = self.state.schema.execute(request);
        let response = match tokio::time::timeout(self.state.limits.request_timeout, execution).await {
            Ok(response) => response,
            Err(_) => GqlResponse::from_errors(vec![with_code(
                ServerError::new("the request took too long and was stopped; try again", None),
                code::SERVICE_UNAVAILABLE,
            )]),
        };
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

    /// The JSON body of one response; and whether it is a request error.
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

    /// What the request log and metrics middleware learns about this request.
    fn outcome(&self, operation: String, outcome: String) -> GraphqlOutcome {
        GraphqlOutcome { operation, outcome, user_id: self.viewer.known_user_id().map(str::to_owned) }
    }

    fn render(&self, executed: Executed, media: Media) -> Response {
        let apq_miss = executed.response.errors.iter().any(|e| has_code(e, code::PERSISTED_QUERY_NOT_FOUND));
        let (body, request_error) = Self::body(&executed.response);
        let status = if media == Media::GraphQLResponse && request_error && !apq_miss {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let mut response = json_response(status, media, &body);
        response.extensions_mut().insert(self.outcome(executed.operation, executed.outcome));
        response
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

fn request_error(code: &str, message: &str) -> GqlResponse {
    GqlResponse::from_errors(vec![with_code(ServerError::new(message, None), code)])
}

fn apq_failure(err: &ApqError) -> GqlResponse {
    let code = match err {
        ApqError::NotFound => code::PERSISTED_QUERY_NOT_FOUND,
        ApqError::HashMismatch | ApqError::Unsupported => code::BAD_REQUEST,
    };
    request_error(code, &err.to_string())
}

fn json_response(status: StatusCode, media: Media, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    response
}

/// A refusal before any GraphQL work, as a GraphQL error body.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    json_response(status, Media::Json, &body)
}

fn not_acceptable() -> Response {
    refuse(
        StatusCode::NOT_ACCEPTABLE,
        code::BAD_REQUEST,
        "accept application/graphql-response+json or application/json",
    )
}

fn csrf_refusal() -> Response {
    refuse(
        StatusCode::BAD_REQUEST,
        code::BAD_REQUEST,
        "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). \
         Send Content-Type: application/json, or an `apollo-require-preflight` header.",
    )
}

/// GraphiQL, sending the browser's cookies with each request; never a token.
fn graphiql() -> Response {
    super::graphiql::page(None, None)
}
