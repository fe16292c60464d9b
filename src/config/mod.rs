//! Settings from the environment, a `.env` file and the command line.
//!
//! Every setting has one name, used as the environment variable and, in kebab case,
//! as the flag (`PORT`, `--port`), and is declared once, as a typed `clap` argument
//! ([`cli`], and the `Args` struct of its concern). `clap` checks each value on its
//! own; [`Config::from_settings`] checks what spans settings and the secrets, which
//! `clap` would echo. A bad setting stops the process with one line naming it, and a
//! secret is never echoed back.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

mod better_auth;
mod cli;
mod parse;
mod subscriptions;
mod tokens;
mod traffic;

pub use better_auth::{BetterAuthSchema, BetterAuthSchemaArgs, Casing, Identifier};
pub use cli::{Cli, Command, SeedArgs, Settings, one_line};
pub use subscriptions::Subscriptions;
pub use tokens::{CacheStrategy, CookieCacheSettings, JwtSettings, TokenArgs, Tokens};
pub use traffic::{RateLimits, Traffic};

use parse::{count, seconds};

/// A setting that cannot be used; its `Display` is the one line printed at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{setting}: {reason}")]
pub struct ConfigError {
    /// The environment variable's name.
    pub setting: &'static str,
    /// What is wrong, never the value of a secret.
    pub reason: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Limits on what one request may ask for.
#[derive(Args, Debug, Clone)]
pub struct Limits {
    /// Deepest selection a query may have outside introspection.
    #[arg(long = "max-depth", env = "MAX_DEPTH", default_value = "10", value_parser = count(1..=1000), global = true)]
    pub max_depth: usize,
    /// Deepest selection under `__schema`/`__type` (GraphiQL's introspection query needs 15).
    #[arg(long = "max-introspection-depth", env = "MAX_INTROSPECTION_DEPTH", default_value = "20", value_parser = count(1..=1000), global = true)]
    pub max_introspection_depth: usize,
    /// Highest complexity a query may have, introspection included.
    #[arg(long = "max-complexity", env = "MAX_COMPLEXITY", default_value = "1000", value_parser = count(1..=1_000_000), global = true)]
    pub max_complexity: usize,
    /// Most field selections in a document, each fragment spread counted in full.
    #[arg(long = "max-fields", env = "MAX_FIELDS", default_value = "500", value_parser = count(1..=1_000_000), global = true)]
    pub max_fields: usize,
    /// Most aliased fields in a document, each fragment spread counted in full.
    #[arg(long = "max-aliases", env = "MAX_ALIASES", default_value = "15", value_parser = count(0..=100_000), global = true)]
    pub max_aliases: usize,
    /// Most lexical tokens in a document.
    #[arg(long = "max-tokens", env = "MAX_TOKENS", default_value = "1000", value_parser = count(1..=10_000_000), global = true)]
    pub max_tokens: usize,
    /// Largest document (the query text), in bytes; larger ones are refused unparsed:
    /// what parsing may cost.
    #[arg(long = "max-query-bytes", env = "MAX_QUERY_BYTES", default_value = "262144", value_parser = count(1024..=1 << 30), global = true)]
    pub max_query_bytes: usize,
    /// Most directives in a document, each fragment spread counted in full.
    #[arg(long = "max-directives", env = "MAX_DIRECTIVES", default_value = "50", value_parser = count(0..=100_000), global = true)]
    pub max_directives: usize,
    /// Most `__schema`/`__type` fields at the root of an operation.
    #[arg(long = "max-introspection-roots", env = "MAX_INTROSPECTION_ROOTS", default_value = "3", value_parser = count(0..=1000), global = true)]
    pub max_introspection_roots: usize,
    /// Largest response body, in bytes (a batch's as a whole).
    #[arg(long = "max-response-bytes", env = "MAX_RESPONSE_BYTES", default_value = "4194304", value_parser = count(1024..=1 << 30), global = true)]
    pub max_response_bytes: usize,
    /// Most operations in one batched request.
    #[arg(long = "max-batch", env = "MAX_BATCH", default_value = "10", value_parser = count(1..=1000), global = true)]
    pub max_batch: usize,
    /// Largest request body, in bytes.
    #[arg(long = "max-body-bytes", env = "MAX_BODY_BYTES", default_value = "1048576", value_parser = count(1024..=1 << 30), global = true)]
    pub max_body_bytes: usize,
    /// Longest a request may run, in seconds. A mutation already started is not cut
    /// at it: see `statement_timeout`.
    #[arg(long = "request-timeout-secs", env = "REQUEST_TIMEOUT_SECS", default_value = "10", value_parser = seconds(1..=3600), global = true)]
    pub request_timeout: Duration,
    /// Longest run of one write statement, enforced by PostgreSQL per transaction; a
    /// statement it stops is rolled back. Set from `STATEMENT_TIMEOUT_MS`, which
    /// depends on `REQUEST_TIMEOUT_SECS` (see [`Config::from_settings`]).
    #[arg(skip)]
    pub statement_timeout: Duration,
    /// Largest page of `tasks`.
    #[arg(long = "max-page-size", env = "MAX_PAGE_SIZE", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=PAGE_SIZE_CEILING), global = true)]
    pub max_page_size: u64,
    /// Bytes of parsed documents to keep for persisted queries and repeated documents.
    #[arg(long = "apq-cache-bytes", env = "APQ_CACHE_BYTES", default_value = "8388608", value_parser = count(0..=1 << 30), global = true)]
    pub apq_cache_bytes: usize,
    /// Largest document kept in that cache, in bytes; larger ones run but are not kept.
    #[arg(long = "apq-max-document-bytes", env = "APQ_MAX_DOCUMENT_BYTES", default_value = "65536", value_parser = count(0..=64 << 20), global = true)]
    pub apq_max_document_bytes: usize,
}

/// The largest `MAX_PAGE_SIZE` may be.
pub const PAGE_SIZE_CEILING: u64 = 10_000;

impl Default for Limits {
    fn default() -> Self {
        defaults().limits
    }
}

/// The configuration every setting's declared default gives (no environment).
#[allow(clippy::expect_used, reason = "the declared defaults are valid; `the_defaults_are_valid` checks")]
fn defaults() -> Config {
    let settings = Settings::from_flags::<[&str; 0], &str>([]).expect("the declared defaults parse");
    Config::from_settings(&settings).expect("the declared defaults are valid")
}

/// The database connection settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The URL, password included, hence secret. On Neon the pooled one.
    pub url: SecretString,
    /// A direct (non-pooled) URL to the same database, for migrations and other
    /// work that needs one server session (`DATABASE_DIRECT_URL`); `None` means `url`.
    pub direct_url: Option<SecretString>,
    /// Most connections in the pool.
    pub max_connections: u32,
    /// Longest wait for a connection.
    pub acquire_timeout: Duration,
    /// Idle connections are closed after this.
    pub idle_timeout: Duration,
    /// Connections are replaced after this.
    pub max_lifetime: Duration,
    /// How long start-up keeps retrying the first connection.
    pub connect_retry: Duration,
    /// How long the LISTEN connection stays open after the last subscription ends
    /// (`LISTEN_IDLE_CLOSE_SECS`).
    pub listen_idle_close: Duration,
}

