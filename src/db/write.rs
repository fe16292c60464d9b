//! Writes: each runs in a transaction whose statements PostgreSQL itself stops
//! after `statement_timeout`, so a write is never cut off by the service half-way
//! and one that was stopped certainly rolled back.

use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, RuntimeErr, Statement,
    TransactionTrait, sqlx,
};

/// SQLSTATE `query_canceled`: what PostgreSQL answers when `statement_timeout`
/// stops a statement.
const QUERY_CANCELED: &str = "57014";

/// The pool, for writes.
#[derive(Clone, Debug)]
pub struct Writer {
    pool: DatabaseConnection,
    statement_timeout: Duration,
}

impl Writer {
    /// Writes through `pool`, each statement bounded by `statement_timeout`.
    pub fn new(pool: DatabaseConnection, statement_timeout: Duration) -> Self {
        Self { pool, statement_timeout }
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// The backend the pool talks to.
    pub fn backend(&self) -> DbBackend {
        self.pool.get_database_backend()
    }

    /// Begins a write transaction. On PostgreSQL it sets `statement_timeout` for
    /// this transaction only (`set_config(…, true)` is `SET LOCAL`), which holds
    /// behind PgBouncer's transaction mode, where a session setting would leak to
    /// whoever gets the server connection next. SQLite has no such setting; its
    /// single connection waits at most `busy_timeout` for the file lock.
    ///
    /// # Errors
    /// When the database fails; nothing was written.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let transaction = self.pool.begin().await?;
        if self.backend() == DbBackend::Postgres {
            let millis = self.statement_timeout.as_millis().to_string();
            transaction
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT set_config('statement_timeout', $1, true)",
                    [millis.into()],
                ))
                .await?;
        }
        Ok(transaction)
    }

    /// Commits. A connection lost while committing leaves the outcome unknown:
    /// that error is turned into one that is not "unavailable, nothing written".
    ///
    /// # Errors
    /// When the commit fails or its outcome is unknown.
    pub async fn commit(transaction: DatabaseTransaction) -> Result<(), DbErr> {
        transaction.commit().await.map_err(|err| {
            if super::is_unreachable(&err) {
                DbErr::Custom(format!("the connection failed while committing; the write may have been applied: {err}"))
            } else {
                err
            }
        })
    }
}

/// Whether PostgreSQL stopped the statement (its `statement_timeout`): the
/// transaction rolled back, so nothing was written and a retry is safe.
pub fn stopped_by_timeout(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(e.as_ref(), sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED))
        }
        _ => false,
    }
}
