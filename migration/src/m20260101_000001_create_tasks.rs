//! Creates `tasks`, or adopts the one the earlier backend made.

use sea_orm_migration::prelude::*;

use crate::Tasks;

/// Creates `tasks` when it is missing; when it exists, checks it has every column
/// the service needs and leaves it, and its rows, exactly as they are.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20260101_000001_create_tasks"
    }
}

/// Every column the service reads or writes.
const COLUMNS: [&str; 7] = ["id", "title", "description", "completed", "user_id", "created_at", "updated_at"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_table("tasks").await? {
            return check_adoptable(manager).await;
        }
        // No server-side defaults, as in the earlier backend: the service always
        // writes every column itself.
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(ColumnDef::new(Tasks::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Tasks::Title).string_len(200).not_null())
                    .col(ColumnDef::new(Tasks::Description).text().null())
                    .col(ColumnDef::new(Tasks::Completed).boolean().not_null())
                    .col(ColumnDef::new(Tasks::UserId).string_len(255).not_null())
                    .col(ColumnDef::new(Tasks::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Tasks::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Rolling back must never lose a task a client was told was saved.
        let db = manager.get_connection();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                manager.get_database_backend(),
                "SELECT EXISTS (SELECT 1 FROM tasks) AS has_rows",
            ))
            .await?;
        let has_rows: bool = match row {
            Some(row) => row.try_get("", "has_rows")?,
            None => false,
        };
        if has_rows {
            return Err(DbErr::Migration(
                "refusing to drop `tasks`: it still has rows (delete or back them up first)".to_owned(),
            ));
        }
        manager.drop_table(Table::drop().table(Tasks::Table).to_owned()).await
    }
}

/// Fails, naming the columns, when an existing `tasks` lacks one the service needs.
/// Adding a NOT NULL column to a table with rows would mean inventing values for
/// them, so that is left to a person.
async fn check_adoptable(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut missing = Vec::new();
    for name in COLUMNS {
        if !manager.has_column("tasks", name).await? {
            missing.push(name);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DbErr::Migration(format!(
            "an existing `tasks` table lacks the column(s) {}; it was left unchanged",
            missing.join(", ")
        )))
    }
}
