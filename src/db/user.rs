//! Reads of Better Auth's user and session tables. Never a write.
//!
//! The tables may be renamed (`usePlural`, `modelName`), their columns too
//! (`fields`, a generator's snake_case), ids may be uuids and dates may lack a time
//! zone: [`Users::prepare`] checks the tables once at start-up ([`layout`]) and
//! writes the three statements for what it found ([`sql`]); each lookup is then one
//! prepared statement with bound values.

mod layout;
mod sql;

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::{DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement, Value};

pub use self::sql::MAX_TOKENS;
use self::{
    layout::{IdType, Layout},
    sql::Sql,
};
use crate::config::BetterAuthSchema;

/// A live session, as much of it as the service keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveSession {
    /// The token it was found by.
    pub token: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// The reads of users and sessions, over the pool.
#[derive(Clone, Debug)]
pub struct Users {
    db: DatabaseConnection,
    sql: Arc<Sql>,
    tables: [String; 2],
    bans: bool,
}

/// A user row as the statements name its columns.
#[derive(FromQueryResult)]
struct UserRow {
    id: String,
    name: String,
    email: String,
    email_verified: bool,
    image: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<UserRow> for user::Model {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            email: row.email,
            email_verified: row.email_verified,
            image: row.image,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A session row with its user's columns.
#[derive(FromQueryResult)]
struct SessionRow {
    token: String,
    expires_at: DateTime<Utc>,
    #[sea_orm(nested)]
    user: UserRow,
}

/// One `expiresAt`.
#[derive(FromQueryResult)]
struct Expiry {
    expires_at: DateTime<Utc>,
}

impl Users {
    /// Checks Better Auth's tables under `names` and writes the statements for
    /// them. On PostgreSQL the catalog says whether each column exists, may be
    /// read, and has a usable type; the `admin()` plugin's `banned` and
    /// `banExpires`, when present, make bans count. Embedded SQLite has the
    /// default tables, which it makes itself.
    ///
    /// # Errors
    /// One message naming everything missing or unusable; or the database's error.
    pub async fn prepare(db: &DatabaseConnection, names: &BetterAuthSchema) -> anyhow::Result<Self> {
        let backend = db.get_database_backend();
        let layout = if backend == DbBackend::Sqlite {
            anyhow::ensure!(
                *names == BetterAuthSchema::default(),
                "the BETTER_AUTH_* table and field settings are for PostgreSQL; embedded mode makes Better Auth's default tables"
            );
            Layout::embedded()
        } else {
            layout::inspect(db, names)
                .await
                .context("reading the catalog for Better Auth's tables")?
                .map_err(|problems| anyhow::anyhow!("Better Auth's tables cannot be read: {problems}"))?
        };
        let bans = layout.bans.is_some();
        tracing::info!(
            user_table = %names.user_table,
            session_table = %names.session_table,
            user_id = ?layout.user_id,
            bans,
            "Better Auth's tables checked"
        );
        Ok(Self {
            db: db.clone(),
            sql: Arc::new(Sql::build(&layout, backend)),
            tables: [names.user_table.to_string(), names.session_table.to_string()],
            bans,
        })
    }

    /// The session lookup's text for `candidates` tokens, for the test that reads
    /// its plan.
    #[doc(hidden)]
    pub fn session_lookup_sql(&self, candidates: usize) -> &str {
        let index = if self.sql.backend == DbBackend::Sqlite { 0 } else { candidates.clamp(1, MAX_TOKENS) - 1 };
        &self.sql.live_session[index]
    }

    /// The pool these reads go through (the `jwks` keys are read over it too).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The user and session tables, for readiness.
    pub fn tables(&self) -> [&str; 2] {
        [&self.tables[0], &self.tables[1]]
    }

    /// The first of `tokens` (in order) that names a live session of a user who is
    /// not banned, with that user.
    ///
    /// One indexed statement (`token` is unique) whatever the number of
    /// candidates, which the caller keeps small. HTTP needs only the user; a
    /// WebSocket keeps the session too, to re-check it and end at its `expiresAt`.
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn find_live_session(
        &self,
        tokens: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<(LiveSession, user::Model)>, DbErr> {
        if tokens.is_empty() {
            return Ok(None);
        }
        let tokens = &tokens[..tokens.len().min(MAX_TOKENS)];
        let statement = if self.sql.backend == DbBackend::Sqlite {
            self.statement(&self.sql.live_session[0], vec![now.into(), self.list(tokens.to_vec())])
        } else {
            let values = std::iter::once(now.into()).chain(tokens.iter().map(|token| token.as_str().into()));
            self.statement(&self.sql.live_session[tokens.len() - 1], values.collect())
        };
        let rows = SessionRow::find_by_statement(statement).all(&self.db).await?;
        let mut rows: Vec<Option<SessionRow>> = rows.into_iter().map(Some).collect();
        Ok(tokens.iter().find_map(|token| {
            let row = rows.iter_mut().find(|row| row.as_ref().is_some_and(|row| &row.token == token))?.take()?;
            Some((LiveSession { token: row.token, expires_at: row.expires_at }, row.user.into()))
        }))
    }

    /// The user behind the first of `tokens` that names a live session
    /// ([`Users::find_live_session`] without the session).
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn find_by_session_token(
        &self,
        tokens: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<user::Model>, DbErr> {
        Ok(self.find_live_session(tokens, now).await?.map(|(_, user)| user))
    }

    /// When the session `token` of `user_id` expires; `None` once it is gone
    /// (signed out), expired, another user's, or its user is banned.
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn session_expiry(
        &self,
        token: &str,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DbErr> {
        let statement = self.statement(&self.sql.session_expiry, vec![token.into(), user_id.into(), now.into()]);
        Ok(Expiry::find_by_statement(statement).one(&self.db).await?.map(|row| row.expires_at))
    }

    /// The users with these ids, in no particular order; unknown ids (and ids that
    /// cannot be of the table's type) are left out.
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn find_by_ids(&self, ids: &[String]) -> Result<Vec<user::Model>, DbErr> {
        let statement = self.statement(&self.sql.by_ids, vec![self.ids(ids)]);
        let rows = UserRow::find_by_statement(statement).all(&self.db).await?;
        Ok(rows.into_iter().map(user::Model::from).collect())
    }

    /// The user `id` unless unknown or banned at `now`: who a credential that
    /// names a user without a session (a JWT's `sub`) may be. One statement.
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn find_allowed_by_id(&self, id: &str, now: DateTime<Utc>) -> Result<Option<user::Model>, DbErr> {
        let mut values = vec![self.ids(&[id.to_owned()])];
        if self.bans {
            values.push(now.into());
        }
        let statement = self.statement(&self.sql.allowed_by_id, values);
        Ok(UserRow::find_by_statement(statement).one(&self.db).await?.map(user::Model::from))
    }

    /// Ids bound as the user table stores them; one that cannot be of its type
    /// (not a uuid, not a number) is left out, as it names nobody.
    fn ids(&self, ids: &[String]) -> Value {
        match (self.sql.backend, self.sql.user_id) {
            (DbBackend::Postgres, IdType::Uuid) => {
                Value::from(ids.iter().filter_map(|id| uuid::Uuid::parse_str(id).ok()).collect::<Vec<_>>())
            }
            (DbBackend::Postgres, IdType::Integer) => {
                Value::from(ids.iter().filter_map(|id| id.parse::<i64>().ok()).collect::<Vec<_>>())
            }
            _ => self.list(ids.to_vec()),
        }
    }

    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.sql.backend, sql, values)
    }

    /// A list of text values: a PostgreSQL array, or a JSON array for SQLite's
    /// `json_each` (which has no arrays).
    fn list(&self, values: Vec<String>) -> Value {
        if self.sql.backend == DbBackend::Sqlite {
            Value::from(serde_json::Value::from(values).to_string())
        } else {
            Value::from(values)
        }
    }
}
