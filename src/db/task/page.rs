//! Lists by key, never by offset: the order, a row's position in it, and one page.

use chrono::{DateTime, Utc};
use entity::tasks::{Column, Entity, Model};
use entity::user;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, ExprTrait, IdenStatic, Order, QueryFilter,
    QueryOrder, QueryResult, QueryTrait, Statement,
    sea_query::{Expr, SimpleExpr},
};
use uuid::Uuid;

use super::{Filter, Owner, filter_condition};
use crate::db::user::{LiveSession, SESSION_COLUMNS, SessionLookup, Users, first_by_token};

/// The column a list is ordered by; `id` always breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// `created_at`
    CreatedAt,
    /// `updated_at`
    UpdatedAt,
    /// `title`
    Title,
}

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The column.
    pub field: SortField,
    /// Largest first.
    pub descending: bool,
}

/// The value of the sort column at a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyValue {
    /// For `created_at` and `updated_at`, exactly as stored.
    Time(DateTime<Utc>),
    /// For `title`.
    Text(String),
}

/// A row's position in an order: the sort column's value, then the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The sort column's value.
    pub value: KeyValue,
    /// The row's id.
    pub id: Uuid,
}

impl Key {
    /// Where `task` stands when ordered by `field`.
    pub fn of(task: &Model, field: SortField) -> Self {
        let value = match field {
            SortField::CreatedAt => KeyValue::Time(task.created_at),
            SortField::UpdatedAt => KeyValue::Time(task.updated_at),
            SortField::Title => KeyValue::Text(task.title.clone()),
        };
        Self { value, id: task.id }
    }
}

/// Which slice of an ordered list to read.
#[derive(Debug, Clone)]
pub struct Window {
    /// Rows strictly after this key.
    pub after: Option<Key>,
    /// Rows strictly before this key.
    pub before: Option<Key>,
    /// How many rows.
    pub limit: u64,
    /// Take them from the end of the window instead of its start.
    pub from_end: bool,
}

/// A page of tasks in list order.
#[derive(Debug)]
pub struct Page {
    /// The tasks, in the requested order.
    pub tasks: Vec<Model>,
    /// Whether the window holds more rows beyond `limit`, on the side read from.
    pub has_more: bool,
}

/// One page, by key (never by offset): one statement.
///
/// # Errors
/// When the database fails.
pub async fn page(
    db: &DatabaseConnection,
    user_id: &str,
    filter: &Filter,
    sort: Sort,
    window: &Window,
) -> Result<Page, DbErr> {
    let statement = page_statement(db.get_database_backend(), Owner::Id(user_id), filter, sort, window);
    let rows = db.query_all_raw(statement).await?;
    let tasks = rows.iter().map(|row| task_at(row, 0)).collect::<Result<Vec<_>, _>>()?;
    Ok(page_from(tasks, window))
}

/// What the session lookup is called inside [`page_of_session`]'s statement.
pub(super) const SESSION: &str = "v";

/// The live session of the first of `tokens` that names one, its user, and a page
/// of that user's tasks: the session lookup and the page in one statement, so a
/// signed-in request for a page is one round trip to PostgreSQL, not two. `None`
/// when no token names a live session (nor a user who may sign in). PostgreSQL only.
///
/// The page is [`page`]'s statement, joined laterally to each session found, so
/// the session's columns come first in every row, then the task's (all null when
/// the window is empty); rows are in the page's order.
///
/// # Errors
/// When the database fails; on SQLite, which has no lateral join.
pub async fn page_of_session(
    db: &DatabaseConnection,
    users: &Users,
    tokens: &[String],
    now: DateTime<Utc>,
    filter: &Filter,
    sort: Sort,
    window: &Window,
) -> Result<Option<(user::Model, Page)>, DbErr> {
    let lookup = users.session_lookup(tokens, now)?;
    let tokens = lookup.tokens;
    let rows = db.query_all_raw(page_of_session_statement(lookup, filter, sort, window)).await?;
    let mut found: Vec<(LiveSession, (user::Model, Vec<Model>))> = Vec::new();
    for row in &rows {
        let (session, user) = Users::live_session_at(row, 0)?;
        let task = match row.try_get_by_index::<Option<Uuid>>(SESSION_COLUMNS)? {
            Some(_) => Some(task_at(row, SESSION_COLUMNS)?),
            None => None,
        };
        let index = match found.iter().position(|(known, _)| known.token == session.token) {
            Some(index) => index,
            None => {
                found.push((session, (user, Vec::new())));
                found.len() - 1
            }
        };
        found[index].1.1.extend(task);
    }
    Ok(first_by_token(tokens, found).map(|(_, (user, tasks))| (user, page_from(tasks, window))))
}

