//! Building the application from a [`Config`] and running it until stopped. The
//! same path serves `main` and the tests.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::Router;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::{
    auth::SessionReader,
    config::{Backend, Config},
    db::{self, StatementCounter},
    graphql,
    http::{self, AppState, GraphiqlDefaults, PersistedQueries},
    monitoring::{self, MetricsSource},
};

/// A bound, ready-to-serve service.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: DatabaseConnection,
    statements: StatementCounter,
    drain: Duration,
    demo: Option<Demo>,
}

/// The demo account of embedded mode, for the banner.
#[derive(Clone)]
pub struct Demo {
    /// Its e-mail address.
    pub email: String,
    /// A long-lived session token for it.
    pub token: String,
}

/// The query GraphiQL opens with in embedded mode.
pub const DEMO_QUERY: &str = "{\n  me { email }\n  tasks { nodes { title completed } totalCount }\n}\n";

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
                Some(db::embedded::prepare(&db, configured).await.context("preparing the embedded database")?)
            }
            Backend::Postgres => None,
        };
        let secret = match (&embedded, configured) {
            (Some(embedded), _) => embedded.secret.as_str(),
            (None, Some(secret)) => secret,
            (None, None) => anyhow::bail!("BETTER_AUTH_SECRET is required with PostgreSQL"),
        };
        let demo = embedded.as_ref().map(|e| Demo { email: e.demo_email.clone(), token: e.demo_token.clone() });
        let state = AppState {
            schema: graphql::build(db.clone(), secret, &config.limits),
            db: db.clone(),
            sessions: SessionReader::new(secret, &config.cookie_prefix),
            persisted: Arc::new(PersistedQueries::new(config.limits.apq_cache_size)),
            limits: config.limits.clone(),
            operation_names: Arc::default(),
            graphiql: demo.as_ref().map(|demo| GraphiqlDefaults {
                headers: serde_json::json!({ "Authorization": format!("Bearer {}", demo.token) }),
                query: DEMO_QUERY.to_owned(),
            }),
        };
        let metrics = MetricsSource { db: db.clone(), statements: statements.clone() };
        let router = http::router(state, metrics, &config.cors_origins);
        let address = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
        Ok(Self { listener, router, db, statements, drain: config.shutdown_drain, demo })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The demo account, in embedded mode.
    pub fn demo(&self) -> Option<&Demo> {
        self.demo.as_ref()
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
        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        let server = axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                let _ = stopping.send(true);
            });
        let drain = self.drain;
        let deadline = async move {
            let _ = stopped.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(drain).await;
        };
        tokio::select! {
            result = server => result.context("serving HTTP")?,
            () = deadline => tracing::warn!(drain_secs = drain.as_secs(), "requests still running after the drain time were cut off"),
        }
        self.db.close().await.context("closing the database pool")?;
        tracing::info!("stopped");
        Ok(())
    }
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
