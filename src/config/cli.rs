//! The command line: subcommands, and every setting as a typed flag that falls back
//! to the environment variable of the same name. Each setting is declared once, here
//! or in the `Args` struct of its concern flattened below: its type, default, range
//! and help on one line. [`super::Config`] adds the checks that span settings.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, builder::BoolishValueParser};

use super::{Limits, LogFormat, Subscriptions, Traffic, parse};

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

/// Every setting as `clap` read it; turned into a [`super::Config`] by
/// [`super::Config::from_settings`]. The database URLs and the secret stay text
/// here: `clap` would echo a value it refuses, so they are checked there.
#[derive(Args, Clone, Debug)]
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
    #[arg(long, env = "ALLOW_EMBEDDED", default_value_t = true, action = ArgAction::Set, value_parser = BoolishValueParser::new(), global = true)]
    pub allow_embedded: bool,
    /// The frontend's Better Auth secret; signs session cookies.
    #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true, global = true)]
    pub better_auth_secret: Option<String>,
    /// Better Auth's `advanced.cookiePrefix`.
    #[arg(long, env = "BETTER_AUTH_COOKIE_PREFIX", default_value = "better-auth", value_parser = parse::cookie_prefix, global = true)]
    pub better_auth_cookie_prefix: String,
    /// Where Better Auth keeps users and sessions (`usePlural`, model names, fields).
    #[command(flatten)]
    pub better_auth_schema: super::better_auth::BetterAuthSchemaArgs,
    /// Allowed browser origins, comma-separated.
    #[arg(long, env = "CORS_ORIGINS", default_value = "http://localhost:3000", value_parser = parse::origins, global = true)]
    pub cors_origins: parse::Origins,
    /// TCP port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8080, global = true)]
    pub port: u16,
    /// Address to listen on: `0.0.0.0`, or `127.0.0.1` in embedded mode, whose
    /// GraphiQL page carries the demo session.
    #[arg(long, env = "HOST", global = true)]
    pub host: Option<IpAddr>,
    /// `pretty` or `json`; `pretty` on a terminal, else `json`.
    #[arg(long, env = "LOG_FORMAT", ignore_case = true, global = true)]
    pub log_format: Option<LogFormat>,
    /// Apply pending migrations when `serve` starts.
    #[arg(long, env = "RUN_MIGRATIONS", default_value_t = true, action = ArgAction::Set, value_parser = BoolishValueParser::new(), global = true)]
    pub run_migrations: bool,
    /// Longest a write statement may run, in milliseconds (PostgreSQL's
    /// `statement_timeout`, per transaction); below the request time limit, half of
    /// it when not set.
    #[arg(long = "statement-timeout-ms", env = "STATEMENT_TIMEOUT_MS", value_parser = parse::millis(100..=3_600_000), global = true)]
    pub statement_timeout: Option<Duration>,
    /// Most database connections in the pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub database_max_connections: u32,
    /// Longest wait for a pooled connection, in seconds.
    #[arg(long = "database-acquire-timeout-secs", env = "DATABASE_ACQUIRE_TIMEOUT_SECS", default_value = "5", value_parser = parse::seconds(1..=600), global = true)]
    pub database_acquire_timeout: Duration,
    /// Close a connection idle this long, in seconds, so Neon can scale to zero.
    #[arg(long = "database-idle-timeout-secs", env = "DATABASE_IDLE_TIMEOUT_SECS", default_value = "60", value_parser = parse::seconds(1..=86_400), global = true)]
    pub database_idle_timeout: Duration,
    /// Replace a connection this old, in seconds.
    #[arg(long = "database-max-lifetime-secs", env = "DATABASE_MAX_LIFETIME_SECS", default_value = "1800", value_parser = parse::seconds(1..=86_400), global = true)]
    pub database_max_lifetime: Duration,
    /// Keep retrying the first connection this long, in seconds (a Neon compute wakes up).
    #[arg(long = "database-connect-retry-secs", env = "DATABASE_CONNECT_RETRY_SECS", default_value = "30", value_parser = parse::seconds(0..=3600), global = true)]
    pub database_connect_retry: Duration,
    /// Close the LISTEN connection (subscriptions' events) this long after the last
    /// subscription ends, in seconds, so Neon can scale to zero.
    #[arg(long = "listen-idle-close-secs", env = "LISTEN_IDLE_CLOSE_SECS", default_value = "30", value_parser = parse::seconds(0..=86_400), global = true)]
    pub listen_idle_close: Duration,
    /// On SIGTERM or SIGINT, how long in-flight requests may still run, in seconds.
    #[arg(long = "shutdown-drain-secs", env = "SHUTDOWN_DRAIN_SECS", default_value = "10", value_parser = parse::seconds(0..=3600), global = true)]
    pub shutdown_drain: Duration,
    /// Serve `/metrics` on this address (e.g. `0.0.0.0:9091`) instead of the main port.
    #[arg(long, env = "METRICS_ADDR", global = true)]
    pub metrics_addr: Option<SocketAddr>,
    /// What one request may ask for.
    #[command(flatten)]
    pub limits: Limits,
    /// Connection timers and count, request rates.
    #[command(flatten)]
    pub traffic: Traffic,
    /// Subscriptions over WebSocket.
    #[command(flatten)]
    pub subscriptions: Subscriptions,
    /// JWTs and the cookie cache (`BETTER_AUTH_URL`, `TRUST_COOKIE_CACHE`, …).
    #[command(flatten)]
    pub tokens: super::TokenArgs,
}

