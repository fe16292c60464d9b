//! Every statement on `tasks`. Each function is scoped to one user: there is no way
//! to reach a task without naming its owner.

use chrono::{DateTime, SubsecRound, Utc};
use entity::tasks::{self, Column, Entity, Model};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, ExprTrait,
    PaginatorTrait, QueryFilter, QuerySelect, TransactionTrait, UpdateMany,
    sea_query::{Expr, Func, LikeExpr, SimpleExpr, extension::postgres::PgExpr},
};
use uuid::Uuid;

mod page;

pub use page::{Key, KeyValue, Page, Sort, SortField, Window, page};

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
    Entity::find().filter(filter_condition(db.get_database_backend(), user_id, filter)).count(db).await
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

/// A task to create, already validated.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// Trimmed title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Done already.
    pub completed: bool,
}

/// Inserts a task (one statement) and returns it as stored.
///
/// # Errors
/// When the database fails.
pub async fn create(db: &DatabaseConnection, user_id: &str, new: NewTask, now: DateTime<Utc>) -> Result<Model, DbErr> {
    let now = now.trunc_subsecs(3);
    tasks::ActiveModel {
        id: Set(Uuid::now_v7()),
        title: Set(new.title),
        description: Set(new.description),
        completed: Set(new.completed),
        user_id: Set(user_id.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Changes to a task, already validated; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// New trimmed title.
    pub title: Option<String>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New completion.
    pub completed: Option<bool>,
}

impl Changes {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none() && self.completed.is_none()
    }
}

/// Applies `changes`; `None` when the user has no such task. With no changes at
/// all the task is returned as it is, `updated_at` untouched.
///
/// # Errors
/// When the database fails.
pub async fn update(
    db: &DatabaseConnection,
    user_id: &str,
    id: Uuid,
    changes: Changes,
    now: DateTime<Utc>,
) -> Result<Option<Model>, DbErr> {
    if changes.is_empty() {
        return find(db, user_id, id).await;
    }
    change(db, user_id, id, now, |mut update| {
        if let Some(title) = changes.title {
            update = update.col_expr(Column::Title, Expr::val(title));
        }
        if let Some(description) = changes.description {
            update = update.col_expr(Column::Description, Expr::val(description));
        }
        if let Some(completed) = changes.completed {
            update = update.col_expr(Column::Completed, Expr::val(completed));
        }
        update
    })
    .await
}

/// Flips `completed` without reading it first, so concurrent toggles never lose
/// one; `None` when the user has no such task.
///
/// # Errors
/// When the database fails.
pub async fn toggle(
    db: &DatabaseConnection,
    user_id: &str,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Model>, DbErr> {
    change(db, user_id, id, now, |update| update.col_expr(Column::Completed, Expr::col(Column::Completed).not())).await
}

/// Runs `set` on the user's task `id` and moves `updated_at` forward.
///
/// On PostgreSQL that is one UPDATE … RETURNING: concurrent changes serialise on
/// the row lock. On SQLite (one pooled connection, so nothing interleaves with the
/// transaction) the new `updated_at` is computed from the stored one.
async fn change(
    db: &DatabaseConnection,
    user_id: &str,
    id: Uuid,
    now: DateTime<Utc>,
    set: impl FnOnce(UpdateMany<Entity>) -> UpdateMany<Entity>,
) -> Result<Option<Model>, DbErr> {
    let scoped = Entity::update_many().filter(Column::Id.eq(id)).filter(Column::UserId.eq(user_id));
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(set(scoped.col_expr(Column::UpdatedAt, moved_forward(now))).exec_with_returning(db).await?.pop());
    }
    let transaction = db.begin().await?;
    let Some(current) = find(&transaction, user_id, id).await? else {
        return Ok(None);
    };
    let updated_at = std::cmp::max(now.trunc_subsecs(3), current.updated_at + chrono::Duration::milliseconds(1));
    let changed =
        set(scoped.col_expr(Column::UpdatedAt, Expr::val(updated_at))).exec_with_returning(&transaction).await?;
    transaction.commit().await?;
    Ok(changed.into_iter().next())
}

/// Deletes the user's task; whether there was one.
///
/// # Errors
/// When the database fails.
pub async fn delete(db: &DatabaseConnection, user_id: &str, id: Uuid) -> Result<bool, DbErr> {
    let result = Entity::delete_many().filter(Column::Id.eq(id)).filter(Column::UserId.eq(user_id)).exec(db).await?;
    Ok(result.rows_affected > 0)
}

/// Deletes the user's completed tasks; how many.
///
/// # Errors
/// When the database fails.
pub async fn delete_completed(db: &DatabaseConnection, user_id: &str) -> Result<u64, DbErr> {
    let result =
        Entity::delete_many().filter(Column::UserId.eq(user_id)).filter(Column::Completed.eq(true)).exec(db).await?;
    Ok(result.rows_affected)
}

/// PostgreSQL: `now` (to the millisecond, as served), or a millisecond past the
/// stored value when that is not earlier: `updatedAt` moves forward on every change even when two land
/// in the same millisecond or another instance's clock is ahead.
fn moved_forward(now: DateTime<Utc>) -> SimpleExpr {
    Func::greatest([
        Expr::val(now.trunc_subsecs(3)),
        Expr::col(Column::UpdatedAt).add(Expr::cust("interval '1 millisecond'")),
    ])
    .into()
}

fn filter_condition(backend: DbBackend, user_id: &str, filter: &Filter) -> Condition {
    let mut condition = Condition::all().add(Column::UserId.eq(user_id));
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
            let sql = Entity::find().filter(filter_condition(backend, "u", &filter)).build(backend).to_string();
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
