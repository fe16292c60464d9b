//! The LISTEN side of the PostgreSQL fan-out: at most one connection per
//! instance, on `DATABASE_DIRECT_URL` (a transaction-mode pooler such as Neon's
//! cannot hold a LISTEN), open only while someone is subscribed.
//!
//! - Opened when the hub's subscriber count goes above 0; closed
//!   `LISTEN_IDLE_CLOSE_SECS` after it returns to 0, so an idle service lets Neon
//!   suspend.
//! - When the connection drops (Neon suspending, a restart, `pg_terminate_backend`)
//!   it is opened again, with backoff while that fails; subscriptions stay as they
//!   are (events sent while it was down are not replayed). A connection that went
//!   silent (a network path lost without a reset) is found by a `SELECT 1` every
//!   [`Checks::DEFAULT`] interval that must answer in time.
//! - What arrives is decoded and handed to [`Hub::deliver`]; the subscriptions
//!   filter by user, and the resolver loads the task.
//!
//! Metrics: `subscriptions_live`, `listen_connection_up` (0 or 1),
//! `listen_connection_drops_total`.

use std::{str::FromStr, time::Duration};

use sea_orm::sqlx::{
    self,
    postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions},
};
use secrecy::ExposeSecret;
use tokio::{
    sync::watch,
    task::{JoinHandle, JoinSet},
    time::sleep,
};

use super::{Hub, notify};
use crate::config::DatabaseConfig;

/// The `application_name` of the LISTEN connection, to find it in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "todo-graphql-listen";
/// Longest wait for the connection to open (a suspended Neon compute takes a few seconds to wake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a closing connection to say goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// First wait before opening again after a failure; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
/// Longest wait between attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// How often, and how patiently, the open LISTEN connection is checked.
#[derive(Clone, Copy, Debug)]
pub struct Checks {
    /// Time between checks.
    pub every: Duration,
    /// Longest wait for an answer before the connection counts as lost.
    pub timeout: Duration,
}

impl Checks {
    /// Every 30 s, answered within 10 s.
    pub const DEFAULT: Self = Self { every: Duration::from_secs(30), timeout: Duration::from_secs(10) };
}

/// Runs the instance's LISTEN connection for `hub`, following its subscribers,
/// until the task is aborted.
pub fn spawn(hub: Hub, database: &DatabaseConfig) -> JoinHandle<()> {
    spawn_with_checks(hub, database, Checks::DEFAULT)
}

/// [`spawn`], checking the connection as `checks` says.
pub fn spawn_with_checks(hub: Hub, database: &DatabaseConfig, checks: Checks) -> JoinHandle<()> {
    let options = PgConnectOptions::from_str(database.direct_url().expose_secret())
        .map(|options| options.application_name(APPLICATION_NAME));
    let idle_close = database.listen_idle_close;
    tokio::spawn(async move {
        let Ok(options) = options else {
            // Not expected: the URL was checked at start-up and the pool connected with it.
            tracing::error!("DATABASE_DIRECT_URL cannot be used to LISTEN; subscriptions get no events");
            return;
        };
        tokio::join!(count_subscribers(hub.subscribers()), follow(hub, options, idle_close, checks));
    })
}

/// Keeps `subscriptions_live` equal to the hub's count.
async fn count_subscribers(mut subscribers: watch::Receiver<usize>) {
    loop {
        metrics::gauge!("subscriptions_live").set(*subscribers.borrow_and_update() as f64);
        if subscribers.changed().await.is_err() {
            return;
        }
    }
}

/// Opens the connection when there are subscribers, closes it once idle, and
/// opens it again when it drops.
async fn follow(hub: Hub, options: PgConnectOptions, idle_close: Duration, checks: Checks) {
    let mut subscribers = hub.subscribers();
    // The wait before the next attempt to open: zero at first and after a
    // connection that lasted, growing while attempts fail or connections drop at once.
    let mut backoff = Duration::ZERO;
    loop {
        metrics::gauge!("listen_connection_up").set(0.0);
        if subscribers.wait_for(|n| *n > 0).await.is_err() {
            return;
        }
        let Some(Connection { pool, listener }) = open_with_backoff(&options, &mut subscribers, &mut backoff).await
        else {
            backoff = Duration::ZERO;
            continue;
        };
        metrics::gauge!("listen_connection_up").set(1.0);
        tracing::info!("LISTEN connection open");
        let opened = tokio::time::Instant::now();
        // A set of one: dropped with this task (aborted at shutdown), it aborts the receiver.
        let mut receiving = JoinSet::new();
        receiving.spawn(receive(listener, hub.clone(), checks));
        tokio::select! {
            _ = receiving.join_next() => {
                metrics::counter!("listen_connection_drops_total").increment(1);
                backoff = if opened.elapsed() < BACKOFF_MAX { next(backoff) } else { Duration::ZERO };
            }
            () = idle(&mut subscribers, idle_close) => {
                // Dropping the listener (in the aborted task) ends its LISTEN.
                receiving.abort_all();
                while receiving.join_next().await.is_some() {}
                tracing::info!("LISTEN connection closed: no subscribers");
                backoff = Duration::ZERO;
            }
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, pool.close()).await;
    }
}

