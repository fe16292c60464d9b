//! Better Auth's `"user"` table (read only). The name must always be quoted in SQL.

use sea_orm::entity::prelude::*;

/// A Better Auth user. Plugin columns (`role`, `banned`, …) are not mapped.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    /// 32 characters of `[A-Za-z0-9]` by default.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// Display name.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// Unique e-mail address.
    #[sea_orm(column_type = "Text", unique)]
    pub email: String,
    /// Whether the e-mail address was verified.
    #[sea_orm(column_name = "emailVerified")]
    pub email_verified: bool,
    /// Avatar URL.
    #[sea_orm(column_type = "Text", nullable)]
    pub image: Option<String>,
    /// When the account was created.
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    /// When the account last changed.
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
    /// The user's sessions.
    #[sea_orm(has_many)]
    pub sessions: HasMany<super::session::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
