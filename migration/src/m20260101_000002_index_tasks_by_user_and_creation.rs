//! The index behind "this user's tasks, newest first, page by page".

use sea_orm_migration::prelude::*;

use crate::Tasks;

/// Adds `(user_id, created_at, id)`, the key of the default order, so a page of a
/// user's tasks is an index range scan whatever the size of the table. An index of
/// the same name that is already there is kept.
pub struct Migration;

const INDEX: &str = "ix_tasks_user_id_created_at_id";

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20260101_000002_index_tasks_by_user_and_creation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(INDEX)
                    .table(Tasks::Table)
                    .col(Tasks::UserId)
                    .col(Tasks::CreatedAt)
                    .col(Tasks::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().if_exists().name(INDEX).table(Tasks::Table).to_owned()).await
    }
}
