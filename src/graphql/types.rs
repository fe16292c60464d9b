//! The schema's output types, each built from an entity model so that a column
//! rename never silently changes the API.

use async_graphql::{ComplexObject, Context, ID, Object, SimpleObject};
use entity::{tasks, user};

use super::{OwnerLoader, context, cursor::CursorCodec, query::CountQuery, scalars::DateTime};
use crate::{
    db::task::{Key, SortField},
    error::{AppError, AppResult},
};

/// A user account, read from the Better Auth `user` table.
#[derive(SimpleObject, Clone, Debug)]
pub struct User {
    /// Better Auth's user id.
    pub id: ID,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Whether the e-mail address was verified.
    pub email_verified: bool,
    /// Avatar URL.
    pub image: Option<String>,
    /// When the account was created.
    pub created_at: DateTime,
}

impl From<&user::Model> for User {
    fn from(user: &user::Model) -> Self {
        Self {
            id: ID(user.id.clone()),
            name: user.name.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            image: user.image.clone(),
            created_at: DateTime(user.created_at),
        }
    }
}

/// A task of the signed-in user.
#[derive(Clone, Debug)]
pub struct Task(pub tasks::Model);

impl From<tasks::Model> for Task {
    fn from(model: tasks::Model) -> Self {
        Self(model)
    }
}

#[Object]
impl Task {
    /// A UUID, lowercase and hyphenated: the only form `id` arguments accept.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// 1 to 200 characters, trimmed.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// At most 1000 characters.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Whether the task is done.
    async fn completed(&self) -> bool {
        self.0.completed
    }

    /// When the task was created; never changes.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    /// When the task last changed; moves forward on every change.
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }

    /// The user the task belongs to.
    async fn owner(&self, ctx: &Context<'_>) -> AppResult<User> {
        let loader = ctx.data::<OwnerLoader>().map_err(context::missing)?;
        match loader.load_one(self.0.user_id.clone()).await {
            Ok(Some(user)) => Ok(User::from(&user)),
            Ok(None) => Err(AppError::internal(anyhow::anyhow!("task {} has no owner row", self.0.id))),
            Err(err) => Err(AppError::from(err)),
        }
    }
}

/// How many tasks the signed-in user has, by status.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct TaskStats {
    /// Every task.
    pub total: i32,
    /// Not completed.
    pub pending: i32,
    /// Completed.
    pub completed: i32,
}

/// Pagination state of a connection, as Relay defines it.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct PageInfo {
    /// More tasks follow the last edge.
    pub has_next_page: bool,
    /// More tasks precede the first edge.
    pub has_previous_page: bool,
    /// Where the first and last edges stand; their cursors are signed only when asked.
    #[graphql(skip)]
    pub(super) ends: Option<(Key, Key)>,
    #[graphql(skip)]
    pub(super) sort_field: SortField,
}

#[ComplexObject]
impl PageInfo {
    /// The first edge's cursor.
    async fn start_cursor(&self, ctx: &Context<'_>) -> AppResult<Option<String>> {
        let codec = ctx.data::<CursorCodec>().map_err(context::missing)?;
        Ok(self.ends.as_ref().map(|(first, _)| codec.encode(self.sort_field, first)))
    }

    /// The last edge's cursor.
    async fn end_cursor(&self, ctx: &Context<'_>) -> AppResult<Option<String>> {
        let codec = ctx.data::<CursorCodec>().map_err(context::missing)?;
        Ok(self.ends.as_ref().map(|(_, last)| codec.encode(self.sort_field, last)))
    }
}

/// One task in a connection, with its cursor.
#[derive(SimpleObject, Clone, Debug)]
pub struct TaskEdge {
    /// Opaque; pass to `after` or `before`.
    pub cursor: String,
    /// The task.
    pub node: Task,
}

/// A page of the signed-in user's tasks.
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub struct TaskConnection {
    /// Where this page stands.
    pub page_info: PageInfo,
    #[graphql(skip)]
    pub(super) tasks: Vec<tasks::Model>,
    #[graphql(skip)]
    pub(super) sort_field: SortField,
    #[graphql(skip)]
    pub(super) count: CountQuery,
}

#[ComplexObject]
impl TaskConnection {
    /// The tasks with their cursors.
    async fn edges(&self, ctx: &Context<'_>) -> AppResult<Vec<TaskEdge>> {
        let codec = ctx.data::<CursorCodec>().map_err(context::missing)?;
        Ok(self
            .tasks
            .iter()
            .map(|task| TaskEdge {
                cursor: codec.encode(self.sort_field, &Key::of(task, self.sort_field)),
                node: Task(task.clone()),
            })
            .collect())
    }

    /// The tasks.
    async fn nodes(&self) -> Vec<Task> {
        self.tasks.iter().cloned().map(Task).collect()
    }

    /// Number of tasks matching the filter, across all pages. Counted only when asked.
    async fn total_count(&self, ctx: &Context<'_>) -> AppResult<i32> {
        self.count.run(ctx).await
    }
}

/// A count as a GraphQL `Int` (32 bits): negative ones are 0, and one past
/// `i32::MAX` is `i32::MAX` rather than an error.
pub fn saturate<N: TryInto<i32> + PartialOrd + Default>(n: N) -> i32 {
    if n < N::default() { 0 } else { n.try_into().unwrap_or(i32::MAX) }
}
