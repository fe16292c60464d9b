//! Lists by key, never by offset: the order, a row's position in it, and one page.

use chrono::{DateTime, Utc};
use entity::tasks::{Column, Entity, Model};
use sea_orm::{
    DatabaseConnection, DbErr, EntityTrait, ExprTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, SimpleExpr},
};
use uuid::Uuid;

use super::{Filter, filter_condition};

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
    let column = sort_column(sort.field);
    let mut condition = filter_condition(db.get_database_backend(), user_id, filter);
    if let Some(after) = &window.after {
        condition = condition.add(beyond(column, after, !sort.descending));
    }
    if let Some(before) = &window.before {
        condition = condition.add(beyond(column, before, sort.descending));
    }
    // Reading from the end means reading the reversed order from its start.
    let order = if sort.descending != window.from_end { Order::Desc } else { Order::Asc };
    // Decoded by position, not by column name: the rows are the hot path, and
    // `Entity::find()` selects the columns in the model's order.
    let rows: Vec<Row> = Entity::find()
        .filter(condition)
        .order_by(column, order.clone())
        .order_by(Column::Id, order)
        .limit(window.limit + 1)
        .into_tuple()
        .all(db)
        .await?;
    let mut tasks: Vec<Model> = rows.into_iter().map(model).collect();
    let has_more = tasks.len() as u64 > window.limit;
    tasks.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
    if window.from_end {
        tasks.reverse();
    }
    Ok(Page { tasks, has_more })
}

/// A `tasks` row, its columns in the order of [`Model`]'s fields.
type Row = (Uuid, String, Option<String>, bool, String, DateTime<Utc>, DateTime<Utc>);

fn model((id, title, description, completed, user_id, created_at, updated_at): Row) -> Model {
    Model { id, title, description, completed, user_id, created_at, updated_at }
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
