//! Embedded mode (SQLite, no `DATABASE_URL`): one person trying the service on
//! their own machine, with what a Better Auth frontend would otherwise provide.
//! Everything it changes is decided here; PostgreSQL mode never does any of it:
//!
//! - the data lives in a file, [`DATABASE_URL`], kept readable by its owner only
//!   ([`restrict_file`]: it holds the secret and the demo session, as do its
//!   `-wal`, `-shm` and `-journal` companions);
//! - the service listens on loopback, [`HOST`], unless `HOST` says otherwise;
//! - it creates Better Auth's `user` and `session` tables from the entities, and
//!   keeps a secret with the data when none is configured ([`prepare`]);
//! - a demo user with a session of [`DEMO_SESSION_DAYS`], made on first start and
//!   renewed at a start that finds it under [`DEMO_RENEW_DAYS`] from its end;
//! - GraphiQL opens signed in as the demo user, on [`DEMO_QUERY`]
//!   ([`graphiql_defaults`]; `http::graphiql` hands the token only to loopback);
//! - no request rates (`startup`), and subscription events stay in the process
//!   (no LISTEN connection).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use entity::{session, user};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, Schema,
    Statement, TransactionTrait,
    sea_query::{Expr, Index},
};

/// Where the data lives when `DATABASE_URL` is not set: a SQLite file in the
/// working directory.
pub const DATABASE_URL: &str = "sqlite://todo-graphql.db?mode=rwc";

/// Where embedded mode listens unless `HOST` is set: loopback, since its GraphiQL
/// page carries the demo session.
pub const HOST: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// The query GraphiQL opens with in embedded mode.
pub const DEMO_QUERY: &str = "{\n  me { email }\n  tasks { nodes { title completed } totalCount }\n}\n";

/// The demo account of embedded mode, for the banner.
#[derive(Clone)]
pub struct Demo {
    /// Its e-mail address.
    pub email: String,
    /// A session token for it.
    pub token: String,
}

/// What GraphiQL opens with in embedded mode: signed in as the demo user.
pub fn graphiql_defaults(demo: &Demo) -> crate::http::GraphiqlDefaults {
    crate::http::GraphiqlDefaults {
        headers: serde_json::json!({ "Authorization": format!("Bearer {}", demo.token) }),
        query: DEMO_QUERY.to_owned(),
    }
}

/// Whether the page may carry embedded mode's demo token: only for a loopback peer
/// that asked for a loopback host by name (`localhost`, `127.0.0.1`, `[::1]`, any
/// port). A peer elsewhere on the network never gets it, and neither does a page
/// loaded through another name that resolves to this machine (DNS rebinding: a
/// hostile site's script would otherwise read the token from the same origin). No
/// peer address (no `ConnectInfo`) means no token.
pub fn may_hold_demo_token(peer: Option<std::net::SocketAddr>, headers: &http::HeaderMap, uri: &http::Uri) -> bool {
    use http::{header, uri::Authority};
    let Some(peer) = peer else {
        return false;
    };
    // `Host` in HTTP/1.1; HTTP/2 carries it in the URI's authority instead.
    let authority = match headers.get(header::HOST) {
        // A `Host` has no user part; `user@localhost` would otherwise pass as localhost.
        Some(host) => {
            host.to_str().ok().filter(|host| !host.contains('@')).and_then(|host| host.parse::<Authority>().ok())
        }
        None => uri.authority().filter(|a| !a.as_str().contains('@')).cloned(),
    };
    let loopback_name = authority.is_some_and(|authority| {
        let host = authority.host().to_ascii_lowercase();
        matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    });
    peer.ip().to_canonical().is_loopback() && loopback_name
}

/// The demo account every embedded database gets.
pub const DEMO_USER_ID: &str = "demo-user";
/// Its e-mail address.
pub const DEMO_EMAIL: &str = "demo@example.com";

/// How long the demo session lasts: long enough not to get in the way of trying the
/// service out, short enough that a token copied from a banner does not outlive
/// interest in it (it was ten years).
pub const DEMO_SESSION_DAYS: i64 = 30;
/// A start that finds the demo session with less than this left renews it (same
/// token, a new end), as Better Auth's `updateAge` extends a session in use.
pub const DEMO_RENEW_DAYS: i64 = 7;

/// What embedded mode adds to a start: the secret, and the demo session.
pub struct Embedded {
    /// The Better Auth secret kept with the data (or the one configured).
    pub secret: String,
    /// The demo user's e-mail.
    pub demo_email: String,
    /// The demo session's token, for the banner and GraphiQL.
    pub demo_token: String,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded").field("demo_email", &self.demo_email).finish_non_exhaustive()
    }
}

/// Where embedded mode keeps its own values (the secret).
const SETTINGS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS todo_graphql_settings (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)";

