//! The request deadline, applied so that a write is never cut off half-way.
//!
//! A query is simply stopped at the deadline: it wrote nothing. A mutation runs
//! in a task of its own, so neither the deadline nor a client that disconnects
//! can drop it while a statement is in flight. Instead, async-graphql runs a
//! mutation's root fields one after another, and each carries the guard
//! [`not_passed`], which refuses to *start* one once the deadline has passed:
//! `SERVICE_UNAVAILABLE`, nothing written, and the fields already run keep their
//! answers. A field that started is bounded by PostgreSQL's `statement_timeout`
//! instead (see [`crate::db::Writer`]).
//!
//! A guard rather than a schema extension: an extension that wraps field
//! resolution puts every field of every query through the extension chain.

use async_graphql::{Context, ErrorExtensions, Request, Response, parser::types::OperationType};
use tokio::time::Instant;

use super::AppSchema;
use crate::error::{self, code};

/// When the request's time is up; request data.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Instant);

/// Executes `request` (of type `operation`, when known) within `deadline` as the
/// module describes.
pub async fn execute(
    schema: &AppSchema,
    request: Request,
    operation: Option<OperationType>,
    deadline: Instant,
) -> Response {
    let request = request.data(Deadline(deadline));
    if operation == Some(OperationType::Mutation) {
        let schema = schema.clone();
        return match tokio::spawn(async move { schema.execute(request).await }).await {
            Ok(response) => response,
            // Panics keep going up to the panic layer, as they would unspawned.
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => refused(code::INTERNAL_SERVER_ERROR, format!("the mutation's task was cancelled: {err}")),
        };
    }
    match tokio::time::timeout_at(deadline, schema.execute(request)).await {
        Ok(response) => response,
        Err(_) => refused(code::SERVICE_UNAVAILABLE, "the request took too long and was stopped; try again".into()),
    }
}

fn refused(code: &str, message: String) -> Response {
    Response::from_errors(vec![error::refusal(message, code)])
}

/// The guard of every mutation field: refuses to start it once the request's time
/// is up (`#[graphql(guard = "deadline::not_passed")]`).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` past the deadline: nothing was written.
pub fn not_passed(ctx: &Context<'_>) -> async_graphql::Result<()> {
    match ctx.data_opt::<Deadline>() {
        Some(deadline) if Instant::now() >= deadline.0 => Err(async_graphql::Error::new(
            "the request ran out of time before this mutation started; nothing was written; try again",
        )
        .extend_with(|_, extensions| extensions.set("code", code::SERVICE_UNAVAILABLE))),
        _ => Ok(()),
    }
}
