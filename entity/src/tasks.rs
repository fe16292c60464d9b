//! The `tasks` table, exactly as the earlier FastAPI backend created it.

use sea_orm::entity::prelude::*;

/// One task. `user_id` is Better Auth's user id: a soft reference, no foreign key.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    /// A UUID chosen by the service (v7, so ids sort roughly by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Trimmed, 1 to 200 characters.
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub title: String,
    /// At most 1000 characters.
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// Whether the task is done.
    pub completed: bool,
    /// Better Auth's `user.id` of the owner.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub user_id: String,
    /// When the task was created, in UTC; never changes.
    pub created_at: DateTimeUtc,
    /// When the task last changed, in UTC; moves forward on every change.
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
