//! `task_creations`: which task a client's `clientMutationId` created, so that a
//! retried `createTask` answers that task instead of making another.

use sea_orm_migration::prelude::*;

/// Creates `task_creations` and the index the purge of old rows walks.
pub struct Migration;

const INDEX: &str = "ix_task_creations_created_at";

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_134454_create_task_creations"
    }
}

/// The columns of `task_creations`.
#[derive(DeriveIden)]
enum TaskCreations {
    Table,
    UserId,
    ClientMutationId,
    TaskId,
    RequestHash,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign key to `tasks`: the row must outlive its task, so that a late
        // retry of a create whose task was since deleted does not bring it back.
        manager
            .create_table(
                Table::create()
                    .table(TaskCreations::Table)
                    .col(ColumnDef::new(TaskCreations::UserId).string_len(255).not_null())
                    .col(ColumnDef::new(TaskCreations::ClientMutationId).string_len(64).not_null())
                    .col(ColumnDef::new(TaskCreations::TaskId).uuid().not_null())
                    .col(ColumnDef::new(TaskCreations::RequestHash).string_len(64).not_null())
                    .col(ColumnDef::new(TaskCreations::CreatedAt).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(TaskCreations::UserId).col(TaskCreations::ClientMutationId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(INDEX)
                    .table(TaskCreations::Table)
                    .col(TaskCreations::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Only retry records: dropping them loses no task, only the memory of
        // which request made which task.
        manager.drop_table(Table::drop().table(TaskCreations::Table).if_exists().to_owned()).await
    }
}