impl DatabaseConfig {
    /// Settings for `url` with the declared defaults.
    pub fn new(url: &str) -> Self {
        Self { url: SecretString::from(url), direct_url: None, ..defaults().database }
    }
}

/// Which database the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (Neon in production), shared with Better Auth.
    Postgres,
    /// An embedded SQLite file, for trying the service out.
    Sqlite,
}

impl DatabaseConfig {
    /// The backend the URL names.
    pub fn backend(&self) -> Backend {
        if self.url.expose_secret().starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres }
    }

    /// The URL for work that needs one server session throughout (migrations, and
    /// later LISTEN): `DATABASE_DIRECT_URL`, else `DATABASE_URL`. Through PgBouncer in
    /// transaction mode consecutive statements may reach different server sessions.
    pub fn direct_url(&self) -> &SecretString {
        self.direct_url.as_ref().unwrap_or(&self.url)
    }

    /// The host the URL names, for banners and logs (never the password).
    pub fn host(&self) -> String {
        url::Url::parse(self.url.expose_secret())
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// The checked configuration of the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the data lives.
    pub database: DatabaseConfig,
    /// The Better Auth secret that signs session cookies; `None` in embedded mode
    /// until the one kept with the data is read.
    pub better_auth_secret: Option<SecretString>,
    /// The Better Auth cookie prefix.
    pub cookie_prefix: String,
    /// Where Better Auth keeps users and sessions.
    pub better_auth_schema: BetterAuthSchema,
    /// Origins allowed to call from a browser.
    pub cors_origins: Vec<String>,
    /// Address to listen on.
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Log format, when given; else chosen by whether standard output is a terminal.
    pub log_format: Option<LogFormat>,
    /// Whether `serve` applies pending migrations first.
    pub run_migrations: bool,
    /// Request limits.
    pub limits: Limits,
    /// How long in-flight requests may run after a stop signal.
    pub shutdown_drain: Duration,
    /// Connection timers and count, request rates.
    pub traffic: Traffic,
    /// Where `/metrics` is served instead of the main port (`METRICS_ADDR`).
    pub metrics_addr: Option<SocketAddr>,
    /// Subscriptions over WebSocket: timers and caps.
    pub subscriptions: Subscriptions,
    /// JWTs from the `jwt()` plugin and the cookie cache, when turned on.
    pub tokens: Tokens,
}

