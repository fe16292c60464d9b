//! GraphQL over HTTP: `POST` and `GET /graphql`, and GraphiQL for browsers.
//!
//! Everything a request can be refused for before execution is decided here, in
//! this order: the response media type (406), the CSRF rule (400), the body (413,
//! 415, 400), the batch size (400), persisted queries, and for `GET` a mutation
//! (405). Preparing the document, executing and answering is [`super::exchange`]'s.

use std::net::SocketAddr;

use async_graphql::{BatchRequest, Request, Value, parser::types::OperationType};
use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::Response,
};
use serde::Deserialize;

use super::{
    SharedState,
    exchange::{Exchange, json_response, selected_operation},
    negotiate::{Media, content_type, passes_csrf_rule, response_media, wants_html},
};
use crate::{
    error::{self, code},
    observability::RequestId,
};

/// `POST /graphql`: one operation, or a batch of at most `MAX_BATCH`.
pub async fn post(
    State(state): State<SharedState>,
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
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
    let exchange = Exchange::new(&state, &headers, request_id.map(|id| id.0).unwrap_or_default());
    match batch {
        BatchRequest::Single(request) => exchange.render(exchange.run(request).await, media),
        BatchRequest::Batch(requests) => {
            if requests.is_empty() || requests.len() > state.limits.max_batch {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    code::BAD_REQUEST,
                    &format!("a batch holds 1 to {} operations", state.limits.max_batch),
                );
            }
            let mut executed = Vec::with_capacity(requests.len());
            for request in requests {
                executed.push(exchange.run(request).await);
            }
            exchange.render_batch(executed, media)
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
pub async fn get(
    State(state): State<SharedState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    request_id: Option<Extension<RequestId>>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params: GetParams = match serde_urlencoded::from_str(raw.as_deref().unwrap_or("")) {
        Ok(params) => params,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, code::BAD_REQUEST, &format!("bad query string: {err}")),
    };
    if params.query.is_none() && params.extensions.is_none() && wants_html(&headers) {
        let defaults = state.graphiql.as_ref();
        let peer = peer.map(|Extension(ConnectInfo(peer))| peer);
        // The demo token only for this machine's own browser; the query for anyone.
        let headers =
            defaults.map(|d| &d.headers).filter(|_| crate::embedded::may_hold_demo_token(peer, &headers, &uri));
        return super::graphiql::page(headers, defaults.map(|d| d.query.as_str()));
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
    let exchange = Exchange::new(&state, &headers, request_id.map(|id| id.0).unwrap_or_default());
    let document = match exchange.prepare(&mut request).await {
        Ok(document) => document,
        Err(refused) => return exchange.render(*refused, media),
    };
    let selected = selected_operation(&document.parsed, request.operation_name.as_deref());
    if selected.is_some_and(|(_, ty)| ty != OperationType::Query) {
        let mut response =
            refuse(StatusCode::METHOD_NOT_ALLOWED, code::BAD_REQUEST, "mutations are only accepted over POST");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    exchange.render(exchange.execute(request, &document).await, media)
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

/// A refusal before any GraphQL work, as a GraphQL error body.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, Media::Json, &error::refusal_body(code, message))
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
