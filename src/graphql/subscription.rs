//! `Subscription`: the signed-in user's task changes, as the hub hands them over.
//!
//! Served only over WebSocket ([`crate::http`]'s `ws` module), which puts the
//! connection's signed-in user into each subscription's request. Each event is
//! filtered by user in the hub; `CREATED` and `UPDATED` load the task as it is now
//! (one indexed query, scoped to the user), `DELETED` carries the id alone. A bulk
//! delete yields one change per task. A subscription that falls more than
//! [`crate::events::BUFFER`] events behind ends with a `TOO_SLOW` error instead of
//! buffering more.

use std::collections::VecDeque;

use async_graphql::{
    Context, Enum, ID, SimpleObject, Subscription,
    futures_util::{StreamExt as _, stream::BoxStream},
};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::{context, types::Task};
use crate::{
    db,
    error::{AppError, AppResult},
    events::{self, ChangeKind, Ended, Hub},
};

/// The subscription root.
#[derive(Default)]
pub struct SubscriptionRoot;

/// What happened to a task.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "events::ChangeKind")]
pub enum TaskChangeKind {
    /// Created.
    #[graphql(name = "CREATED")]
    Created,
    /// Changed.
    #[graphql(name = "UPDATED")]
    Updated,
    /// Deleted.
    #[graphql(name = "DELETED")]
    Deleted,
}

/// One change to one of the signed-in user's tasks.
#[derive(SimpleObject, Clone, Debug)]
pub struct TaskChange {
    /// What happened.
    pub kind: TaskChangeKind,
    /// The task's id.
    pub id: ID,
    /// The task after the change; null when kind is DELETED.
    pub task: Option<Task>,
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Every change to the signed-in user's tasks, made through any instance of the service.
    async fn task_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<BoxStream<'static, AppResult<TaskChange>>> {
        let user = context::signed_in(ctx).await?;
        let hub = ctx.data::<Hub>().map_err(context::missing)?;
        let db = context::db(ctx)?.clone();
        let state = Changes { events: hub.subscribe(&user.id), user_id: user.id.clone(), db, pending: VecDeque::new() };
        Ok(async_graphql::futures_util::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            match state.next().await {
                Ok(change) => Some((Ok(change), Some(state))),
                // One last item (the error), then the stream ends.
                Err(err) => Some((Err(err), None)),
            }
        })
        .boxed())
    }
}

/// One subscription's state: its hub subscription and the changes of an event not
/// yet handed out.
struct Changes {
    events: events::Subscription,
    user_id: String,
    db: DatabaseConnection,
    pending: VecDeque<(ChangeKind, Uuid)>,
}

impl Changes {
    async fn next(&mut self) -> AppResult<TaskChange> {
        loop {
            while let Some((kind, id)) = self.pending.pop_front() {
                let task = match kind {
                    ChangeKind::Deleted => None,
                    ChangeKind::Created | ChangeKind::Updated => {
                        match db::task::find(&self.db, &self.user_id, id).await? {
                            Some(task) => Some(Task::from(task)),
                            // Deleted since: its DELETED event follows.
                            None => continue,
                        }
                    }
                };
                return Ok(TaskChange { kind: kind.into(), id: ID(id.to_string()), task });
            }
            let event = self.events.next().await.map_err(|ended| match ended {
                Ended::TooSlow => AppError::TooSlow,
                Ended::Closed => AppError::ShuttingDown,
            })?;
            self.pending.extend(event.task_ids.iter().map(|id| (event.kind, *id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{BUFFER, TaskEvent};

    fn deleted(user_id: &str, task_ids: Vec<Uuid>) -> TaskEvent {
        TaskEvent { kind: ChangeKind::Deleted, user_id: user_id.into(), task_ids }
    }

    #[tokio::test]
    async fn one_change_per_task_only_the_users_own_and_too_slow_once_behind_the_buffer() {
        let hub = Hub::new(true);
        let mut changes = Changes {
            events: hub.subscribe("ada"),
            user_id: "ada".into(),
            // DELETED needs no lookup; anything else would fail against this.
            db: DatabaseConnection::default(),
            pending: VecDeque::new(),
        };
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        hub.deliver(deleted("bob", vec![Uuid::now_v7()]));
        hub.deliver(deleted("ada", ids.to_vec()));
        for id in ids {
            let change = changes.next().await.unwrap_or_else(|err| panic!("{err:?}"));
            assert_eq!(
                (change.kind, change.id, change.task.is_none()),
                (TaskChangeKind::Deleted, ID(id.to_string()), true)
            );
        }
        for _ in 0..=BUFFER {
            hub.deliver(deleted("ada", vec![Uuid::now_v7()]));
        }
        assert!(matches!(changes.next().await, Err(AppError::TooSlow)));
    }
}