impl Config {
    /// Adds to what `clap` checked: the database URLs and the secret, and the
    /// settings that depend on others.
    ///
    /// # Errors
    /// The first setting that is missing or malformed.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let url = database_url(settings.database_url.as_deref(), settings.allow_embedded)?;
        let database = DatabaseConfig {
            direct_url: direct_database_url(settings.database_direct_url.as_deref(), &url)?,
            url,
            max_connections: settings.database_max_connections,
            acquire_timeout: settings.database_acquire_timeout,
            idle_timeout: settings.database_idle_timeout,
            max_lifetime: settings.database_max_lifetime,
            connect_retry: settings.database_connect_retry,
            listen_idle_close: settings.listen_idle_close,
        };
        let better_auth_secret = match settings.better_auth_secret.as_deref() {
            Some(secret) if !secret.is_empty() => Some(SecretString::from(secret)),
            // Embedded mode makes one and keeps it with the data.
            _ if database.backend() == Backend::Sqlite => None,
            _ => return Err(missing_secret()),
        };
        let host = match settings.host {
            Some(host) => host,
            None if database.backend() == Backend::Sqlite => crate::embedded::HOST,
            None => IpAddr::from([0, 0, 0, 0]),
        };
        let mut limits = settings.limits.clone();
        limits.statement_timeout = statement_timeout(settings.statement_timeout, limits.request_timeout)?;
        Ok(Self {
            database,
            better_auth_secret,
            cookie_prefix: settings.better_auth_cookie_prefix.clone(),
            better_auth_schema: settings.better_auth_schema.resolve()?,
            cors_origins: settings.cors_origins.clone(),
            host,
            port: settings.port,
            log_format: settings.log_format,
            run_migrations: settings.run_migrations,
            limits,
            shutdown_drain: settings.shutdown_drain,
            traffic: settings.traffic.clone(),
            metrics_addr: settings.metrics_addr,
            subscriptions: settings.subscriptions.clone(),
            tokens: Tokens::from_args(&settings.tokens)?,
        })
    }
}

impl Config {
    /// The Better Auth secret for PostgreSQL mode (embedded mode keeps its own with
    /// the data when none is configured).
    ///
    /// # Errors
    /// None is configured: [`Config::from_settings`] refuses that, so only a
    /// configuration built by hand gets here.
    pub fn postgres_secret(&self) -> Result<&str, ConfigError> {
        self.better_auth_secret.as_ref().map(ExposeSecret::expose_secret).ok_or_else(missing_secret)
    }
}

/// The one rule about the secret, worded once: PostgreSQL mode needs the
/// frontend's, since it signs the cookies this service reads.
fn missing_secret() -> ConfigError {
    error("BETTER_AUTH_SECRET", "required with PostgreSQL: set it to the frontend's Better Auth secret")
}

fn error(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { setting, reason: reason.into() }
}

pub use crate::embedded::DATABASE_URL as EMBEDDED_DATABASE_URL;

/// Checks the URL without ever putting it, or a part of it, in the message.
fn database_url(value: Option<&str>, allow_embedded: bool) -> Result<SecretString, ConfigError> {
    const NAME: &str = "DATABASE_URL";
    let value = match value.map(str::trim) {
        Some(value) if !value.is_empty() => value,
        _ if allow_embedded => return Ok(SecretString::from(EMBEDDED_DATABASE_URL)),
        _ => return Err(error(NAME, "not set, and ALLOW_EMBEDDED is false: give the PostgreSQL URL")),
    };
    checked_url(NAME, value)
}

