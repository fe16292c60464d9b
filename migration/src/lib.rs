//! Schema migrations for the service's own tables, `tasks` and `task_creations`.
//!
//! The first migration adopts a `tasks` table that the earlier FastAPI backend
//! created (same columns, rows in it) instead of failing on it; later ones only add
//! what is missing. No migration touches Better Auth's tables.
//!
//! Applied migrations are recorded in `todo_graphql_migrations`, a name of our own,
//! so the service cannot collide with another SeaORM app sharing the database.

pub use sea_orm_migration::prelude::*;

mod m20260101_000001_create_tasks;
mod m20260101_000002_index_tasks_by_user_and_creation;
mod m20261130_134454_create_task_creations;

/// Every migration of the service, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_create_tasks::Migration),
            Box::new(m20260101_000002_index_tasks_by_user_and_creation::Migration),
            Box::new(m20261130_134454_create_task_creations::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "todo_graphql_migrations".into_iden()
    }
}

/// The columns of `tasks`, shared by the migrations.
#[derive(DeriveIden)]
pub(crate) enum Tasks {
    Table,
    Id,
    Title,
    Description,
    Completed,
    UserId,
    CreatedAt,
    UpdatedAt,
}
