//! Settings from the environment, a `.env` file and the command line.
//!
//! Every setting has one name, used as the environment variable and, in kebab case,
//! as the flag (`PORT`, `--port`). Values are read as text by `clap` and checked
//! here, so a bad one stops the process with one line naming the setting, and a
//! secret is never echoed back.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};

mod better_auth;
mod cli;
mod subscriptions;
mod tokens;
mod traffic;

pub use better_auth::{BetterAuthSchema, BetterAuthSchemaArgs, Casing, Identifier};
pub use cli::{Cli, Command, SeedArgs, Settings};
pub use subscriptions::Subscriptions;
pub use tokens::{CacheStrategy, CookieCacheSettings, JwtSettings, TokenArgs, Tokens};
pub use traffic::{RateLimits, Traffic};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Limits on what one request may ask for.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest selection outside introspection (`MAX_DEPTH`).
    pub max_depth: usize,
    /// Deepest selection under `__schema`/`__type` (`MAX_INTROSPECTION_DEPTH`).
    pub max_introspection_depth: usize,
    /// Highest complexity, introspection included (`MAX_COMPLEXITY`).
    pub max_complexity: usize,
    /// Most field selections, every fragment spread expanded (`MAX_FIELDS`).
    pub max_fields: usize,
    /// Most aliased fields, every fragment spread expanded (`MAX_ALIASES`).
    pub max_aliases: usize,
    /// Most lexical tokens in a document (`MAX_TOKENS`).
    pub max_tokens: usize,
    /// Largest document, in bytes (`MAX_QUERY_BYTES`): what parsing may cost.
    pub max_query_bytes: usize,
    /// Most directives, every fragment spread expanded (`MAX_DIRECTIVES`).
    pub max_directives: usize,
    /// Most `__schema`/`__type` fields at an operation's root (`MAX_INTROSPECTION_ROOTS`).
    pub max_introspection_roots: usize,
    /// Largest response body in bytes, a batch's as a whole (`MAX_RESPONSE_BYTES`).
    pub max_response_bytes: usize,
    /// Most operations in a batch (`MAX_BATCH`).
    pub max_batch: usize,
    /// Largest body in bytes (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Longest run of one request (`REQUEST_TIMEOUT_SECS`). A mutation already
    /// started is not cut at it: see `statement_timeout`.
    pub request_timeout: Duration,
    /// Longest run of one write statement (`STATEMENT_TIMEOUT_MS`), enforced by
    /// PostgreSQL per transaction; a statement it stops rolled back.
    pub statement_timeout: Duration,
    /// Largest page of `tasks` (`MAX_PAGE_SIZE`).
    pub max_page_size: u64,
    /// Bytes of parsed documents kept for persisted queries and repeats (`APQ_CACHE_BYTES`).
    pub apq_cache_bytes: usize,
    /// Largest document kept in that cache (`APQ_MAX_DOCUMENT_BYTES`); larger ones run
    /// but are never stored.
    pub apq_max_document_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 10,
            max_introspection_depth: 20,
            max_complexity: 1000,
            max_fields: 500,
            max_aliases: 15,
            max_tokens: 1000,
            max_query_bytes: 256 * 1024,
            max_directives: 50,
            max_introspection_roots: 3,
            max_response_bytes: 4 * 1024 * 1024,
            max_batch: 10,
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(5),
            max_page_size: 100,
            apq_cache_bytes: 8 * 1024 * 1024,
            apq_max_document_bytes: 64 * 1024,
        }
    }
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
    /// Settings for `url` with the defaults.
    pub fn new(url: &str) -> Self {
        Self {
            url: SecretString::from(url),
            direct_url: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            max_lifetime: Duration::from_secs(1800),
            connect_retry: Duration::from_secs(30),
            listen_idle_close: Duration::from_secs(30),
        }
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
    /// Checks raw settings.
    ///
    /// # Errors
    /// The first setting that is missing or malformed.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let url = database_url(settings.database_url.as_deref(), boolean("ALLOW_EMBEDDED", &settings.allow_embedded)?)?;
        let database = DatabaseConfig {
            direct_url: direct_database_url(settings.database_direct_url.as_deref(), &url)?,
            url,
            max_connections: number("DATABASE_MAX_CONNECTIONS", &settings.database_max_connections, 1..=1000)?,
            acquire_timeout: seconds(
                "DATABASE_ACQUIRE_TIMEOUT_SECS",
                &settings.database_acquire_timeout_secs,
                1..=600,
            )?,
            idle_timeout: seconds("DATABASE_IDLE_TIMEOUT_SECS", &settings.database_idle_timeout_secs, 1..=86_400)?,
            max_lifetime: seconds("DATABASE_MAX_LIFETIME_SECS", &settings.database_max_lifetime_secs, 1..=86_400)?,
            connect_retry: seconds("DATABASE_CONNECT_RETRY_SECS", &settings.database_connect_retry_secs, 0..=3600)?,
            listen_idle_close: seconds("LISTEN_IDLE_CLOSE_SECS", &settings.listen_idle_close_secs, 0..=86_400)?,
        };
        let better_auth_secret = match settings.better_auth_secret.as_deref() {
            Some(secret) if !secret.is_empty() => Some(SecretString::from(secret)),
            // Embedded mode makes one and keeps it with the data.
            _ if database.backend() == Backend::Sqlite => None,
            _ => {
                return Err(error(
                    "BETTER_AUTH_SECRET",
                    "required with PostgreSQL: set it to the frontend's Better Auth secret",
                ));
            }
        };
        let cookie_prefix = settings.better_auth_cookie_prefix.trim().to_owned();
        if cookie_prefix.is_empty() || !cookie_prefix.chars().all(|c| c.is_ascii_graphic() && c != ';' && c != '=') {
            return Err(error("BETTER_AUTH_COOKIE_PREFIX", "must be a non-empty cookie name prefix"));
        }
        let host = match settings.host.as_deref().map(str::trim) {
            Some(host) => host.parse().map_err(|_| error("HOST", format!("not an IP address: {host:?}")))?,
            None if database.backend() == Backend::Sqlite => IpAddr::from([127, 0, 0, 1]),
            None => IpAddr::from([0, 0, 0, 0]),
        };
        let request_timeout = seconds("REQUEST_TIMEOUT_SECS", &settings.request_timeout_secs, 1..=3600)?;
        Ok(Self {
            database,
            better_auth_secret,
            cookie_prefix,
            better_auth_schema: settings.better_auth_schema.resolve()?,
            cors_origins: cors_origins(&settings.cors_origins)?,
            host,
            port: number("PORT", &settings.port, 0..=u16::MAX)?,
            log_format: log_format(settings.log_format.as_deref())?,
            run_migrations: boolean("RUN_MIGRATIONS", &settings.run_migrations)?,
            limits: Limits {
                max_depth: number("MAX_DEPTH", &settings.max_depth, 1..=1000)?,
                max_introspection_depth: number(
                    "MAX_INTROSPECTION_DEPTH",
                    &settings.max_introspection_depth,
                    1..=1000,
                )?,
                max_complexity: number("MAX_COMPLEXITY", &settings.max_complexity, 1..=1_000_000)?,
                max_fields: number("MAX_FIELDS", &settings.max_fields, 1..=1_000_000)?,
                max_aliases: number("MAX_ALIASES", &settings.max_aliases, 0..=100_000)?,
                max_tokens: number("MAX_TOKENS", &settings.max_tokens, 1..=10_000_000)?,
                max_query_bytes: number("MAX_QUERY_BYTES", &settings.max_query_bytes, 1024..=1024 * 1024 * 1024)?,
                max_directives: number("MAX_DIRECTIVES", &settings.max_directives, 0..=100_000)?,
                max_introspection_roots: number(
                    "MAX_INTROSPECTION_ROOTS",
                    &settings.max_introspection_roots,
                    0..=1000,
                )?,
                max_response_bytes: number(
                    "MAX_RESPONSE_BYTES",
                    &settings.max_response_bytes,
                    1024..=1024 * 1024 * 1024,
                )?,
                max_batch: number("MAX_BATCH", &settings.max_batch, 1..=1000)?,
                max_body_bytes: number("MAX_BODY_BYTES", &settings.max_body_bytes, 1024..=1024 * 1024 * 1024)?,
                request_timeout,
                statement_timeout: statement_timeout(settings.statement_timeout_ms.as_deref(), request_timeout)?,
                max_page_size: number("MAX_PAGE_SIZE", &settings.max_page_size, 1..=10_000)?,
                apq_cache_bytes: number("APQ_CACHE_BYTES", &settings.apq_cache_bytes, 0..=1024 * 1024 * 1024)?,
                apq_max_document_bytes: number(
                    "APQ_MAX_DOCUMENT_BYTES",
                    &settings.apq_max_document_bytes,
                    0..=64 * 1024 * 1024,
                )?,
            },
            shutdown_drain: seconds("SHUTDOWN_DRAIN_SECS", &settings.shutdown_drain_secs, 0..=3600)?,
            traffic: Traffic::from_settings(settings)?,
            metrics_addr: traffic::metrics_addr(settings.metrics_addr.as_deref())?,
            subscriptions: Subscriptions::from_settings(settings)?,
            tokens: Tokens::from_args(&settings.tokens)?,
        })
    }
}