/// Creates Better Auth's `user` and `session` tables, when missing, from the
/// entities the service reads them through: the same names, columns, keys and
/// unique constraints, with no copy of them to keep in step (a file an older version
/// made keeps its tables).
async fn create_better_auth_tables(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let schema = Schema::new(DbBackend::Sqlite);
    db.execute(schema.create_table_from_entity(user::Entity).if_not_exists()).await?;
    db.execute(schema.create_table_from_entity(session::Entity).if_not_exists()).await?;
    let by_user = Index::create()
        .if_not_exists()
        .name("session_userId_idx")
        .table(session::Entity)
        .col(session::Column::UserId)
        .to_owned();
    db.execute(&by_user).await?;
    db.execute_unprepared(SETTINGS_TABLE).await?;
    Ok(())
}

/// Creates what embedded mode needs, once, and answers the secret and demo session.
///
/// # Errors
/// When the database fails.
pub async fn prepare(db: &DatabaseConnection, configured_secret: Option<&str>) -> Result<Embedded, DbErr> {
    debug_assert_eq!(db.get_database_backend(), DbBackend::Sqlite);
    create_better_auth_tables(db).await?;
    let transaction = db.begin().await?;
    let secret = match configured_secret {
        Some(secret) => secret.to_owned(),
        None => setting(&transaction, "better_auth_secret", random_secret).await?,
    };
    let now = Utc::now().trunc_subsecs(3);
    if user::Entity::find_by_id(DEMO_USER_ID).one(&transaction).await?.is_none() {
        user::ActiveModel {
            id: Set(DEMO_USER_ID.to_owned()),
            name: Set("Demo User".to_owned()),
            email: Set(DEMO_EMAIL.to_owned()),
            email_verified: Set(true),
            image: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&transaction)
        .await?;
    }
    let demo_token = demo_session(&transaction, now).await?;
    transaction.commit().await?;
    Ok(Embedded { secret, demo_email: DEMO_EMAIL.to_owned(), demo_token })
}

/// The demo user's live session, renewed when under [`DEMO_RENEW_DAYS`] from its end
/// (none is left longer than [`DEMO_SESSION_DAYS`]), else a new one; answers its
/// token.
async fn demo_session(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<String, DbErr> {
    let full = now + Duration::days(DEMO_SESSION_DAYS);
    // Older versions made ten-year sessions: none of the demo user's outlasts `full`.
    session::Entity::update_many()
        .col_expr(session::Column::ExpiresAt, Expr::value(full))
        .filter(session::Column::UserId.eq(DEMO_USER_ID))
        .filter(session::Column::ExpiresAt.gt(full))
        .exec(db)
        .await?;
    let live = session::Entity::find()
        .filter(session::Column::UserId.eq(DEMO_USER_ID))
        .filter(session::Column::ExpiresAt.gt(now))
        .order_by_desc(session::Column::ExpiresAt)
        .one(db)
        .await?;
    match live {
        Some(session) => {
            let token = session.token.clone();
            if session.expires_at < now + Duration::days(DEMO_RENEW_DAYS) {
                let mut session: session::ActiveModel = session.into();
                session.expires_at = Set(full);
                session.updated_at = Set(now);
                session.update(db).await?;
            }
            Ok(token)
        }
        None => {
            let token = random_token();
            session::ActiveModel {
                id: Set(random_token()),
                expires_at: Set(full),
                token: Set(token.clone()),
                created_at: Set(now),
                updated_at: Set(now),
                ip_address: Set(None),
                user_agent: Set(Some("todo-graphql demo".to_owned())),
                user_id: Set(DEMO_USER_ID.to_owned()),
            }
            .insert(db)
            .await?;
            Ok(token)
        }
    }
}

/// The stored value of `key`, made by `make` and stored when missing.
async fn setting(db: &impl ConnectionTrait, key: &str, make: fn() -> String) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT OR IGNORE INTO todo_graphql_settings (key, value) VALUES (?, ?)",
        [key.into(), make().into()],
    ))
    .await?;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT value FROM todo_graphql_settings WHERE key = ?",
            [key.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(key.to_owned()))?;
    row.try_get("", "value")
}

/// 32 random bytes, base64: what `npx @better-auth/cli secret` makes. From `rand`'s
/// thread generator (ChaCha seeded by the operating system), every bit random: a
/// UUID's bytes, used before, have six fixed bits.
fn random_secret() -> String {
    STANDARD.encode(rand::random::<[u8; 32]>())
}

/// 32 characters of `[A-Za-z0-9]`, each equally likely, as Better Auth's tokens
/// are (`rand`'s `Alphanumeric` is that alphabet, sampled without bias).
pub fn random_token() -> String {
    use rand::{Rng as _, distr::Alphanumeric};
    rand::rng().sample_iter(Alphanumeric).take(32).map(char::from).collect()
}

