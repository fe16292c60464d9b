//! Changes to a user's tasks, each in one write transaction ([`Writer::begin`]):
//! PostgreSQL bounds every statement by `statement_timeout`, and a statement it
//! stops rolls the whole change back. Each change that happened announces itself
//! in the same transaction ([`notify::send`]): a rolled-back one never does.

use chrono::{DateTime, SubsecRound, Utc};
use entity::tasks::{self, Column, Entity, Model};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, ExprTrait, QueryFilter, UpdateMany,
    sea_query::{Expr, Func, SimpleExpr},
};
use uuid::Uuid;

use super::find;
use crate::{
    db::Writer,
    events::{ChangeKind, TaskEvent, notify},
};

/// A task to create, already validated: the one shape the resolver, `seed` and
/// the tests make tasks from. A new column of `tasks` that a client sets is a field
/// here (and in [`Changes`] when it can change), and a line in [`NewTask::row`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTask {
    /// Trimmed title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Done already.
    pub completed: bool,
}

impl NewTask {
    /// The row to insert: `id`, owned by `user_id`, created and last updated `at`
    /// (to the millisecond, as a JavaScript `Date` holds it).
    pub fn row(self, id: Uuid, user_id: &str, at: DateTime<Utc>) -> tasks::ActiveModel {
        let at = at.trunc_subsecs(3);
        tasks::ActiveModel {
            id: Set(id),
            title: Set(self.title),
            description: Set(self.description),
            completed: Set(self.completed),
            user_id: Set(user_id.to_owned()),
            created_at: Set(at),
            updated_at: Set(at),
        }
    }
}

/// Inserts a task and returns it as stored.
///
/// # Errors
/// When the database fails.
pub async fn create(db: &Writer, user_id: &str, new: NewTask, now: DateTime<Utc>) -> Result<Model, DbErr> {
    let transaction = db.begin().await?;
    let task = insert(&transaction, Uuid::now_v7(), user_id, new, now).await?;
    announce(&transaction, ChangeKind::Created, user_id, vec![task.id]).await?;
    Writer::commit(transaction).await?;
    Ok(task)
}

/// The INSERT of [`create`], on a transaction the caller commits.
pub(super) async fn insert(
    db: &impl ConnectionTrait,
    id: Uuid,
    user_id: &str,
    new: NewTask,
    now: DateTime<Utc>,
) -> Result<Model, DbErr> {
    new.row(id, user_id, now).insert(db).await
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
    db: &Writer,
    user_id: &str,
    id: Uuid,
    changes: Changes,
    now: DateTime<Utc>,
) -> Result<Option<Model>, DbErr> {
    if changes.is_empty() {
        return find(db.pool(), user_id, id).await;
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
pub async fn toggle(db: &Writer, user_id: &str, id: Uuid, now: DateTime<Utc>) -> Result<Option<Model>, DbErr> {
    change(db, user_id, id, now, |update| update.col_expr(Column::Completed, Expr::col(Column::Completed).not())).await
}

/// Runs `set` on the user's task `id` and moves `updated_at` forward.
///
/// On PostgreSQL that is one UPDATE … RETURNING: concurrent changes serialise on
/// the row lock. On SQLite (one pooled connection, so nothing interleaves with the
/// transaction) the new `updated_at` is computed from the stored one.
async fn change(
    db: &Writer,
    user_id: &str,
    id: Uuid,
    now: DateTime<Utc>,
    set: impl FnOnce(UpdateMany<Entity>) -> UpdateMany<Entity>,
) -> Result<Option<Model>, DbErr> {
    let scoped = Entity::update_many().filter(Column::Id.eq(id)).filter(Column::UserId.eq(user_id));
    let transaction = db.begin().await?;
    let changed = if db.backend() == DbBackend::Sqlite {
        let Some(current) = find(&transaction, user_id, id).await? else {
            return Ok(None);
        };
        let updated_at = std::cmp::max(now.trunc_subsecs(3), current.updated_at + chrono::Duration::milliseconds(1));
        set(scoped.col_expr(Column::UpdatedAt, Expr::val(updated_at))).exec_with_returning(&transaction).await?.pop()
    } else {
        set(scoped.col_expr(Column::UpdatedAt, moved_forward(now))).exec_with_returning(&transaction).await?.pop()
    };
    if let Some(task) = &changed {
        announce(&transaction, ChangeKind::Updated, user_id, vec![task.id]).await?;
    }
    Writer::commit(transaction).await?;
    Ok(changed)
}

/// Deletes the user's task; whether there was one.
///
/// # Errors
/// When the database fails.
pub async fn delete(db: &Writer, user_id: &str, id: Uuid) -> Result<bool, DbErr> {
    let transaction = db.begin().await?;
    let result =
        Entity::delete_many().filter(Column::Id.eq(id)).filter(Column::UserId.eq(user_id)).exec(&transaction).await?;
    let deleted = result.rows_affected > 0;
    if deleted {
        announce(&transaction, ChangeKind::Deleted, user_id, vec![id]).await?;
    }
    Writer::commit(transaction).await?;
    Ok(deleted)
}

/// Deletes the user's completed tasks; their ids (one `DELETED` event each).
///
/// # Errors
/// When the database fails.
pub async fn delete_completed(db: &Writer, user_id: &str) -> Result<Vec<Uuid>, DbErr> {
    let transaction = db.begin().await?;
    let deleted: Vec<Uuid> = Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Completed.eq(true))
        .exec_with_returning(&transaction)
        .await?
        .into_iter()
        .map(|task| task.id)
        .collect();
    announce(&transaction, ChangeKind::Deleted, user_id, deleted.clone()).await?;
    Writer::commit(transaction).await?;
    Ok(deleted)
}

/// Announces a change inside its transaction (on PostgreSQL; nothing on SQLite).
pub(super) async fn announce(
    transaction: &impl ConnectionTrait,
    kind: ChangeKind,
    user_id: &str,
    task_ids: Vec<Uuid>,
) -> Result<(), DbErr> {
    notify::send(transaction, &TaskEvent { kind, user_id: user_id.to_owned(), task_ids }).await
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
