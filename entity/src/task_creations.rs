//! The `task_creations` table: which task a client's `clientMutationId` created.

use sea_orm::entity::prelude::*;

/// One retry-safe create: the key a client chose, per user, and the task it made.
/// Kept after the task is deleted, so a late retry cannot bring the task back;
/// purged some time after `created_at`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_creations")]
pub struct Model {
    /// Better Auth's `user.id` of the user who created the task.
    #[sea_orm(primary_key, auto_increment = false, column_type = "String(StringLen::N(255))")]
    pub user_id: String,
    /// The client's key: 1 to 64 printable ASCII characters.
    #[sea_orm(primary_key, auto_increment = false, column_type = "String(StringLen::N(64))")]
    pub client_mutation_id: String,
    /// The task the key created.
    pub task_id: Uuid,
    /// SHA-256, in hex, of the validated input the key was first used with.
    #[sea_orm(column_type = "String(StringLen::N(64))")]
    pub request_hash: String,
    /// When the key was first used, in UTC.
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