fn error(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { setting, reason: reason.into() }
}

/// Where the data lives when `DATABASE_URL` is not set: a SQLite file here.
pub const EMBEDDED_DATABASE_URL: &str = "sqlite://todo-graphql.db?mode=rwc";

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

fn number<T>(setting: &'static str, value: &str, range: std::ops::RangeInclusive<T>) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    value.trim().parse::<T>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
        error(setting, format!("must be a whole number from {} to {}, got {value:?}", range.start(), range.end()))
    })
}

fn seconds(setting: &'static str, value: &str, range: std::ops::RangeInclusive<u64>) -> Result<Duration, ConfigError> {
    number(setting, value, range).map(Duration::from_secs)
}

/// Below the request time limit, so that a write stopped by it still answers
/// within about the limit; half of it when not set, so a shorter request limit
/// never needs a second setting.
fn statement_timeout(value: Option<&str>, request_timeout: Duration) -> Result<Duration, ConfigError> {
    const NAME: &str = "STATEMENT_TIMEOUT_MS";
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(request_timeout / 2);
    };
    let timeout = number(NAME, value, 100..=3_600_000).map(Duration::from_millis)?;
    if timeout >= request_timeout {
        return Err(error(
            NAME,
            format!("must be below REQUEST_TIMEOUT_SECS ({} s), got {value:?}", request_timeout.as_secs()),
        ));
    }
    Ok(timeout)
}