impl Cli {
    /// The command line over the environment. A variable set but empty counts as
    /// unset, as it did when every setting was text.
    ///
    /// # Errors
    /// What `clap` refuses; [`one_line`] words a bad setting for start-up.
    pub fn from_env() -> Result<Self, clap::Error> {
        let empty = |name: &std::ffi::OsStr| std::env::var_os(name).is_some_and(|value| value.is_empty());
        let command =
            Self::command().mut_args(|arg| if arg.get_env().is_some_and(empty) { arg.env(None) } else { arg });
        Self::from_arg_matches(&command.try_get_matches()?)
    }
}

impl Settings {
    /// The settings as declared, from `flags` alone (no environment): the defaults
    /// when `flags` is empty, and the tests' way to build a configuration.
    ///
    /// # Errors
    /// What `clap` refuses.
    pub fn from_flags<I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone>(
        flags: I,
    ) -> Result<Self, clap::Error> {
        let command = Self::augment_args(clap::Command::new("todo-graphql")).mut_args(|arg| arg.env(None));
        let flags = std::iter::once("todo-graphql".into()).chain(flags.into_iter().map(Into::into));
        Self::from_arg_matches(&command.try_get_matches_from(flags)?)
    }
}

/// A setting `clap` refused, as the one line start-up prints: the environment
/// variable's name (else the flag), the value, and why. `None` for what is not about
/// a value (`--help`, an unknown flag), which `clap` prints itself. Only settings that
/// are not secret reach `clap`'s parsers, so the value may be shown.
pub fn one_line(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(err.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return None;
    }
    let Some(ContextValue::String(flag)) = err.get(ContextKind::InvalidArg) else { return None };
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => value.as_str(),
        _ => "",
    };
    let long = flag.split_whitespace().next().unwrap_or(flag).trim_start_matches('-');
    let command = Cli::command();
    let name = command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(long))
        .and_then(|arg| arg.get_env())
        .map_or_else(|| format!("--{long}"), |env| env.to_string_lossy().into_owned());
    let reason = match (std::error::Error::source(err), err.get(ContextKind::ValidValue)) {
        (Some(cause), _) => cause.to_string(),
        (None, Some(ContextValue::Strings(valid))) => format!("must be one of {}", valid.join(", ")),
        (None, _) => "not allowed".to_owned(),
    };
    Some(format!("{name}: {reason}, got {value:?}"))
}
