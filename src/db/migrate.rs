//! Applying migrations once, however many instances start together, also when the
//! only URL given goes through a pooler.
//!
//! Everything runs in one transaction on one connection to
//! [`DatabaseConfig::direct_url`]: a transaction-level advisory lock taken under
//! `SET LOCAL lock_timeout`, every pending migration (each in a savepoint), then
//! `COMMIT`, which is what releases the lock. A transaction keeps one server session
//! even through PgBouncer in transaction mode, so the lock cannot be taken on one
//! session and released on another, and a process that dies leaves no lock behind:
//! the server rolls its transaction back. PostgreSQL DDL is transactional, so a
//! failed migration leaves nothing half-applied either.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait,
};

use crate::config::DatabaseConfig;

/// The key of the PostgreSQL advisory lock held while migrating ("todo-gql" in
/// ASCII). The same key as the session-level lock of earlier versions, so an old
/// and a new release never migrate at once.
pub const MIGRATION_LOCK_KEY: i64 = 0x746f_646f_2d67_716c;

/// How long [`migrate`] waits for the migration lock, or for any lock a migration
/// needs, before it fails: far longer than this service's migrations take, far
/// shorter than a stuck deploy.
pub const MIGRATION_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Applies pending migrations over the direct URL, waiting at most
/// [`MIGRATION_LOCK_TIMEOUT`] for another instance that is migrating.
///
/// When nothing is pending it only reads the migration table, so a restart (or a
/// role that cannot create tables) costs one query and takes no lock.
///
/// # Errors
/// When the database cannot be reached, the lock stays taken past the timeout, or a
/// migration fails; the cause is chained, and nothing of a failed run is kept.
pub async fn migrate(config: &DatabaseConfig) -> anyhow::Result<usize> {
    migrate_within(config, MIGRATION_LOCK_TIMEOUT).await
}

/// [`migrate`] with another lock timeout.
///
/// # Errors
/// As [`migrate`].
pub async fn migrate_within(config: &DatabaseConfig, lock_timeout: Duration) -> anyhow::Result<usize> {
    let mut options = super::options_with_url(config, config.direct_url());
    options.max_connections(1).min_connections(0);
    // Through a pooler without prepared-statement support a statement cached in one
    // transaction may be missing from the next session; this connection reuses none.
    options.map_sqlx_postgres_opts(|pg| pg.statement_cache_capacity(0));
    let db = super::connect_with_retry(options, config.connect_retry)
        .await
        .context("connecting to run migrations (DATABASE_DIRECT_URL, else DATABASE_URL)")?;
    let result = if db.get_database_backend() == DbBackend::Sqlite {
        migrate_sqlite(&db).await
    } else {
        migrate_postgres(&db, lock_timeout).await
    };
    db.close().await.ok();
    result
}

/// [`migrate`], but only when the pool sees a pending migration: a restart costs
/// one read on a connection the pool opened anyway, not a connection of its own.
///
/// # Errors
/// As [`migrate`].
pub async fn migrate_if_pending(pool: &DatabaseConnection, config: &DatabaseConfig) -> anyhow::Result<usize> {
    let pending = Migrator::get_pending_migrations_read_only(pool).await.context("reading the migration table")?;
    if pending.is_empty() { Ok(0) } else { migrate(config).await }
}

/// SQLite locks the file itself while a migration's transaction writes.
async fn migrate_sqlite(db: &DatabaseConnection) -> anyhow::Result<usize> {
    let pending = Migrator::get_pending_migrations_read_only(db).await.context("reading the migration table")?;
    if pending.is_empty() {
        return Ok(0);
    }
    let pending = Migrator::get_pending_migrations(db).await?.len();
    Migrator::up(db, None).await.context("applying migrations")?;
    Ok(pending)
}

async fn migrate_postgres(db: &DatabaseConnection, lock_timeout: Duration) -> anyhow::Result<usize> {
    let txn = db.begin().await.context("starting the migration transaction")?;
    let result = async {
        drop_strays(&txn).await?;
        let applied = migrate_locked(&txn, lock_timeout).await?;
        drop_strays(&txn).await?;
        Ok(applied)
    }
    .await;
    match result {
        Ok(applied) => {
            // Releases the lock; a failed commit applied nothing.
            txn.commit().await.context("committing the migrations")?;
            Ok(applied)
        }
        Err(err) => {
            txn.rollback().await.ok();
            Err(err)
        }
    }
}

async fn migrate_locked(txn: &DatabaseTransaction, lock_timeout: Duration) -> anyhow::Result<usize> {
    let pending = Migrator::get_pending_migrations_read_only(txn).await.context("reading the migration table")?;
    if pending.is_empty() {
        return Ok(0);
    }
    lock(txn, lock_timeout).await?;
    // Another instance may have applied them while this one waited for the lock.
    let pending = Migrator::get_pending_migrations(txn).await.context("reading the migration table")?.len();
    Migrator::up(txn, None).await.context("applying migrations")?;
    Ok(pending)
}

/// Takes the transaction-level lock, waiting at most `timeout` (which then bounds
/// every other lock wait of the transaction too).
async fn lock(txn: &DatabaseTransaction, timeout: Duration) -> anyhow::Result<()> {
    // LOCAL: gone with the transaction, never left on a pooled server session.
    txn.execute_unprepared(&format!("SET LOCAL lock_timeout = {}", timeout.as_millis().max(1)))
        .await
        .context("setting the lock timeout")?;
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [MIGRATION_LOCK_KEY.into()],
    );
    match txn.execute_raw(statement).await {
        Ok(_) => Ok(()),
        Err(err) if is_lock_timeout(&err) => Err(anyhow!(
            "gave up after {} s waiting for the migration lock: another `todo-graphql migrate` is still \
             running, or a session holds the lock (find it with SELECT pid FROM pg_locks WHERE \
             locktype = 'advisory' AND classid = {} AND objid = {}, end it with pg_terminate_backend(pid))",
            timeout.as_secs_f32(),
            MIGRATION_LOCK_KEY >> 32,
            MIGRATION_LOCK_KEY & 0xffff_ffff,
        )),
        Err(err) => Err(err).context("taking the migration lock"),
    }
}

/// SQLSTATE 55P03, `lock_not_available`: `lock_timeout` ran out.
fn is_lock_timeout(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error().and_then(|db| db.code()).is_some_and(|code| code == "55P03")
        }
        _ => false,
    }
}

/// Deallocates prepared statements that sqlx clients left on this server session.
///
/// Only a pooler without prepared-statement support (PgBouncer before 1.21, or
/// `max_prepared_statements = 0`) hands a session over with another client's
/// `sqlx_s_N` still there, and this connection's own statements would then clash
/// with them ("prepared statement … already exists"). Run at the start and, for
/// the next client, at the end. A direct session has none; a pooler that tracks
/// prepared statements names them its own way (`PGBOUNCER_N`), which this leaves be.
/// Sent as a simple query, so it prepares nothing itself.
async fn drop_strays(txn: &DatabaseTransaction) -> anyhow::Result<()> {
    txn.execute_unprepared(
        r"DO $$DECLARE s text; BEGIN
            FOR s IN SELECT name FROM pg_prepared_statements WHERE name LIKE 'sqlx\_s\_%' LOOP
              EXECUTE format('DEALLOCATE %I', s);
            END LOOP;
          END$$",
    )
    .await
    .context("clearing prepared statements left on a pooled session")?;
    Ok(())
}
