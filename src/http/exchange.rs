//! One HTTP request's GraphQL work: resolving persisted queries, preparing the
//! document (parsed once, measured against the limits), executing within the
//! request's deadline, masking errors, counting operations, and the response,
//! whose size is capped.
//!
//! Internal causes are logged once, with the request id, and reach the client only
//! as a generic message carrying that id.

use std::{collections::BTreeMap, io, sync::Arc, time::Instant};

use async_graphql::{
    Request, Response as GqlResponse, ServerError, Value,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::{
    AppState,
    apq::{self, ApqError},
    negotiate::Media,
};
use crate::{
    auth::Viewer,
    error::{self, code},
    graphql::{
        self,
        documents::{self, Document, Refused},
        limits::Budget,
    },
    observability::{
        RequestId,
        metrics::{self as monitoring, GraphqlOutcome},
    },
};

/// One executed (or refused) operation.
pub struct Executed {
    response: GqlResponse,
    operation: String,
    outcome: String,
}

/// Who is asking, under which request id, until when, and what is left to spend.
pub struct Exchange<'s> {
    state: &'s AppState,
    viewer: Arc<Viewer>,
    request_id: RequestId,
    /// The request time limit covers the whole HTTP request, a batch included.
    deadline: tokio::time::Instant,
    /// The limits cover the whole HTTP request too.
    budget: Arc<Budget>,
}

impl<'s> Exchange<'s> {
    /// Reads the session candidates (no database yet); `request_id` is the one
    /// [`crate::observability::metrics::track`] read.
    pub fn new(state: &'s AppState, headers: &HeaderMap, request_id: RequestId) -> Self {
        Self {
            state,
            viewer: Arc::new(state.sessions.viewer(headers)),
            request_id,
            deadline: tokio::time::Instant::now() + state.limits.request_timeout,
            budget: Arc::new(Budget::new(&state.limits)),
        }
    }

    /// Prepares, then executes, one operation.
    pub async fn run(&self, mut request: Request) -> Executed {
        match self.prepare(&mut request).await {
            Ok(document) => self.execute(request, &document).await,
            Err(refused) => *refused,
        }
    }

    /// The request's document, parsed and measured once: from a persisted-query hash,
    /// the parsed-document cache, or the text. Refuses an unknown hash, an empty query,
    /// a document that does not parse, and one over a limit (the batch's included).
    pub async fn prepare(&self, request: &mut Request) -> Result<Arc<Document>, Box<Executed>> {
        let refused = |error: ServerError, operation: &str| {
            Box::new(self.finish(GqlResponse::from_errors(vec![error]), operation.to_owned(), Instant::now()))
        };
        let apq_refusal = |err: ApqError| refused(error::persisted_query_refusal(&err), "persisted-query");
        let refusal = |err: Refused| match err {
            Refused::Parse(err) => refused(error::parse_failed(err), "invalid"),
            Refused::Limit(refusal) => refused(error::invalid(refusal.to_string()), "invalid"),
        };
        let mut persisted = None;
        if let Some(extension) = request.extensions.get("persistedQuery") {
            let hash = apq::persisted_hash(extension).map_err(apq_refusal)?;
            if request.query.is_empty() {
                let document = self.state.documents.get(&hash).ok_or_else(|| apq_refusal(ApqError::NotFound))?;
                request.query = document.text.to_string();
                return self.spend(document).map_err(|error| refused(error, "invalid"));
            }
            persisted = Some(hash);
        }
        if request.query.trim().is_empty() {
            let error = error::refusal("the request has no query", code::BAD_REQUEST);
            return Err(refused(error, "empty"));
        }
        // Charged before it is hashed or parsed; hashed outside any lock, once: a
        // persisted query that matches is then kept under that hash like any other.
        self.spend_bytes(&request.query).map_err(|error| refused(error, "invalid"))?;
        let hash = documents::sha256(&request.query);
        if persisted.is_some_and(|sent| sent != hash) {
            return Err(apq_refusal(ApqError::HashMismatch));
        }
        let document = self.state.documents.prepare_hashed(&request.query, hash).await.map_err(refusal)?;
        self.spend(document).map_err(|error| refused(error, "invalid"))
    }

    /// Charges a document's length to the request's budget, before it is read.
    fn spend_bytes(&self, text: &str) -> Result<(), ServerError> {
        self.budget.spend_query_bytes(text.len()).map_err(|refusal| error::invalid(refusal.to_string()))
    }

    /// Charges a document to the request's budget.
    fn spend(&self, document: Arc<Document>) -> Result<Arc<Document>, ServerError> {
        self.budget
            .spend_document(document.measure)
            .map(|()| document)
            .map_err(|refusal| error::invalid(refusal.to_string()))
    }

