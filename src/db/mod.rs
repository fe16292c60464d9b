//! The database: connecting, migrating, and the SQL of each domain.
//!
//! Nothing here knows about GraphQL. [`task`] owns every statement on `tasks`
//! (and `task_creations`), each write through a [`Writer`]; [`user`] only ever
//! reads Better Auth's tables.

pub mod jwks;
mod migrate;
pub mod seed;
pub mod task;
pub mod user;
mod write;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement};
use secrecy::{ExposeSecret, SecretString};

pub use self::migrate::{MIGRATION_LOCK_KEY, MIGRATION_LOCK_TIMEOUT, migrate, migrate_if_pending, migrate_within};
use crate::config::{Backend, DatabaseConfig};

pub use write::{Writer, stopped_by_timeout};

/// Counts the SQL statements the pool runs, for tests, benchmarks and metrics.
#[derive(Clone, Default, Debug)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Statements run so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Opens the pool, retrying while the server is unreachable (a Neon compute that
/// scaled to zero takes a moment to wake) for at most `connect_retry`.
///
/// The pool keeps no idle connection (`min_connections` 0, `idle_timeout`), so an
/// idle service lets Neon suspend its compute.
///
/// # Errors
/// When the URL is unusable, credentials are refused, or the server stays unreachable.
pub async fn connect(config: &DatabaseConfig) -> Result<(DatabaseConnection, StatementCounter), DbErr> {
    let mut options = options(config);
    // One SQLite connection: writes serialise in the pool instead of failing with
    // SQLITE_BUSY, which a demo database never needs to scale past.
    let max = if config.backend() == Backend::Sqlite { 1 } else { config.max_connections };
    options.max_connections(max).min_connections(0);
    let mut db = connect_with_retry(options, config.connect_retry).await?;
    let counter = StatementCounter::default();
    let count = counter.0.clone();
    db.set_metric_callback(move |_| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    Ok((db, counter))
}

/// How long a pooled connection may have been idle before it is pinged (one round
/// trip, an empty `Sync`) on its way out of the pool. A busy connection is handed
/// out unchecked: a ping before every use doubled the round trips of a one-statement
/// request. One that sat idle this long may have been dropped by the server, a
/// proxy or a firewall, so it is checked first; a connection that dies while in use
/// fails its request (`SERVICE_UNAVAILABLE`, retryable) and leaves the pool.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// What every pool of the service shares: timeouts, lifetimes, no statement logs.
fn options(config: &DatabaseConfig) -> ConnectOptions {
    options_with_url(config, &config.url)
}

/// [`options`] for another URL of the same database (the direct one).
fn options_with_url(config: &DatabaseConfig, url: &SecretString) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.expose_secret().to_owned());
    options
        .acquire_timeout(config.acquire_timeout)
        .connect_timeout(config.acquire_timeout)
        .idle_timeout(config.idle_timeout)
        .max_lifetime(config.max_lifetime)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .sqlx_logging(false);
    options
}

async fn connect_with_retry(options: ConnectOptions, retry: Duration) -> Result<DatabaseConnection, DbErr> {
    if options.get_url().starts_with("sqlite:") {
        // Before SQLite makes the file: it holds the secret and the demo session.
        crate::embedded::restrict_file(options.get_url())
            .map_err(|err| DbErr::Custom(format!("the SQLite file: {err}")))?;
    }
    let deadline = Instant::now() + retry;
    let mut delay = Duration::from_millis(250);
    for attempt in 1.. {
        match Database::connect(options.clone()).await {
            Err(err) if worth_retrying(&err) && Instant::now() + delay < deadline => {
                tracing::warn!(attempt, error = %err, "the database is not reachable yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            result => return result,
        }
    }
    unreachable!("the loop returns")
}

/// Whether the error means "the database could not be reached or would not take a
/// connection now", as opposed to "it refused the statement": `SERVICE_UNAVAILABLE`
/// to a client, safe to retry.
///
/// That includes a pooled connection the server ended while it sat in the pool
/// (a restart, `pg_terminate_backend`): busy connections are not pinged before use
/// ([`PING_IF_IDLE_FOR`]), so its next statement reads the server's goodbye,
/// SQLSTATE class 57P (operator intervention) or 08 (connection exception). The pool
/// drops that connection when it takes it back.
pub fn is_unreachable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
            Error::Database(db) => db.code().is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
            _ => false,
        },
        _ => false,
    }
}

/// Unreachable, and not refused for good: wrong credentials (SQLSTATE class 28) or
/// a database that does not exist (3D000) will not fix themselves.
fn worth_retrying(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    let refused = match err {
        DbErr::Conn(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Error::Database(db) => db.code().is_some_and(|code| code.starts_with("28") || code == "3D000"),
            Error::Configuration(_) => true,
            _ => false,
        },
        _ => false,
    };
    is_unreachable(err) && !refused
}

/// The service's own tables, which `/ready` requires beside the Better Auth tables
/// it reads (the user and session tables, under whatever names they have).
pub const OWN_TABLES: [&str; 2] = ["tasks", "task_creations"];

/// The tables the service reads that are missing: `better_auth` (the user and
/// session tables) and [`OWN_TABLES`].
///
/// # Errors
/// When the database does not answer.
pub async fn missing_tables<'t>(db: &DatabaseConnection, better_auth: [&'t str; 2]) -> Result<Vec<&'t str>, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        _ => {
            "SELECT c.relname AS name FROM pg_class c WHERE c.relkind IN ('r', 'p', 'v') AND pg_table_is_visible(c.oid)"
        }
    };
    let present: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect::<Result<_, _>>()?;
    Ok(better_auth.into_iter().chain(OWN_TABLES).filter(|t| !present.iter().any(|p| p == t)).collect())
}