/// Hands every notification to the hub until the connection fails or a check
/// goes unanswered. (Waiting for a notification is cancel-safe in sqlx: a check
/// interrupts it without losing a message; what arrives meanwhile is buffered.)
async fn receive(mut listener: PgListener, hub: Hub, checks: Checks) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + checks.every, checks.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = listener.try_recv() => match received {
                Ok(Some(notification)) => deliver(&hub, notification.payload()),
                Ok(None) => {
                    tracing::warn!("the LISTEN connection was lost; opening it again");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the LISTEN connection failed; opening it again");
                    return;
                }
            },
            _ = ticks.tick() => {
                let check = tokio::time::timeout(checks.timeout, sqlx::query("SELECT 1").execute(&mut listener));
                match check.await {
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, "the LISTEN connection failed its check; opening it again");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!("the LISTEN connection did not answer its check in time; opening it again");
                        return;
                    }
                }
            }
        }
    }
}

fn deliver(hub: &Hub, payload: &str) {
    match notify::decode(payload) {
        Some(event) => hub.deliver(event),
        None => tracing::warn!(bytes = payload.len(), "ignored a NOTIFY that is not a task event"),
    }
}

/// Returns once there have been no subscribers for `idle_close`.
async fn idle(subscribers: &mut watch::Receiver<usize>, idle_close: Duration) {
    loop {
        if subscribers.wait_for(|n| *n == 0).await.is_err() {
            return;
        }
        tokio::select! {
            () = sleep(idle_close) => return,
            back = subscribers.wait_for(|n| *n > 0) => if back.is_err() { return },
        }
    }
}

/// The pool of one connection under the listener; closed to end the connection.
struct Connection {
    pool: PgPool,
    listener: PgListener,
}

/// Opens the connection, first waiting `backoff` (less some jitter), then
/// retrying with growing waits; `None` when the last subscriber left meanwhile.
async fn open_with_backoff(
    options: &PgConnectOptions,
    subscribers: &mut watch::Receiver<usize>,
    backoff: &mut Duration,
) -> Option<Connection> {
    loop {
        if !backoff.is_zero() {
            tokio::select! {
                () = sleep(jittered(*backoff)) => {}
                _ = subscribers.wait_for(|n| *n == 0) => return None,
            }
        }
        match open(options).await {
            Ok(connection) => return Some(connection),
            Err(err) => {
                *backoff = next(*backoff);
                tracing::warn!(error = %err, retry_ms = backoff.as_millis() as u64, "could not open the LISTEN connection");
            }
        }
    }
}

/// The wait after `backoff`: [`BACKOFF_FIRST`], then doubling up to [`BACKOFF_MAX`].
fn next(backoff: Duration) -> Duration {
    if backoff.is_zero() { BACKOFF_FIRST } else { (backoff * 2).min(BACKOFF_MAX) }
}

async fn open(options: &PgConnectOptions) -> Result<Connection, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options.clone())
        .await?;
    let listening = async {
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.eager_reconnect(false);
        listener.listen(notify::CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => Ok(Connection { pool, listener }),
        Err(err) => {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, pool.close()).await;
            Err(err)
        }
    }
}

/// `wait` less up to a quarter, so instances that lost the database together do
/// not come back in step.
fn jittered(wait: Duration) -> Duration {
    let random = (uuid::Uuid::new_v4().as_u128() % 1000) as u32;
    wait - wait / 4 * random / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_small_and_doubles_up_to_its_ceiling() {
        let waits: Vec<Duration> = std::iter::successors(Some(Duration::ZERO), |b| Some(next(*b))).take(9).collect();
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [0, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    }

    #[test]
    fn jitter_takes_off_at_most_a_quarter() {
        for _ in 0..1000 {
            let wait = jittered(Duration::from_secs(4));
            assert!((Duration::from_secs(3)..=Duration::from_secs(4)).contains(&wait), "{wait:?}");
        }
    }
}