    /// Executes a prepared operation before the deadline.
    pub async fn execute(&self, mut request: Request, document: &Document) -> Executed {
        let started = Instant::now();
        request.set_parsed_query(document.parsed.clone());
        let (name, operation) = selected_operation(&document.parsed, request.operation_name.as_deref()).unzip();
        let name = name.flatten();
        let request =
            request.data(self.viewer.clone()).data(self.budget.clone()).data(graphql::owner_loader(&self.state.users));
        // A query is cut at the deadline; a mutation never half-way (see `execute_within`).
        let response = graphql::execute_within(&self.state.schema, request, operation, self.deadline).await;
        // Decided after execution: only then is it known who asked and whether the
        // document was valid, and only those two make a name worth a label.
        let labelling = monitoring::Labelling {
            name: name.as_deref(),
            signed_in: self.viewer.known_user_id().is_some(),
            validated: !response.errors.iter().any(error::refused_before_execution),
        };
        let label = self.state.operation_names.label(labelling, Instant::now());
        self.finish(response, label, started)
    }

    fn finish(&self, mut response: GqlResponse, operation: String, started: Instant) -> Executed {
        for error in &mut response.errors {
            error::mask(error, self.request_id.as_str());
        }
        let outcome = response.errors.first().and_then(error::code_of).unwrap_or("ok").to_owned();
        monitoring::record_operation(&operation, &outcome, started);
        Executed { response, operation, outcome }
    }

    /// One operation's response: 400 for a request error when the client speaks
    /// `application/graphql-response+json` (except a persisted-query miss, which
    /// Apollo's protocol answers with 200), else 200.
    pub fn render(&self, executed: Executed, media: Media) -> Response {
        let apq_miss =
            executed.response.errors.iter().any(|e| error::code_of(e) == Some(code::PERSISTED_QUERY_NOT_FOUND));
        let (body, request_error) = self.body(&executed.response);
        let status = if media == Media::GraphQLResponse && request_error && !apq_miss {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let mut response = json_bytes(status, media, body);
        response.extensions_mut().insert(self.outcome(executed.operation, executed.outcome));
        response
    }

    /// A batch's response: an array, 200. Its size is capped as a whole.
    pub fn render_batch(&self, executed: Vec<Executed>, media: Media) -> Response {
        let outcome = executed.iter().map(|e| e.outcome.as_str()).find(|o| *o != "ok").unwrap_or("ok").to_owned();
        let mut array = Vec::with_capacity(2 + executed.len());
        array.push(b'[');
        for (n, member) in executed.iter().enumerate() {
            if n > 0 {
                array.push(b',');
            }
            array.extend_from_slice(&self.body(&member.response).0);
        }
        array.push(b']');
        let mut response = json_bytes(StatusCode::OK, media, array);
        response.extensions_mut().insert(self.outcome("batch".into(), outcome));
        response
    }

    /// The JSON body of one response, within what the request may still send; and
    /// whether it is a request error (no `data`).
    fn body(&self, response: &GqlResponse) -> (Vec<u8>, bool) {
        let request_error = response.data == Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|e| e.path.is_empty());
        let body = Body {
            data: (!request_error).then_some(&response.data),
            errors: &response.errors,
            extensions: &response.extensions,
        };
        let left = self.budget.response_bytes_left();
        let mut out = Capped { bytes: Vec::new(), cap: left };
        if serde_json::to_writer(&mut out, &body).is_ok() {
            self.budget.spend_response_bytes(out.bytes.len());
            return (out.bytes, request_error);
        }
        let limit = self.state.limits.max_response_bytes;
        tracing::warn!(request.id = self.request_id.as_str(), limit, "response over MAX_RESPONSE_BYTES refused");
        let errors = vec![error::response_too_large(limit, self.request_id.as_str())];
        let refused = Body { data: None, errors: &errors, extensions: &BTreeMap::new() };
        (serde_json::to_vec(&refused).unwrap_or_default(), true)
    }

    /// What the request log and metrics middleware learns about this request.
    fn outcome(&self, operation: String, outcome: String) -> GraphqlOutcome {
        GraphqlOutcome { operation, outcome, user_id: self.viewer.known_user_id().map(str::to_owned) }
    }
}

/// A response body as GraphQL over HTTP has it: no `data` for a request error.
#[derive(Serialize)]
struct Body<'r> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'r Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: &'r Vec<ServerError>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'r BTreeMap<String, Value>,
}

/// A buffer that refuses to grow past `cap`, so an oversized response is never built
/// in full.
struct Capped {
    bytes: Vec<u8>,
    cap: usize,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.cap {
            return Err(io::Error::other("response over MAX_RESPONSE_BYTES"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A JSON response of the negotiated media type.
pub fn json_response(status: StatusCode, media: Media, body: &serde_json::Value) -> Response {
    json_bytes(status, media, body.to_string().into_bytes())
}

fn json_bytes(status: StatusCode, media: Media, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    response
}

/// The name (from the document) and type of the operation `wanted` selects; `None`
/// when there is no such operation (execution then reports it).
pub fn selected_operation(
    document: &ExecutableDocument,
    wanted: Option<&str>,
) -> Option<(Option<String>, OperationType)> {
    match (&document.operations, wanted) {
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