/// `DATABASE_DIRECT_URL`: unset or empty means `DATABASE_URL`; else a PostgreSQL URL
/// checked as `DATABASE_URL` is, and only beside a PostgreSQL `DATABASE_URL` (an
/// SQLite file has no pooler to go around).
fn direct_database_url(value: Option<&str>, url: &SecretString) -> Result<Option<SecretString>, ConfigError> {
    const NAME: &str = "DATABASE_DIRECT_URL";
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    let direct = checked_url(NAME, value)?;
    let postgres = |url: &SecretString| !url.expose_secret().starts_with("sqlite:");
    if !postgres(&direct) || !postgres(url) {
        return Err(error(NAME, "only for PostgreSQL: give the direct postgres:// URL of DATABASE_URL's database"));
    }
    Ok(Some(direct))
}

/// A database URL named `name`, checked without ever putting it, or a part of it,
/// in the message.
fn checked_url(name: &'static str, value: &str) -> Result<SecretString, ConfigError> {
    let url = url::Url::parse(value).map_err(|_| {
        error(name, "not a valid URL; expected postgres://user:password@host/database or sqlite://file")
    })?;
    match url.scheme() {
        "postgres" | "postgresql" => Ok(SecretString::from(value)),
        // SQLite creates the file unless told otherwise.
        "sqlite" if url.query().is_some_and(|q| q.contains("mode=")) => Ok(SecretString::from(value)),
        "sqlite" if url.query().is_some() => Ok(SecretString::from(format!("{value}&mode=rwc"))),
        "sqlite" => Ok(SecretString::from(format!("{value}?mode=rwc"))),
        _ => Err(error(name, "unsupported scheme; expected postgres://, postgresql:// or sqlite://")),
    }
}