/// [`page_of_session`]'s statement (public for the test that reads its plan).
#[doc(hidden)]
pub fn page_of_session_statement(lookup: SessionLookup<'_>, filter: &Filter, sort: Sort, window: &Window) -> Statement {
    let page = page_statement(DbBackend::Postgres, Owner::OfSession, filter, sort, window);
    let direction = if page_order(sort, window) == Order::Desc { "DESC" } else { "ASC" };
    let sql = format!(
        "WITH {SESSION} AS ({lookup}) SELECT {SESSION}.*, p.* FROM {SESSION} LEFT JOIN LATERAL ({page}) AS p ON TRUE \
         ORDER BY p.\"{column}\" {direction}, p.\"{id}\" {direction}",
        lookup = lookup.sql,
        page = shift_placeholders(&page.sql, lookup.values.len()),
        column = sort_column(sort.field).as_str(),
        id = Column::Id.as_str(),
    );
    let mut values = lookup.values;
    values.extend(page.values.map(|values| values.0).unwrap_or_default());
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The page's statement: its rows one past the window's size, so that whether more
/// follow is known.
fn page_statement(backend: DbBackend, owner: Owner<'_>, filter: &Filter, sort: Sort, window: &Window) -> Statement {
    let column = sort_column(sort.field);
    let mut condition = filter_condition(backend, owner, filter);
    if let Some(after) = &window.after {
        condition = condition.add(beyond(column, after, !sort.descending));
    }
    if let Some(before) = &window.before {
        condition = condition.add(beyond(column, before, sort.descending));
    }
    let order = page_order(sort, window);
    let mut statement =
        Entity::find().filter(condition).order_by(column, order.clone()).order_by(Column::Id, order).build(backend);
    // The row count is written into the text, not bound. Bound (`LIMIT $n`), the
    // generic plan guesses a tenth of the user's rows and so loses to every custom
    // plan: PostgreSQL planned the page anew on each execution, about 40 µs of its
    // CPU a page. Written in, the generic plan is the custom one and is kept. It is
    // a number from `Window` (1 to the page ceiling, plus one), never client text.
    statement.sql.push_str(&format!(" LIMIT {}", window.limit + 1));
    statement
}

/// Reading from the end means reading the reversed order from its start.
fn page_order(sort: Sort, window: &Window) -> Order {
    if sort.descending != window.from_end { Order::Desc } else { Order::Asc }
}

/// The page from its rows as read (one more than the window's size when more follow).
fn page_from(mut tasks: Vec<Model>, window: &Window) -> Page {
    let has_more = tasks.len() as u64 > window.limit;
    tasks.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
    if window.from_end {
        tasks.reverse();
    }
    Page { tasks, has_more }
}

/// A task from the columns of `row` from position `start`, in [`Model`]'s order
/// (`Entity::find()` selects them so): by position, not by name, as the rows are
/// the hot path.
fn task_at(row: &QueryResult, start: usize) -> Result<Model, DbErr> {
    Ok(Model {
        id: row.try_get_by_index(start)?,
        title: row.try_get_by_index(start + 1)?,
        description: row.try_get_by_index(start + 2)?,
        completed: row.try_get_by_index(start + 3)?,
        user_id: row.try_get_by_index(start + 4)?,
        created_at: row.try_get_by_index(start + 5)?,
        updated_at: row.try_get_by_index(start + 6)?,
    })
}

/// `sql` with every placeholder `$n` renumbered `$(n + by)`, so that a statement
/// built on its own can follow another's values. Quoted names and string literals
/// are copied as they are.
fn shift_placeholders(sql: &str, by: usize) -> String {
    let mut shifted = String::with_capacity(sql.len() + 8);
    let mut quote = None;
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '$') if chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) => {
                let mut n = 0usize;
                while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                    n = n.saturating_mul(10).saturating_add(d as usize - '0' as usize);
                    chars.next();
                }
                shifted.push('$');
                shifted.push_str(&(n + by).to_string());
                continue;
            }
            _ => {}
        }
        shifted.push(c);
    }
    shifted
}

fn sort_column(field: SortField) -> Column {
    match field {
        SortField::CreatedAt => Column::CreatedAt,
        SortField::UpdatedAt => Column::UpdatedAt,
        SortField::Title => Column::Title,
    }
}

/// Rows on the far side of `key`: greater when `greater`, else smaller, comparing
/// `(column, id)` as a row so PostgreSQL can use the index.
fn beyond(column: Column, key: &Key, greater: bool) -> SimpleExpr {
    let value = match &key.value {
        KeyValue::Time(time) => Expr::val(*time),
        KeyValue::Text(text) => Expr::val(text.clone()),
    };
    let row = Expr::tuple([Expr::col(column), Expr::col(Column::Id)]);
    let at = Expr::tuple([value, Expr::val(key.id)]);
    if greater { row.gt(at) } else { row.lt(at) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    #[test]
    fn placeholders_shift_outside_quotes_only() {
        assert_eq!(
            shift_placeholders(r#"SELECT "a$1" FROM t WHERE x = $1 AND y = '$2' AND z IN ($2, $10)"#, 3),
            r#"SELECT "a$1" FROM t WHERE x = $4 AND y = '$2' AND z IN ($5, $13)"#
        );
        assert_eq!(shift_placeholders("LIMIT 21", 5), "LIMIT 21");
    }

    #[test]
    fn page_query_is_keyset_not_offset() {
        let key = Key { value: KeyValue::Time(Utc::now()), id: Uuid::nil() };
        let sql = Entity::find()
            .filter(beyond(Column::CreatedAt, &key, false))
            .build(sea_orm::DatabaseBackend::Postgres)
            .to_string();
        // `str::contains`: ExprTrait, in scope here, has a `contains` of its own.
        assert!(str::contains(&sql, r#"("created_at", "id") <"#), "{sql}");
        assert!(!str::contains(&sql.to_uppercase(), "OFFSET"), "{sql}");
    }
}
