//! Better Auth's `session` table (read only).

use sea_orm::entity::prelude::*;

/// A Better Auth session. `token` is the secret a cookie or bearer carries.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session")]
pub struct Model {
    /// Session id (not the token).
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The session is valid while this is in the future.
    #[sea_orm(column_name = "expiresAt")]
    pub expires_at: DateTimeUtc,
    /// The session token, unique, stored in plain text by Better Auth.
    #[sea_orm(column_type = "Text", unique)]
    pub token: String,
    /// When the session was created.
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    /// When the session last changed.
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
    /// Client address at sign-in.
    #[sea_orm(column_name = "ipAddress", column_type = "Text", nullable)]
    pub ip_address: Option<String>,
    /// Client user agent at sign-in.
    #[sea_orm(column_name = "userAgent", column_type = "Text", nullable)]
    pub user_agent: Option<String>,
    /// Owner of the session.
    #[sea_orm(column_name = "userId", column_type = "Text")]
    pub user_id: String,
    /// The user this session signs in.
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: HasOne<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
