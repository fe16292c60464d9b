//! Every statement on `tasks` (and `task_creations`). Each function is scoped to
//! one user: there is no way to reach a task without naming its owner. Writes are
//! in [`write`] and [`creation`], each in a transaction of a [`Writer`](super::Writer).

use entity::tasks::{Column, Entity, Model};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::{Alias, Expr, LikeExpr, extension::postgres::PgExpr},
};
use uuid::Uuid;

mod creation;
mod page;
mod write;

pub use creation::{Creation, CreationKey, KEY_MAX, RETENTION, create_once};
pub use page::{Key, KeyValue, Page, Sort, SortField, Window, page, page_of_session, page_of_session_statement};
pub use write::{Changes, NewTask, create, delete, delete_completed, toggle, update};

/// Which tasks by completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Every task.
    #[default]
    All,
    /// Not completed.
    Pending,
    /// Completed.
    Completed,
}

/// Which of a user's tasks a list or count covers.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// By completion.
    pub status: Status,
    /// Case-insensitive substring of the title or description, matched literally.
    pub search: Option<String>,
}

/// How many of the user's tasks match the filter.
///
/// # Errors
/// When the database fails.
pub async fn count(db: &DatabaseConnection, user_id: &str, filter: &Filter) -> Result<u64, DbErr> {
    Entity::find().filter(filter_condition(db.get_database_backend(), Owner::Id(user_id), filter)).count(db).await
}

/// Totals by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Every task.
    pub total: i64,
    /// Completed tasks.
    pub completed: i64,
}

/// The user's totals, in one statement.
///
/// # Errors
/// When the database fails.
pub async fn stats(db: &DatabaseConnection, user_id: &str) -> Result<Stats, DbErr> {
    let (total, completed): (i64, i64) = Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "total")
        .column_as(Expr::cust("COUNT(*) FILTER (WHERE completed)"), "completed")
        .filter(Column::UserId.eq(user_id))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, 0));
    Ok(Stats { total, completed })
}

/// The user's task with this id.
///
/// # Errors
/// When the database fails.
pub async fn find(db: &impl ConnectionTrait, user_id: &str, id: Uuid) -> Result<Option<Model>, DbErr> {
    Entity::find().filter(Column::Id.eq(id)).filter(Column::UserId.eq(user_id)).one(db).await
}

/// Whose tasks a statement reads.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    /// The user with this id.
    Id(&'a str),
    /// The user of the session lookup the statement is joined to (its `id` column,
    /// under the name [`page::SESSION`]).
    OfSession,
}

fn filter_condition(backend: DbBackend, owner: Owner<'_>, filter: &Filter) -> Condition {
    let owner = match owner {
        Owner::Id(user_id) => Column::UserId.eq(user_id),
        Owner::OfSession => Expr::col(Column::UserId).equals((Alias::new(page::SESSION), Alias::new("id"))),
    };
    let mut condition = Condition::all().add(owner);
    match filter.status {
        Status::All => {}
        Status::Pending => condition = condition.add(Column::Completed.eq(false)),
        Status::Completed => condition = condition.add(Column::Completed.eq(true)),
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", escape_like(search));
        let matches = |column: Column| match backend {
            // Backslash is PostgreSQL's default LIKE escape. (sea-query wraps an
            // explicit `ESCAPE` clause in parentheses, which PostgreSQL rejects.)
            DbBackend::Postgres => Expr::col(column).ilike(LikeExpr::new(pattern.clone())),
            // SQLite's LIKE is case-insensitive for ASCII letters only, and has no
            // default escape character.
            _ => Expr::col(column).like(LikeExpr::new(pattern.clone()).escape('\\')),
        };
        condition = condition.add(Condition::any().add(matches(Column::Title)).add(matches(Column::Description)));
    }
    condition
}

/// Makes `%`, `_` and `\` match themselves in a LIKE pattern escaped by `\`.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    #[test]
    fn search_escapes_with_backslash_on_both_backends() {
        let filter = Filter { status: Status::All, search: Some("50%".into()) };
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let sql =
                Entity::find().filter(filter_condition(backend, Owner::Id("u"), &filter)).build(backend).to_string();
            assert!(str::contains(&sql, "LIKE"), "{sql}");
            let escape_clause = str::contains(&sql, "ESCAPE");
            assert_eq!(escape_clause, backend == DbBackend::Sqlite, "{sql}");
        }
    }

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like(r"50% off_now \o/"), r"50\% off\_now \\o/");
        assert_eq!(escape_like("plain"), "plain");
    }
}
