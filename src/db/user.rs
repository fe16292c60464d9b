//! Reads of Better Auth's `"user"` and `session` tables. Never a write.

use chrono::{DateTime, Utc};
use entity::{session, user};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

/// The first of `tokens` (in order) that names a live session, with its user.
///
/// One indexed query (`session.token` is unique) whatever the number of candidates,
/// which the caller keeps small. HTTP needs only the user; a WebSocket keeps the
/// session too, to re-check it and end at its `expiresAt`.
///
/// # Errors
/// When the database does not answer.
pub async fn find_live_session(
    db: &DatabaseConnection,
    tokens: &[String],
    now: DateTime<Utc>,
) -> Result<Option<(session::Model, user::Model)>, DbErr> {
    if tokens.is_empty() {
        return Ok(None);
    }
    let rows = session::Entity::find()
        .find_also_related(user::Entity)
        .filter(session::Column::Token.is_in(tokens.iter().cloned()))
        .filter(session::Column::ExpiresAt.gt(now))
        .all(db)
        .await?;
    Ok(tokens.iter().find_map(|token| {
        rows.iter()
            .find(|(session, _)| &session.token == token)
            .and_then(|(session, user)| Some((session.clone(), user.clone()?)))
    }))
}

/// The user behind the first of `tokens` that names a live session
/// ([`find_live_session`] without the session).
///
/// # Errors
/// When the database does not answer.
pub async fn find_by_session_token(
    db: &DatabaseConnection,
    tokens: &[String],
    now: DateTime<Utc>,
) -> Result<Option<user::Model>, DbErr> {
    Ok(find_live_session(db, tokens, now).await?.map(|(_, user)| user))
}

/// When the session `token` of `user_id` expires; `None` once it is gone (signed
/// out), expired or another user's.
///
/// # Errors
/// When the database does not answer.
pub async fn session_expiry(
    db: &DatabaseConnection,
    token: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let session = session::Entity::find()
        .filter(session::Column::Token.eq(token))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?;
    Ok(session.map(|session| session.expires_at))
}

/// The users with these ids, in no particular order; unknown ids are left out.
///
/// # Errors
/// When the database does not answer.
pub async fn find_by_ids(db: &DatabaseConnection, ids: &[String]) -> Result<Vec<user::Model>, DbErr> {
    user::Entity::find().filter(user::Column::Id.is_in(ids.iter().cloned())).all(db).await
}

/// The user with this id, if it still exists: the one lookup a verified JWT costs.
///
/// # Errors
/// When the database does not answer.
pub async fn find_by_id(db: &DatabaseConnection, id: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id.to_owned()).one(db).await
}