/// Below the request time limit, so that a write stopped by it still answers
/// within about the limit; half of it when not set, so a shorter request limit
/// never needs a second setting.
fn statement_timeout(value: Option<Duration>, request_timeout: Duration) -> Result<Duration, ConfigError> {
    let Some(timeout) = value else { return Ok(request_timeout / 2) };
    if timeout >= request_timeout {
        return Err(error(
            "STATEMENT_TIMEOUT_MS",
            format!(
                "must be below REQUEST_TIMEOUT_SECS ({} s), got {}",
                request_timeout.as_secs(),
                timeout.as_millis()
            ),
        ));
    }
    Ok(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "postgres://app:hunter2@db.example.com/todo";

    /// The configuration from these flags over a PostgreSQL URL and a secret, or the
    /// one line start-up would print.
    fn config(flags: &[&str]) -> Result<Config, String> {
        let mut all = vec!["--database-url", URL, "--better-auth-secret", "s3cret-value"];
        all.extend_from_slice(flags);
        configure(&all)
    }

    /// The configuration from exactly these flags, or the line start-up would print.
    fn configure(flags: &[&str]) -> Result<Config, String> {
        let settings = Settings::from_flags(flags).map_err(|err| one_line(&err).unwrap_or_else(|| err.to_string()))?;
        Config::from_settings(&settings).map_err(|err| err.to_string())
    }

    #[test]
    fn the_defaults_are_valid() {
        let config = defaults();
        assert_eq!(config.port, 8080);
        assert_eq!(config.limits.statement_timeout, config.limits.request_timeout / 2);
        assert_eq!(config.traffic.rate_limits.ip_per_sec, 20);
    }

    #[test]
    fn good_settings_are_accepted() {
        let config = config(&["--cors-origins", "http://localhost:3000, https://app.example.com"]).unwrap();
        assert_eq!(config.port, 8080);
        assert!(config.host.is_unspecified(), "PostgreSQL mode listens on every interface");
        assert_eq!(config.cors_origins, ["http://localhost:3000", "https://app.example.com"]);
        assert_eq!(config.database.host(), "db.example.com");
        assert_eq!(config.database.listen_idle_close, Duration::from_secs(30));
        let closes_at_once = self::config(&["--listen-idle-close-secs", "0"]).unwrap();
        assert_eq!(closes_at_once.database.listen_idle_close, Duration::ZERO);
        let json = self::config(&["--log-format", "JSON", "--run-migrations", "no"]).unwrap();
        assert_eq!((json.log_format, json.run_migrations), (Some(LogFormat::Json), false));
    }

    #[test]
    fn each_bad_setting_is_named() {
        let sqlite = "sqlite:///tmp/x.db";
        let cases: [(&str, &[&str]); 20] = [
            ("DATABASE_URL", &["--allow-embedded", "false"]),
            ("BETTER_AUTH_SECRET", &["--database-url", URL]),
            ("DATABASE_URL", &["--database-url", "not a url", "--better-auth-secret", "s"]),
            ("DATABASE_URL", &["--database-url", "mysql://u:p@h/db", "--better-auth-secret", "s"]),
            ("PORT", &["--port", "70000"]),
            ("PORT", &["--port", "http"]),
            ("CORS_ORIGINS", &["--cors-origins", "localhost:3000/path"]),
            ("HEADER_READ_TIMEOUT_SECS", &["--header-read-timeout-secs", "0"]),
            ("MAX_CONNECTIONS", &["--max-connections", "0"]),
            ("METRICS_ADDR", &["--metrics-addr", "9091"]),
            ("RATE_LIMIT_IP_BURST", &["--rate-limit-ip-burst", "0"]),
            ("CLIENT_IP_HEADER", &["--client-ip-header", "fly client ip"]),
            ("STATEMENT_TIMEOUT_MS", &["--statement-timeout-ms", "10000"]),
            ("STATEMENT_TIMEOUT_MS", &["--statement-timeout-ms", "99"]),
            ("STATEMENT_TIMEOUT_MS", &["--request-timeout-secs", "2", "--statement-timeout-ms", "2500"]),
            ("DATABASE_DIRECT_URL", &["--database-direct-url", "not a url"]),
            ("DATABASE_DIRECT_URL", &["--database-direct-url", sqlite]),
            ("DATABASE_DIRECT_URL", &["--database-url", sqlite, "--database-direct-url", URL]),
            ("LISTEN_IDLE_CLOSE_SECS", &["--listen-idle-close-secs", "86401"]),
            ("LOG_FORMAT", &["--log-format", "xml"]),
        ];
        for (setting, flags) in cases {
            let explicit = flags.first().is_some_and(|flag| matches!(*flag, "--database-url" | "--allow-embedded"));
            let line = if explicit { configure(flags) } else { config(flags) }.unwrap_err();
            assert!(line.starts_with(&format!("{setting}: ")), "{setting}: {line}");
            assert_eq!(line.lines().count(), 1, "{line}");
        }
    }

    #[test]
    fn without_a_database_url_the_data_goes_to_an_embedded_file() {
        let config = configure(&[]).unwrap();
        assert_eq!(config.database.backend(), Backend::Sqlite);
        assert!(config.better_auth_secret.is_none(), "made and kept with the data");
        assert!(config.host.is_loopback(), "embedded mode listens on loopback unless HOST says otherwise");
        let url = configure(&["--database-url", "sqlite:///tmp/x.db"]).unwrap().database.url;
        assert_eq!(url.expose_secret(), "sqlite:///tmp/x.db?mode=rwc");
    }

    #[test]
    fn the_direct_url_falls_back_to_database_url() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database.direct_url().expose_secret(), URL);
        assert!(self::config(&["--database-direct-url", " "]).unwrap().database.direct_url.is_none(), "empty: unset");
        let direct = "postgresql://app:hunter2@ep-x.neon.tech/todo";
        let config = self::config(&["--database-direct-url", direct]).unwrap();
        assert_eq!(config.database.direct_url().expose_secret(), direct);
        assert_eq!(config.database.url.expose_secret(), URL);
    }

    #[test]
    fn secrets_never_print() {
        let shown = format!("{:?}", config(&[]).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cret-value"), "{shown}");

        let bad = "postgres://app:hunter2@db:notaport/todo";
        let err = configure(&["--database-url", bad, "--better-auth-secret", "s"]).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");

        let shown = format!("{:?}", config(&["--database-direct-url", "postgres://app:direct-pw@ep-x.neon.tech/todo"]));
        assert!(!shown.contains("direct-pw"), "{shown}");
        for bad in ["postgres://app:direct-pw@db:notaport/todo", "mysql://app:direct-pw@db/todo"] {
            let err = config(&["--database-direct-url", bad]).unwrap_err();
            assert!(err.starts_with("DATABASE_DIRECT_URL: "), "{err}");
            assert!(!err.contains("direct-pw"), "{err}");
        }
    }
}
