//! Building the application from a [`Config`] and running it until stopped. The
//! same path serves `main` and the tests.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::Router;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
};

use crate::{
    auth::{CookieCache, JwtVerifier, SessionReader},
    config::{Backend, Config},
    db::{self, StatementCounter},
    events::{self, Hub},
    graphql::{self, documents::Documents},
    http::{
        self, AppState, Guards,
        rate_limit::RateLimit,
        server::{self, ServeOptions},
        ws::{self, Sockets},
    },
    observability::metrics::{self as monitoring, MetricsSource},
};

/// A bound, ready-to-serve service.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `/metrics` on its own listener, when `METRICS_ADDR` is set.
    metrics: Option<(TcpListener, Router)>,
    serve: ServeOptions,
    db: DatabaseConnection,
    statements: StatementCounter,
    drain: Duration,
    demo: Option<Demo>,
    /// The LISTEN connection's task, on PostgreSQL.
    listen: Option<tokio::task::JoinHandle<()>>,
    hub: Hub,
    /// Turns true on a stop signal; the accept loops and every WebSocket watch it.
    stopping: watch::Sender<bool>,
    /// Closes (`None`) once every WebSocket has ended.
    sockets_closed: mpsc::Receiver<()>,
}

pub use crate::embedded::Demo;

impl Application {
    /// Connects to the database, applies migrations when configured to, and binds
    /// `host:port` (port 0 picks a free one).
    ///
    /// # Errors
    /// When the database cannot be reached, a migration fails, or the port is taken.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let (db, statements) = db::connect(&config.database).await.context("connecting to the database")?;
        if config.run_migrations {
            let applied = db::migrate_if_pending(&db, &config.database).await?;
            if applied > 0 {
                tracing::info!(applied, "applied migrations");
            }
        }
        monitoring::recorder();
        let configured = config.better_auth_secret.as_ref().map(|secret| secret.expose_secret());
        let embedded = match config.database.backend() {
            Backend::Sqlite => {
                Some(crate::embedded::prepare(&db, configured).await.context("preparing the embedded database")?)
            }
            Backend::Postgres => None,
        };
        let secret = match &embedded {
            Some(embedded) => embedded.secret.as_str(),
            None => config.postgres_secret()?,
        };
        let users = db::user::Users::prepare(&db, &config.better_auth_schema).await?;
        let demo = embedded.as_ref().map(|e| Demo { email: e.demo_email.clone(), token: e.demo_token.clone() });
        let hub = Hub::new(config.database.backend() == Backend::Sqlite);
        let listen = (config.database.backend() == Backend::Postgres)
            .then(|| events::listen::spawn(hub.clone(), &config.database));
        let sessions = SessionReader::new(secret, &config.cookie_prefix).with_others(
            config.tokens.jwt.as_ref().map(JwtVerifier::new).transpose().context("preparing JWT verification")?,
            config.tokens.cookie_cache.clone().map(|cache| CookieCache::new(cache, secret, &config.cookie_prefix)),
        );
        let guards = Guards {
            // Embedded mode is one person trying the service on their own machine.
            rate_limit: match config.database.backend() {
                Backend::Postgres => RateLimit::start(&config.traffic.rate_limits, sessions.clone()),
                Backend::Sqlite => None,
            },
            body_read_timeout: config.traffic.body_read_timeout,
        };
        let (stopping, stopped) = watch::channel(false);
        let (sockets, sockets_closed) =
            Sockets::new(config.subscriptions.clone(), &config.cors_origins, config.traffic.max_connections, stopped);
        let state = AppState {
            schema: graphql::build(db.clone(), users.clone(), secret, &config.limits, hub.clone()),
            db: db.clone(),
            sessions,
            users,
            documents: Arc::new(Documents::new(&config.limits)),
            limits: config.limits.clone(),
            operation_names: Arc::default(),
            graphiql: demo.as_ref().map(crate::embedded::graphiql_defaults),
            sockets,
        };
        let metrics = MetricsSource { db: db.clone(), statements: statements.clone() };
        let (router, metrics) = match config.metrics_addr {
            None => (http::router(state, Some(metrics), &config.cors_origins, guards), None),
            Some(address) => {
                let listener = bind(address).await?;
                (
                    http::router(state, None, &config.cors_origins, guards),
                    Some((listener, http::metrics_router(metrics))),
                )
            }
        };
        let listener = bind(SocketAddr::new(config.host, config.port)).await?;
        let serve = ServeOptions {
            header_read_timeout: config.traffic.header_read_timeout,
            max_connections: config.traffic.max_connections,
        };
        Ok(Self {
            listener,
            router,
            metrics,
            serve,
            db,
            statements,
            drain: config.shutdown_drain,
            demo,
            listen,
            hub,
            stopping,
            sockets_closed,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The port `/metrics` is served on, when `METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().and_then(|(listener, _)| listener.local_addr().ok()).map(|a| a.port())
    }

    /// The demo account, in embedded mode.
    pub fn demo(&self) -> Option<&Demo> {
        self.demo.as_ref()
    }

    /// The hub that carries task changes to this instance's subscriptions.
    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }

    /// Counts the SQL statements the service runs.
    pub fn statements(&self) -> StatementCounter {
        self.statements.clone()
    }

    /// Serves until SIGINT or SIGTERM; then stops accepting, lets in-flight requests
    /// finish for at most the drain time, and closes the pool.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let stopping = self.stopping;
        let stopped = stopping.subscribe();
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stopping.send(true);
        });
        let main = server::serve(self.listener, self.router, self.serve.clone(), stopped.clone());
        let metrics = async {
            if let Some((listener, router)) = self.metrics {
                server::serve(listener, router, self.serve.clone(), stopped.clone()).await;
            }
        };
        let drain = self.drain;
        let mut signalled = stopped.clone();
        let deadline = async move {
            let _ = signalled.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(drain).await;
        };
        // Upgraded connections have left hyper's graceful shutdown: each WebSocket
        // sends its close frame (1001) on the same signal and is waited for here.
        let sockets = ws::wait_closed(self.sockets_closed);
        tokio::select! {
            ((), (), ()) = async { tokio::join!(main, metrics, sockets) } => {},
            () = deadline => tracing::warn!(drain_secs = drain.as_secs(), "requests still running after the drain time were cut off"),
        }
        if let Some(listen) = self.listen {
            listen.abort();
        }
        self.db.close().await.context("closing the database pool")?;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| format!("binding {address}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("stop signal received; draining");
}
