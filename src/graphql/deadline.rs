//! The request deadline, applied so that a write is never cut off half-way.
//!
//! A query is simply stopped at the deadline: it wrote nothing. A mutation runs
//! in a task of its own, so neither the deadline nor a client that disconnects
//! can drop it while a statement is in flight. Instead, async-graphql runs a
//! mutation's root fields one after another, and [`DeadlineCheck`] refuses to
//! *start* one once the deadline has passed: `SERVICE_UNAVAILABLE`, nothing
//! written, and the fields already run keep their answers. A field that started
//! is bounded by PostgreSQL's `statement_timeout` instead (see [`crate::db::Writer`]).

use std::sync::Arc;

use async_graphql::{
    PathSegment, Request, Response, ServerError, ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
    parser::types::OperationType,
};
use tokio::time::Instant;

use super::AppSchema;
use crate::error::{self, code, with_code};

/// The mutation root's name in the schema.
const MUTATION: &str = "Mutation";

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

/// Registers [`DeadlineCheck`] on the schema.
pub struct DeadlineFactory;

impl ExtensionFactory for DeadlineFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DeadlineCheck)
    }
}

/// Refuses to start a mutation's root field after the deadline.
struct DeadlineCheck;

#[async_graphql::async_trait::async_trait]
impl Extension for DeadlineCheck {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let root_of_mutation = info.path_node.parent.is_none() && info.parent_type == MUTATION;
        if root_of_mutation && ctx.data_opt::<Deadline>().is_some_and(|deadline| Instant::now() >= deadline.0) {
            let mut error = ServerError::new(
                "the request ran out of time before this mutation started; nothing was written; try again",
                Some(info.field.name.pos),
            );
            error.path = vec![PathSegment::Field(info.alias.unwrap_or(info.name).to_owned())];
            return Err(with_code(error, code::SERVICE_UNAVAILABLE));
        }
        next.run(ctx, info).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mutation_root_is_named_as_the_check_expects() {
        assert!(super::super::sdl().contains(&format!("type {MUTATION} {{")));
    }
}
