//! Creates `tasks`, or adopts the one the earlier backend made.

use sea_orm_migration::prelude::*;

use crate::Tasks;

/// Creates `tasks` when it is missing; when it exists, checks it has every column
/// the service needs, of a type the service can read and write, and leaves it, and
/// its rows, exactly as they are.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20260101_000001_create_tasks"
    }
}

/// What an adopted column must be for the entity (`entity::tasks`) to decode every
/// row and for every value the service accepts to fit.
struct Wanted {
    name: &'static str,
    /// `information_schema.columns.data_type` values that decode.
    types: &'static [&'static str],
    /// Fewest characters a bounded `character varying` must hold: the service's own
    /// limit (title 200, description 1000) or, for `user_id`, the earlier backend's
    /// 255, since Better Auth's `user.id` is unbounded `text`.
    min_length: Option<i32>,
    /// Whether the column must allow NULL (the service writes NULL) or must not
    /// (the entity cannot decode one).
    nullable: bool,
    /// What to tell a person to make it.
    must_be: &'static str,
}

const TEXT: &[&str] = &["text", "character varying"];

/// Every column the service reads or writes.
const COLUMNS: [Wanted; 7] = [
    Wanted { name: "id", types: &["uuid"], min_length: None, nullable: false, must_be: "`uuid`" },
    Wanted {
        name: "title",
        types: TEXT,
        min_length: Some(200),
        nullable: false,
        must_be: "`text` or `character varying` of at least 200",
    },
    Wanted {
        name: "description",
        types: TEXT,
        min_length: Some(1000),
        nullable: true,
        must_be: "`text` or `character varying` of at least 1000",
    },
    Wanted { name: "completed", types: &["boolean"], min_length: None, nullable: false, must_be: "`boolean`" },
    Wanted {
        name: "user_id",
        types: TEXT,
        min_length: Some(255),
        nullable: false,
        must_be: "`text` or `character varying` of at least 255",
    },
    Wanted {
        name: "created_at",
        types: &["timestamp with time zone"],
        min_length: None,
        nullable: false,
        must_be: "`timestamp with time zone`",
    },
    Wanted {
        name: "updated_at",
        types: &["timestamp with time zone"],
        min_length: None,
        nullable: false,
        must_be: "`timestamp with time zone`",
    },
];

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

/// Fails, naming the columns, when an existing `tasks` lacks one the service needs
/// or, on PostgreSQL, has one of a type or nullability the service cannot use.
/// Adding a NOT NULL column to a table with rows would mean inventing values for
/// them, and changing a type reinterprets them, so that is left to a person.
async fn check_adoptable(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut missing = Vec::new();
    for column in &COLUMNS {
        if !manager.has_column("tasks", column.name).await? {
            missing.push(column.name);
        }
    }
    if !missing.is_empty() {
        return Err(DbErr::Migration(format!(
            "an existing `tasks` table lacks the column(s) {}; it was left unchanged",
            missing.join(", ")
        )));
    }
    // SQLite stores any value in any column; only the names can be checked there.
    if manager.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let problems = type_problems(manager).await?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DbErr::Migration(format!(
            "an existing `tasks` table cannot be adopted: {}; it was left unchanged",
            problems.join("; ")
        )))
    }
}

/// One sentence per column whose type or nullability is not [`Wanted`].
async fn type_problems(manager: &SchemaManager<'_>) -> Result<Vec<String>, DbErr> {
    // The same table `has_column` found: the first `tasks` on the search path.
    let rows = manager
        .get_connection()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT column_name::text AS name, data_type::text AS data_type, is_nullable::text AS nullable,
                    character_maximum_length::int4 AS length
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'tasks' ORDER BY ordinal_position",
        ))
        .await?;
    let mut problems = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        let Some(wanted) = COLUMNS.iter().find(|c| c.name == name) else { continue };
        let data_type: String = row.try_get("", "data_type")?;
        let length: Option<i32> = row.try_get("", "length")?;
        let nullable = row.try_get::<String>("", "nullable")? == "YES";
        let too_short = wanted.min_length.zip(length).is_some_and(|(min, len)| len < min);
        if !wanted.types.contains(&data_type.as_str()) || too_short {
            let shown = length.map_or(data_type.clone(), |len| format!("{data_type}({len})"));
            // An earlier backend of an app with `generateId: "uuid"`: lossless, but
            // that backend may still read the column, so a person decides.
            let hint = if name == "user_id" && data_type == "uuid" {
                " (the service keeps every user id as text: ALTER TABLE tasks ALTER COLUMN user_id TYPE text)"
            } else {
                ""
            };
            problems.push(format!("tasks.{name} is `{shown}`; it must be {}{hint}", wanted.must_be));
        }
        match (wanted.nullable, nullable) {
            (false, true) => problems.push(format!("tasks.{name} allows NULL; it must be NOT NULL")),
            (true, false) => {
                problems.push(format!("tasks.{name} is NOT NULL; it must allow NULL (the service stores none as NULL)"))
            }
            _ => {}
        }
    }
    Ok(problems)
}
