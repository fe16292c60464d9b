//! Embedded mode (SQLite): what a Better Auth frontend would otherwise provide.
//!
//! Only here does the service create and write Better Auth-compatible `user` and
//! `session` tables (same names and columns), a secret kept with the data, and a
//! demo user with a long-lived session, made once on first start.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{Duration, SubsecRound, Utc};
use entity::{session, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, Statement, TransactionTrait,
};

/// The demo account every embedded database gets.
pub const DEMO_USER_ID: &str = "demo-user";
/// Its e-mail address.
pub const DEMO_EMAIL: &str = "demo@example.com";

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

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS "user" (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    "emailVerified" BOOLEAN NOT NULL,
    image TEXT,
    "createdAt" TEXT NOT NULL,
    "updatedAt" TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session (
    id TEXT NOT NULL PRIMARY KEY,
    "expiresAt" TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    "createdAt" TEXT NOT NULL,
    "updatedAt" TEXT NOT NULL,
    "ipAddress" TEXT,
    "userAgent" TEXT,
    "userId" TEXT NOT NULL REFERENCES "user"(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "session_userId_idx" ON session ("userId");
CREATE TABLE IF NOT EXISTS todo_graphql_settings (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL);
"#;

/// Creates what embedded mode needs, once, and answers the secret and demo session.
///
/// # Errors
/// When the database fails.
pub async fn prepare(db: &DatabaseConnection, configured_secret: Option<&str>) -> Result<Embedded, DbErr> {
    debug_assert_eq!(db.get_database_backend(), DbBackend::Sqlite);
    db.execute_unprepared(SCHEMA).await?;
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
    let live = session::Entity::find()
        .filter(session::Column::UserId.eq(DEMO_USER_ID))
        .filter(session::Column::ExpiresAt.gt(now + Duration::days(1)))
        .order_by_desc(session::Column::ExpiresAt)
        .one(&transaction)
        .await?;
    let demo_token = match live {
        Some(session) => session.token,
        None => {
            let token = random_token();
            session::ActiveModel {
                id: Set(random_token()),
                expires_at: Set(now + Duration::days(3650)),
                token: Set(token.clone()),
                created_at: Set(now),
                updated_at: Set(now),
                ip_address: Set(None),
                user_agent: Set(Some("todo-graphql demo".to_owned())),
                user_id: Set(DEMO_USER_ID.to_owned()),
            }
            .insert(&transaction)
            .await?;
            token
        }
    };
    transaction.commit().await?;
    Ok(Embedded { secret, demo_email: DEMO_EMAIL.to_owned(), demo_token })
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

/// 32 random bytes, base64: what `npx @better-auth/cli secret` makes.
fn random_secret() -> String {
    let bytes: Vec<u8> = (0..2).flat_map(|_| *uuid::Uuid::new_v4().as_bytes()).collect();
    STANDARD.encode(bytes)
}

/// 32 characters of `[A-Za-z0-9]`, as Better Auth's tokens are.
pub fn random_token() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // Rejection sampling keeps every character equally likely.
    std::iter::repeat_with(|| *uuid::Uuid::new_v4().as_bytes())
        .flatten()
        .filter(|byte| usize::from(*byte) < 4 * CHARS.len())
        .take(32)
        .map(|byte| CHARS[usize::from(byte) % CHARS.len()] as char)
        .collect()
}
