//! The command line: subcommands, and every setting as a flag that falls back to
//! the environment variable of the same name. Values stay text here; [`super`]
//! checks them.

use clap::{Args, Parser, Subcommand};

/// The command line.
#[derive(Parser)]
#[command(name = "todo-graphql", version, about = "GraphQL API for a Better Auth todo app")]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub settings: Settings,
}

/// The subcommands.
#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Run migrations (unless told not to), then serve HTTP until SIGINT or SIGTERM.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to standard output and exit.
    PrintSchema,
    /// Add demo tasks for existing Better Auth users (batched, one transaction per batch).
    Seed(SeedArgs),
}

/// What `seed` adds.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct SeedArgs {
    /// A Better Auth user id to add tasks for; repeat for several. Users belong to
    /// Better Auth, so with PostgreSQL this is the only way to name them.
    #[arg(long = "user-id")]
    pub user_ids: Vec<String>,
    /// Embedded mode only: how many demo users (with sessions) to create first.
    #[arg(long, conflicts_with = "user_ids", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub users: Option<u32>,
    /// How many tasks each user gets.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub tasks_per_user: u32,
}

/// Raw settings as `clap` read them; turned into a [`Config`] by [`Config::from_settings`].
#[derive(Args, Default)]
pub struct Settings {
    /// `postgres://…` (Neon: the pooled URL) or `sqlite://…`; an embedded SQLite
    /// file, `todo-graphql.db`, when not set.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// Neon's direct (non-pooled) URL to the same database, for `migrate`: a
    /// migration needs one server session throughout, which a pooler in transaction
    /// mode does not give. `DATABASE_URL` when not set.
    #[arg(long, env = "DATABASE_DIRECT_URL", hide_env_values = true, global = true)]
    pub database_direct_url: Option<String>,
    /// Whether a missing `DATABASE_URL` means the embedded SQLite file (`false` in
    /// the Docker image, where a file would vanish with the machine).
    #[arg(long, env = "ALLOW_EMBEDDED", default_value = "true", global = true)]
    pub allow_embedded: String,
    /// The frontend's Better Auth secret; signs session cookies.
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true, global = true)]
    pub better_auth_secret: Option<String>,
    /// Better Auth's `advanced.cookiePrefix`.
    #[arg(long, env = "BETTER_AUTH_COOKIE_PREFIX", default_value = "better-auth", global = true)]
    pub better_auth_cookie_prefix: String,
    /// Where Better Auth keeps users and sessions (`usePlural`, model names, fields).
    #[command(flatten)]
    pub better_auth_schema: super::better_auth::BetterAuthSchemaArgs,
    /// Allowed browser origins, comma-separated.
    #[arg(long, env = "CORS_ORIGINS", default_value = "http://localhost:3000", global = true)]
    pub cors_origins: String,
    /// TCP port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value = "8080", global = true)]
    pub port: String,
    /// Address to listen on: `0.0.0.0`, or `127.0.0.1` in embedded mode, whose
    /// GraphiQL page carries the demo session.
    #[arg(long, env = "HOST", global = true)]
    pub host: Option<String>,
    /// `pretty` or `json`; `pretty` on a terminal, else `json`.
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Apply pending migrations when `serve` starts.
    #[arg(long, env = "RUN_MIGRATIONS", default_value = "true", global = true)]
    pub run_migrations: String,
    /// Deepest selection a query may have outside introspection.
    #[arg(long, env = "MAX_DEPTH", default_value = "10", global = true)]
    pub max_depth: String,
    /// Deepest selection under `__schema`/`__type` (GraphiQL's introspection query needs 15).
    #[arg(long, env = "MAX_INTROSPECTION_DEPTH", default_value = "20", global = true)]
    pub max_introspection_depth: String,
    /// Highest complexity a query may have, introspection included.
    #[arg(long, env = "MAX_COMPLEXITY", default_value = "1000", global = true)]
    pub max_complexity: String,
    /// Most field selections in a document, each fragment spread counted in full.
    #[arg(long, env = "MAX_FIELDS", default_value = "500", global = true)]
    pub max_fields: String,
    /// Most aliased fields in a document, each fragment spread counted in full.
    #[arg(long, env = "MAX_ALIASES", default_value = "15", global = true)]
    pub max_aliases: String,
    /// Most lexical tokens in a document.
    #[arg(long, env = "MAX_TOKENS", default_value = "1000", global = true)]
    pub max_tokens: String,
    /// Largest document (the query text), in bytes; larger ones are refused unparsed.
    #[arg(long, env = "MAX_QUERY_BYTES", default_value = "262144", global = true)]
    pub max_query_bytes: String,
    /// Most directives in a document, each fragment spread counted in full.
    #[arg(long, env = "MAX_DIRECTIVES", default_value = "50", global = true)]
    pub max_directives: String,
    /// Most `__schema`/`__type` fields at the root of an operation.
    #[arg(long, env = "MAX_INTROSPECTION_ROOTS", default_value = "3", global = true)]
    pub max_introspection_roots: String,
    /// Largest response body, in bytes (a batch's as a whole).
    #[arg(long, env = "MAX_RESPONSE_BYTES", default_value = "4194304", global = true)]
    pub max_response_bytes: String,
    /// Most operations in one batched request.
    #[arg(long, env = "MAX_BATCH", default_value = "10", global = true)]
    pub max_batch: String,
    /// Largest request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value = "1048576", global = true)]
    pub max_body_bytes: String,
    /// Longest a request may run, in seconds.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value = "10", global = true)]
    pub request_timeout_secs: String,
    /// Longest a write statement may run, in milliseconds (PostgreSQL's
    /// `statement_timeout`, per transaction); below the request time limit, half of
    /// it when not set.
    #[arg(long, env = "STATEMENT_TIMEOUT_MS", global = true)]
    pub statement_timeout_ms: Option<String>,
    /// Largest page of `tasks`.
    #[arg(long, env = "MAX_PAGE_SIZE", default_value = "100", global = true)]
    pub max_page_size: String,
    /// Bytes of parsed documents to keep for persisted queries and repeated documents.
    #[arg(long, env = "APQ_CACHE_BYTES", default_value = "8388608", global = true)]
    pub apq_cache_bytes: String,
    /// Largest document kept in that cache, in bytes; larger ones run but are not kept.
    #[arg(long, env = "APQ_MAX_DOCUMENT_BYTES", default_value = "65536", global = true)]
    pub apq_max_document_bytes: String,
    /// Most database connections in the pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value = "10", global = true)]
    pub database_max_connections: String,
    /// Longest wait for a pooled connection, in seconds.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value = "5", global = true)]
    pub database_acquire_timeout_secs: String,
    /// Close a connection idle this long, in seconds, so Neon can scale to zero.
    #[arg(long, env = "DATABASE_IDLE_TIMEOUT_SECS", default_value = "60", global = true)]
    pub database_idle_timeout_secs: String,
    /// Replace a connection this old, in seconds.
    #[arg(long, env = "DATABASE_MAX_LIFETIME_SECS", default_value = "1800", global = true)]
    pub database_max_lifetime_secs: String,
    /// Keep retrying the first connection this long, in seconds (a Neon compute wakes up).
    #[arg(long, env = "DATABASE_CONNECT_RETRY_SECS", default_value = "30", global = true)]
    pub database_connect_retry_secs: String,
    /// Close the LISTEN connection (subscriptions' events) this long after the last
    /// subscription ends, in seconds, so Neon can scale to zero.
    #[arg(long, env = "LISTEN_IDLE_CLOSE_SECS", default_value = "30", global = true)]
    pub listen_idle_close_secs: String,
    /// On SIGTERM or SIGINT, how long in-flight requests may still run, in seconds.
    #[arg(long, env = "SHUTDOWN_DRAIN_SECS", default_value = "10", global = true)]
    pub shutdown_drain_secs: String,
    /// Longest a client may take to send a request's headers, in seconds; also the
    /// longest a kept-alive connection may sit idle between requests.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value = "10", global = true)]
    pub header_read_timeout_secs: String,
    /// Longest a client may take to send a request's whole body, in seconds.
    #[arg(long, env = "BODY_READ_TIMEOUT_SECS", default_value = "10", global = true)]
    pub body_read_timeout_secs: String,
    /// Most connections open at once; past it new ones wait in the kernel's queue.
    #[arg(long, env = "MAX_CONNECTIONS", default_value = "512", global = true)]
    pub max_connections: String,
    /// Serve `/metrics` on this address (e.g. `0.0.0.0:9091`) instead of the main port.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,
    /// Sustained requests per second per client IP (0: no limit); PostgreSQL mode only.
    #[arg(long, env = "RATE_LIMIT_IP_PER_SEC", default_value = "20", global = true)]
    pub rate_limit_ip_per_sec: String,
    /// Requests a client IP may send at once before its rate applies.
    #[arg(long, env = "RATE_LIMIT_IP_BURST", default_value = "100", global = true)]
    pub rate_limit_ip_burst: String,
    /// Sustained requests per second per session (0: no limit); PostgreSQL mode only.
    #[arg(long, env = "RATE_LIMIT_USER_PER_SEC", default_value = "10", global = true)]
    pub rate_limit_user_per_sec: String,
    /// Requests a session may send at once before its rate applies.
    #[arg(long, env = "RATE_LIMIT_USER_BURST", default_value = "50", global = true)]
    pub rate_limit_user_burst: String,
    /// The header a trusted proxy sets to the client's IP (Fly: `fly-client-ip`);
    /// unset, the TCP peer's address is used and no header is trusted.
    #[arg(long, env = "CLIENT_IP_HEADER", global = true)]
    pub client_ip_header: Option<String>,
    /// A WebSocket must send `connection_init` within this, in seconds (else 4408).
    #[arg(long, env = "WS_INIT_TIMEOUT_SECS", default_value = "10", global = true)]
    pub ws_init_timeout_secs: String,
    /// How often a WebSocket's session is checked again, in seconds; a signed-out or
    /// expired session ends its subscriptions at the next check (or at its expiry).
    #[arg(long, env = "WS_SESSION_CHECK_SECS", default_value = "30", global = true)]
    pub ws_session_check_secs: String,
    /// How often the service pings a WebSocket, in seconds; silent for two intervals: closed.
    #[arg(long, env = "WS_PING_SECS", default_value = "30", global = true)]
    pub ws_ping_secs: String,
    /// Most subscriptions one WebSocket may run at once.
    #[arg(long, env = "WS_MAX_SUBSCRIPTIONS", default_value = "20", global = true)]
    pub ws_max_subscriptions: String,
    /// Most WebSockets one user may hold open on one instance.
    #[arg(long, env = "WS_MAX_CONNECTIONS_PER_USER", default_value = "10", global = true)]
    pub ws_max_connections_per_user: String,
    /// JWTs and the cookie cache (`BETTER_AUTH_URL`, `TRUST_COOKIE_CACHE`, …).
    #[command(flatten)]
    pub tokens: super::TokenArgs,
}
