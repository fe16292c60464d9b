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
    feed_owner(ctx, user).await;
    Ok(user)
}

/// The signed-in user and, when this call looks them up by session token, what
/// `along` read in the same statement ([`Viewer::user_along`]); `None` means: read
/// it alone.
///
/// # Errors
/// `UNAUTHENTICATED` without a valid session; the lookup's failure.
pub async fn signed_in_along<'a, T>(
    ctx: &Context<'a>,
    along: impl AsyncFnOnce(&db::user::Users, &[String]) -> Result<Option<(user::Model, T)>, sea_orm::DbErr>,
) -> AppResult<(&'a user::Model, Option<T>)> {
    let users = ctx.data::<db::user::Users>().map_err(missing)?;
    let Some(viewer) = ctx.data_opt::<std::sync::Arc<Viewer>>() else {
        return Err(AppError::Unauthenticated);
    };
    let (user, answer) = viewer.user_along(users, async |tokens: &[String]| along(users, tokens).await).await?;
    feed_owner(ctx, user).await;
    Ok((user.ok_or(AppError::Unauthenticated)?, answer))
}

/// The signed-in user goes into the owner loader, so the owners of their own
/// tasks cost no query.
async fn feed_owner(ctx: &Context<'_>, user: Option<&user::Model>) {
    if let (Some(user), Some(owners)) = (user, ctx.data_opt::<OwnerLoader>()) {
        owners.feed_one(user.id.clone(), user.clone()).await;
    }
}

/// The signed-in user.
///
/// # Errors
/// `UNAUTHENTICATED` without a valid session.
pub async fn signed_in<'a>(ctx: &Context<'a>) -> AppResult<&'a user::Model> {
    viewer(ctx).await?.ok_or(AppError::Unauthenticated)
}
