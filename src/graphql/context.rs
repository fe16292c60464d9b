//! What resolvers take from the context: the pool, the writer, the signed-in user.

use async_graphql::Context;
use entity::user;
use sea_orm::DatabaseConnection;

use super::OwnerLoader;
use crate::{
    auth::Viewer,
    db,
    error::{AppError, AppResult},
};

/// A context datum the schema was built without: a bug, so an internal error.
pub fn missing(err: async_graphql::Error) -> AppError {
    AppError::internal(anyhow::anyhow!("missing context data: {}", err.message))
}

/// The pool.
///
/// # Errors
/// Internal, when the schema was built without one.
pub fn db<'a>(ctx: &Context<'a>) -> AppResult<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>().map_err(missing)
}

/// The pool, for writes: each in a transaction bounded by `statement_timeout`.
///
/// # Errors
/// Internal, when the schema was built without one.
pub fn writer<'a>(ctx: &Context<'a>) -> AppResult<&'a db::Writer> {
    ctx.data::<db::Writer>().map_err(missing)
}

/// The signed-in user, or `None`.
///
/// # Errors
/// When the session lookup fails.
pub async fn viewer<'a>(ctx: &Context<'a>) -> AppResult<Option<&'a user::Model>> {
    let users = ctx.data::<db::user::Users>().map_err(missing)?;
    let Some(viewer) = ctx.data_opt::<std::sync::Arc<Viewer>>() else {
        return Ok(None);
    };
    let user = viewer.user(users).await?;
    if let (Some(user), Some(owners)) = (user, ctx.data_opt::<OwnerLoader>()) {
        owners.feed_one(user.id.clone(), user.clone()).await;
    }
    Ok(user)
}

/// The signed-in user.
///
/// # Errors
/// `UNAUTHENTICATED` without a valid session.
pub async fn signed_in<'a>(ctx: &Context<'a>) -> AppResult<&'a user::Model> {
    viewer(ctx).await?.ok_or(AppError::Unauthenticated)
}