fn boolean(setting: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(error(setting, format!("must be true or false, got {value:?}"))),
    }
}

fn log_format(value: Option<&str>) -> Result<Option<LogFormat>, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(None),
        Some("pretty") => Ok(Some(LogFormat::Pretty)),
        Some("json") => Ok(Some(LogFormat::Json)),
        Some(other) => Err(error("LOG_FORMAT", format!("must be pretty or json, got {other:?}"))),
    }
}

fn cors_origins(value: &str) -> Result<Vec<String>, ConfigError> {
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let parsed = url::Url::parse(origin)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.path() == "/" && url.query().is_none())
            .ok_or_else(|| error("CORS_ORIGINS", format!("not an origin (scheme://host[:port]): {origin:?}")))?;
        origins.push(parsed.origin().ascii_serialization());
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            database_url: Some("postgres://app:hunter2@db.example.com/todo".into()),
            database_direct_url: None,
            allow_embedded: "true".into(),
            better_auth_secret: Some("s3cret-value".into()),
            better_auth_cookie_prefix: "better-auth".into(),
            better_auth_schema: BetterAuthSchemaArgs::default(),
            cors_origins: "http://localhost:3000, https://app.example.com".into(),
            port: "8080".into(),
            host: None,
            log_format: None,
            run_migrations: "true".into(),
            max_depth: "10".into(),
            max_introspection_depth: "20".into(),
            max_complexity: "1000".into(),
            max_fields: "500".into(),
            max_aliases: "15".into(),
            max_tokens: "1000".into(),
            max_query_bytes: "262144".into(),
            max_directives: "50".into(),
            max_introspection_roots: "3".into(),
            max_response_bytes: "4194304".into(),
            max_batch: "10".into(),
            max_body_bytes: "1048576".into(),
            request_timeout_secs: "10".into(),
            statement_timeout_ms: None,
            max_page_size: "100".into(),
            apq_cache_bytes: "8388608".into(),
            apq_max_document_bytes: "65536".into(),
            database_max_connections: "10".into(),
            database_acquire_timeout_secs: "5".into(),
            database_idle_timeout_secs: "60".into(),
            database_max_lifetime_secs: "1800".into(),
            database_connect_retry_secs: "30".into(),
            listen_idle_close_secs: "30".into(),
            shutdown_drain_secs: "10".into(),
            header_read_timeout_secs: "10".into(),
            body_read_timeout_secs: "10".into(),
            max_connections: "512".into(),
            metrics_addr: None,
            rate_limit_ip_per_sec: "20".into(),
            rate_limit_ip_burst: "100".into(),
            rate_limit_user_per_sec: "10".into(),
            rate_limit_user_burst: "50".into(),
            client_ip_header: None,
            ws_init_timeout_secs: "10".into(),
            ws_session_check_secs: "30".into(),
            ws_ping_secs: "30".into(),
            ws_max_subscriptions: "20".into(),
            ws_max_connections_per_user: "10".into(),
            tokens: TokenArgs::default(),
        }
    }

    #[test]
    fn good_settings_are_accepted() {
        let config = Config::from_settings(&settings()).unwrap();
        assert_eq!(config.port, 8080);
        assert!(config.host.is_unspecified(), "PostgreSQL mode listens on every interface");
        assert_eq!(config.cors_origins, ["http://localhost:3000", "https://app.example.com"]);
        assert_eq!(config.database.host(), "db.example.com");
        assert_eq!(config.database.listen_idle_close, Duration::from_secs(30));
        let closes_at_once = Settings { listen_idle_close_secs: "0".into(), ..settings() };
        assert_eq!(Config::from_settings(&closes_at_once).unwrap().database.listen_idle_close, Duration::ZERO);
    }

    #[test]
    fn each_bad_setting_is_named() {
        type Spoil = fn(&mut Settings);
        let cases: [(&str, Spoil); 20] = [
            ("DATABASE_URL", |s| {
                s.database_url = None;
                s.allow_embedded = "false".into();
            }),
            ("BETTER_AUTH_SECRET", |s| s.better_auth_secret = None),
            ("DATABASE_URL", |s| s.database_url = Some("not a url".into())),
            ("DATABASE_URL", |s| s.database_url = Some("mysql://u:p@h/db".into())),
            ("PORT", |s| s.port = "70000".into()),
            ("PORT", |s| s.port = "http".into()),
            ("CORS_ORIGINS", |s| s.cors_origins = "localhost:3000/path".into()),
            ("HEADER_READ_TIMEOUT_SECS", |s| s.header_read_timeout_secs = "0".into()),
            ("MAX_CONNECTIONS", |s| s.max_connections = "0".into()),
            ("METRICS_ADDR", |s| s.metrics_addr = Some("9091".into())),
            ("RATE_LIMIT_IP_BURST", |s| s.rate_limit_ip_burst = "0".into()),
            ("CLIENT_IP_HEADER", |s| s.client_ip_header = Some("fly client ip".into())),
            ("STATEMENT_TIMEOUT_MS", |s| s.statement_timeout_ms = Some("10000".into())),
            ("STATEMENT_TIMEOUT_MS", |s| s.statement_timeout_ms = Some("99".into())),
            ("STATEMENT_TIMEOUT_MS", |s| {
                s.request_timeout_secs = "2".into();
                s.statement_timeout_ms = Some("2500".into());
            }),
            ("DATABASE_DIRECT_URL", |s| s.database_direct_url = Some("not a url".into())),
            ("DATABASE_DIRECT_URL", |s| s.database_direct_url = Some("sqlite:///tmp/x.db".into())),
            ("DATABASE_DIRECT_URL", |s| {
                s.database_url = Some("sqlite:///tmp/x.db".into());
                s.database_direct_url = Some("postgres://app:hunter2@db.example.com/todo".into());
            }),
            ("LISTEN_IDLE_CLOSE_SECS", |s| s.listen_idle_close_secs = "86401".into()),
            ("LISTEN_IDLE_CLOSE_SECS", |s| s.listen_idle_close_secs = "-1".into()),
        ];
        for (setting, spoil) in cases {
            let mut raw = settings();
            spoil(&mut raw);
            let err = Config::from_settings(&raw).unwrap_err();
            assert_eq!(err.setting, setting, "{err}");
        }
    }

    #[test]
    fn without_a_database_url_the_data_goes_to_an_embedded_file() {
        let mut raw = settings();
        raw.database_url = None;
        raw.better_auth_secret = None;
        let config = Config::from_settings(&raw).unwrap();
        assert_eq!(config.database.backend(), Backend::Sqlite);
        assert!(config.better_auth_secret.is_none(), "made and kept with the data");
        assert!(config.host.is_loopback(), "embedded mode listens on loopback unless HOST says otherwise");
        raw.database_url = Some("sqlite:///tmp/x.db".into());
        let url = Config::from_settings(&raw).unwrap().database.url;
        assert_eq!(url.expose_secret(), "sqlite:///tmp/x.db?mode=rwc");
    }

    #[test]
    fn the_direct_url_falls_back_to_database_url() {
        let mut raw = settings();
        let config = Config::from_settings(&raw).unwrap();
        assert_eq!(config.database.direct_url().expose_secret(), "postgres://app:hunter2@db.example.com/todo");
        raw.database_direct_url = Some(" ".into());
        assert!(Config::from_settings(&raw).unwrap().database.direct_url.is_none(), "empty means unset");
        raw.database_direct_url = Some("postgresql://app:hunter2@ep-x.neon.tech/todo".into());
        let config = Config::from_settings(&raw).unwrap();
        assert_eq!(config.database.direct_url().expose_secret(), "postgresql://app:hunter2@ep-x.neon.tech/todo");
        assert_eq!(config.database.url.expose_secret(), "postgres://app:hunter2@db.example.com/todo");
    }

    #[test]
    fn secrets_never_print() {
        let config = Config::from_settings(&settings()).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cret-value"), "{shown}");

        let mut raw = settings();
        raw.database_url = Some("postgres://app:hunter2@db:notaport/todo".into());
        let err = Config::from_settings(&raw).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");

        let mut raw = settings();
        raw.database_direct_url = Some("postgres://app:direct-pw@ep-x.neon.tech/todo".into());
        let shown = format!("{:?}", Config::from_settings(&raw).unwrap());
        assert!(!shown.contains("direct-pw"), "{shown}");
        for bad in ["postgres://app:direct-pw@db:notaport/todo", "mysql://app:direct-pw@db/todo"] {
            raw.database_direct_url = Some(bad.into());
            let err = Config::from_settings(&raw).unwrap_err();
            assert_eq!(err.setting, "DATABASE_DIRECT_URL");
            assert!(!err.to_string().contains("direct-pw"), "{err}");
        }
    }
}
