//! `Mutation`: changes to the signed-in user's tasks.

use async_graphql::{Context, ID, Object};
use chrono::Utc;

use super::{
    context, deadline,
    input::{CreateTaskInput, UpdateTaskInput, task_id},
    types::{Task, saturate},
};
use crate::{
    db::{self, task::Creation},
    error::{AppError, AppResult},
    events::{ChangeKind, Hub, TaskEvent},
};

/// Hands a committed change to the hub (in-process on SQLite; on PostgreSQL the
/// transaction's NOTIFY already announced it).
fn publish(ctx: &Context<'_>, kind: ChangeKind, user_id: &str, task_ids: Vec<uuid::Uuid>) {
    if task_ids.is_empty() {
        return;
    }
    if let Ok(hub) = ctx.data::<Hub>() {
        hub.publish_after_commit(TaskEvent { kind, user_id: user_id.to_owned(), task_ids });
    }
}

/// The mutation root. Every field carries the guard [`deadline::not_passed`].
#[derive(Default)]
pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Creates a task owned by the signed-in user. With `input.clientMutationId` it
    /// is safe to retry: the same key again answers the task the first call created.
    #[graphql(guard = "deadline::not_passed")]
    async fn create_task(&self, ctx: &Context<'_>, input: CreateTaskInput) -> AppResult<Task> {
        let user = context::signed_in(ctx).await?;
        let (new, key) = input.validate()?;
        let db = context::writer(ctx)?;
        let Some(key) = key else {
            let task = db::task::create(db, &user.id, new, Utc::now()).await?;
            publish(ctx, ChangeKind::Created, &user.id, vec![task.id]);
            return Ok(task.into());
        };
        match db::task::create_once(db, &user.id, &key, new, Utc::now()).await? {
            Creation::Made(task) => {
                publish(ctx, ChangeKind::Created, &user.id, vec![task.id]);
                Ok(task.into())
            }
            // A replay answers the task again without announcing it twice.
            Creation::Task(task) => Ok(task.into()),
            Creation::KeyReused => Err(AppError::bad_input(
                "clientMutationId",
                "this clientMutationId was already used with different input; choose a new one",
            )),
            Creation::TaskDeleted => Err(AppError::NotFound),
        }
    }

    /// Changes the given fields of a task; an omitted field is left as it is, description: null clears it.
    #[graphql(guard = "deadline::not_passed")]
    async fn update_task(&self, ctx: &Context<'_>, id: ID, input: UpdateTaskInput) -> AppResult<Task> {
        let user = context::signed_in(ctx).await?;
        let id = task_id(&id)?;
        let changes = input.validate()?;
        let task = db::task::update(context::writer(ctx)?, &user.id, id, changes, Utc::now())
            .await?
            .ok_or(AppError::NotFound)?;
        publish(ctx, ChangeKind::Updated, &user.id, vec![task.id]);
        Ok(task.into())
    }

    /// Flips `completed` atomically (concurrent toggles never lose an update).
    #[graphql(guard = "deadline::not_passed")]
    async fn toggle_task(&self, ctx: &Context<'_>, id: ID) -> AppResult<Task> {
        let user = context::signed_in(ctx).await?;
        let id = task_id(&id)?;
        let task =
            db::task::toggle(context::writer(ctx)?, &user.id, id, Utc::now()).await?.ok_or(AppError::NotFound)?;
        publish(ctx, ChangeKind::Updated, &user.id, vec![task.id]);
        Ok(task.into())
    }

    /// Deletes a task and returns its id, as given (ids are accepted only in the form the service writes them).
    #[graphql(guard = "deadline::not_passed")]
    async fn delete_task(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let user = context::signed_in(ctx).await?;
        let uuid = task_id(&id)?;
        if db::task::delete(context::writer(ctx)?, &user.id, uuid).await? {
            publish(ctx, ChangeKind::Deleted, &user.id, vec![uuid]);
            Ok(ID(uuid.to_string()))
        } else {
            Err(AppError::NotFound)
        }
    }

    /// Deletes all completed tasks of the signed-in user and returns how many were deleted.
    #[graphql(guard = "deadline::not_passed")]
    async fn clear_completed_tasks(&self, ctx: &Context<'_>) -> AppResult<i32> {
        let user = context::signed_in(ctx).await?;
        let deleted = db::task::delete_completed(context::writer(ctx)?, &user.id).await?;
        let count = saturate(deleted.len());
        publish(ctx, ChangeKind::Deleted, &user.id, deleted);
        Ok(count)
    }
}
