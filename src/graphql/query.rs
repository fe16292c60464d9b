//! `Query`: the signed-in user and their tasks.

use async_graphql::{Context, ID, Object};
use chrono::Utc;
use sea_orm::DbBackend;

use super::{
    context,
    cursor::{CursorCodec, CursorError},
    input::{TaskFilter, TaskOrder, task_id},
    types::{PageInfo, Task, TaskConnection, TaskStats, User, saturate},
};
use crate::{
    config::Limits,
    db::{
        self,
        task::{Filter, Key, SortField, Window},
    },
    error::{AppError, AppResult},
};

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// The query root.
#[derive(Default)]
pub struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// The signed-in user, or null when the request carries no valid session.
    async fn me(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        Ok(context::viewer(ctx).await?.map(User::from))
    }

    /// One of the signed-in user's tasks; null when it does not exist or is not theirs.
    async fn task(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Task>> {
        let user = context::signed_in(ctx).await?;
        let id = task_id(&id)?;
        Ok(db::task::find(context::db(ctx)?, &user.id, id).await?.map(Task::from))
    }

    /// The signed-in user's tasks as a Relay cursor connection.
    /// `first`/`after` page forward, `last`/`before` page backward; page size 1..=100, default 20.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "page_complexity(first.or(last), child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<TaskConnection> {
        let sort = db::task::Sort::from(order_by);
        let codec = ctx.data::<CursorCodec>().map_err(context::missing)?;
        let max = ctx.data::<Limits>().map_err(context::missing)?.max_page_size;
        let arguments = filter
            .unwrap_or_default()
            .validate()
            .and_then(|filter| Ok((filter, Paging { first, after, last, before }.window(codec, sort.field, max)?)));
        let db = context::db(ctx)?;
        let (user, filter, window, page) = match arguments {
            // On PostgreSQL the session lookup, when still to come, reads the page
            // too: one statement, one round trip.
            Ok((filter, window)) if db.get_database_backend() == DbBackend::Postgres => {
                let (user, page) = context::signed_in_along(ctx, async |users, tokens| {
                    db::task::page_of_session(db, users, tokens, Utc::now(), &filter, sort, &window).await
                })
                .await?;
                let page = match page {
                    Some(page) => page,
                    None => db::task::page(db, &user.id, &filter, sort, &window).await?,
                };
                (user, filter, window, page)
            }
            // Who is asking is checked first: a signed-out request learns nothing
            // of its arguments.
            arguments => {
                let user = context::signed_in(ctx).await?;
                let (filter, window) = arguments?;
                let page = db::task::page(db, &user.id, &filter, sort, &window).await?;
                (user, filter, window, page)
            }
        };
        let key = |task: &entity::tasks::Model| Key::of(task, sort.field);
        let page_info = PageInfo {
            has_next_page: if window.from_end { window.before.is_some() } else { page.has_more },
            has_previous_page: if window.from_end { page.has_more } else { window.after.is_some() },
            ends: page.tasks.first().zip(page.tasks.last()).map(|(first, last)| (key(first), key(last))),
            sort_field: sort.field,
        };
        Ok(TaskConnection {
            page_info,
            tasks: page.tasks,
            sort_field: sort.field,
            count: CountQuery { user_id: user.id.clone(), filter },
        })
    }

    /// How many tasks the signed-in user has, by status.
    async fn task_stats(&self, ctx: &Context<'_>) -> AppResult<TaskStats> {
        let user = context::signed_in(ctx).await?;
        let stats = db::task::stats(context::db(ctx)?, &user.id).await?;
        Ok(TaskStats {
            total: saturate(stats.total),
            pending: saturate(stats.total - stats.completed),
            completed: saturate(stats.completed),
        })
    }
}

/// The pagination arguments of a connection, as given.
struct Paging {
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
}

impl Paging {
    /// Checks the arguments and decodes the cursors.
    fn window(self, codec: &CursorCodec, field: SortField, max: u64) -> AppResult<Window> {
        let size = |name: &'static str, n: i32| match u64::try_from(n) {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(AppError::bad_input(name, format!("{name} must be from 1 to {max}"))),
        };
        let (limit, from_end) = match (self.first, self.last) {
            (Some(_), Some(_)) => return Err(AppError::bad_input("last", "pass first or last, not both")),
            (Some(first), None) => (size("first", first)?, false),
            (None, Some(last)) => (size("last", last)?, true),
            (None, None) => (u64::try_from(DEFAULT_PAGE_SIZE).unwrap_or(20).min(max), false),
        };
        let decode = |name: &'static str, cursor: Option<String>| {
            cursor
                .map(|cursor| {
                    codec.decode(field, &cursor).map_err(|err| match err {
                        CursorError::Invalid => AppError::bad_input(name, format!("{name} is not a valid cursor")),
                        CursorError::OtherOrder => {
                            AppError::bad_input(name, format!("{name} is a cursor of another order"))
                        }
                    })
                })
                .transpose()
        };
        Ok(Window { after: decode("after", self.after)?, before: decode("before", self.before)?, limit, from_end })
    }
}

/// The count behind `totalCount`, run only when a query selects it.
#[derive(Debug)]
pub struct CountQuery {
    user_id: String,
    filter: Filter,
}

impl CountQuery {
    /// Counts the user's tasks that match the filter.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn run(&self, ctx: &Context<'_>) -> AppResult<i32> {
        Ok(saturate(db::task::count(context::db(ctx)?, &self.user_id, &self.filter).await?))
    }
}

/// What a page of `tasks` costs: one per ten nodes it can return. The page size
/// is counted as asked, up to the largest `MAX_PAGE_SIZE` can be (complexity is
/// computed before execution, without the configuration): a size over the
/// configured one is refused at execution anyway, and one under it is counted for
/// what it returns, whatever `MAX_PAGE_SIZE` is set to.
fn page_complexity(size: Option<i32>, child_complexity: usize) -> usize {
    let size = u64::try_from(size.unwrap_or(DEFAULT_PAGE_SIZE)).unwrap_or(1).clamp(1, crate::config::PAGE_SIZE_CEILING);
    1 + usize::try_from(size.div_ceil(10)).unwrap_or(usize::MAX).saturating_mul(child_complexity)
}