/// The suffixes of the files SQLite keeps beside a database.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Keeps the SQLite file of `url` readable and writable by its owner only (0600):
/// creates it so when missing (SQLite then gives `-wal`, `-shm` and `-journal` the
/// main file's mode), and tightens an existing one and its companions, which older
/// versions left 0644. An in-memory database has no file; a URL SQLx cannot read
/// is left for the connection to report.
///
/// # Errors
/// When the file cannot be created or its mode changed; the message names it.
pub fn restrict_file(url: &str) -> std::io::Result<()> {
    use std::str::FromStr as _;
    let Ok(options) = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url) else {
        return Ok(());
    };
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let mode = url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "mode").map(|(_, v)| v);
    if url.contains(":memory:") || mode.as_deref() == Some("memory") {
        return Ok(());
    }
    let path = options.get_filename();
    let named = |err: std::io::Error| std::io::Error::new(err.kind(), format!("{}: {err}", path.display()));
    owner_only(path, mode.as_deref() == Some("rwc")).map_err(named)?;
    for suffix in COMPANIONS {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        owner_only(std::path::Path::new(&companion), false).map_err(named)?;
    }
    Ok(())
}

/// Mode 0600 for `path`; created empty with that mode when missing and `create`
/// (SQLite takes an empty file for an empty database).
#[cfg(unix)]
fn owner_only(path: &std::path::Path, create: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    if create {
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => return Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
    }
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.permissions().mode() & 0o777 != 0o600 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        }
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// Other systems: left to the platform's defaults.
#[cfg(not(unix))]
fn owner_only(_path: &std::path::Path, _create: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or_default()
    }

    #[test]
    fn the_file_is_created_owner_only_and_an_existing_one_is_tightened() {
        let dir = std::env::temp_dir().join(format!("todo-graphql-mode-{}", random_token()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("{err}"));
        let fresh = dir.join("fresh.db");
        restrict_file(&format!("sqlite://{}?mode=rwc", fresh.display())).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(mode(&fresh), 0o600);

        let old = dir.join("old.db");
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{}{suffix}", old.display());
            std::fs::write(&path, b"").unwrap_or_else(|err| panic!("{err}"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap_or_else(|e| panic!("{e}"));
        }
        restrict_file(&format!("sqlite://{}?mode=rw", old.display())).unwrap_or_else(|err| panic!("{err}"));
        for suffix in ["", "-wal", "-shm"] {
            assert_eq!(mode(std::path::Path::new(&format!("{}{suffix}", old.display()))), 0o600, "{suffix}");
        }

        let missing = dir.join("missing.db");
        restrict_file(&format!("sqlite://{}?mode=rw", missing.display())).unwrap_or_else(|err| panic!("{err}"));
        assert!(!missing.exists(), "without mode=rwc nothing is created");
        restrict_file("sqlite::memory:").unwrap_or_else(|err| panic!("{err}"));
        std::fs::remove_dir_all(&dir).unwrap_or_else(|err| panic!("{err}"));
    }
}

#[cfg(test)]
mod demo_token_tests {
    use super::*;

    use http::{HeaderMap, HeaderValue, Uri, header};

    fn host(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("")));
        headers
    }

    fn decide(peer: &str, host_header: &str) -> bool {
        may_hold_demo_token(
            Some(peer.parse().unwrap_or_else(|_| panic!("{peer}"))),
            &host(host_header),
            &Uri::default(),
        )
    }

    #[test]
    fn only_a_loopback_peer_naming_a_loopback_host_gets_the_token() {
        for (peer, host) in [
            ("127.0.0.1:50000", "localhost:8080"),
            ("127.0.0.1:50000", "LOCALHOST"),
            ("127.0.0.1:50000", "127.0.0.1:8080"),
            ("[::1]:50000", "[::1]:8080"),
            ("[::ffff:127.0.0.1]:50000", "localhost:8080"),
        ] {
            assert!(decide(peer, host), "{peer} asking for {host}");
        }
        for (peer, host) in [
            ("192.168.1.20:50000", "localhost:8080"),
            ("10.0.0.5:50000", "127.0.0.1:8080"),
            ("[2001:db8::1]:50000", "[::1]:8080"),
            ("[::ffff:192.168.1.20]:50000", "localhost"),
            ("127.0.0.1:50000", "attacker.example"),
            ("127.0.0.1:50000", "attacker.example:8080"),
            ("127.0.0.1:50000", "localhost.attacker.example"),
            ("127.0.0.1:50000", "127.0.0.1.nip.io"),
            ("127.0.0.1:50000", "localhost."),
            ("127.0.0.1:50000", "127.0.0.2:8080"),
            ("127.0.0.1:50000", ""),
            ("127.0.0.1:50000", "user@localhost"),
        ] {
            assert!(!decide(peer, host), "{peer} asking for {host:?}");
        }
    }

    #[test]
    fn no_peer_address_or_no_host_means_no_token() {
        assert!(!may_hold_demo_token(None, &host("localhost"), &Uri::default()));
        assert!(!may_hold_demo_token(Some(([127, 0, 0, 1], 1).into()), &HeaderMap::new(), &Uri::default()));
        let http2: Uri = "http://localhost:8080/graphql".parse().unwrap_or_default();
        assert!(may_hold_demo_token(Some(([127, 0, 0, 1], 1).into()), &HeaderMap::new(), &http2));
    }
}
