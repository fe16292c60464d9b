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
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, QueryResult, Statement, Value};

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

/// The session lookup as one part of a larger statement ([`Users::session_lookup`]).
#[derive(Debug)]
pub struct SessionLookup<'a> {
    /// A `SELECT` binding `$1` (now) and `$2` onwards (the tokens), answering
    /// [`SESSION_COLUMNS`] columns that [`Users::live_session_at`] reads.
    pub sql: &'a str,
    /// The values it binds, in order.
    pub values: Vec<Value>,
    /// The tokens it looks for, best first.
    pub tokens: &'a [String],
}

/// How many columns the session lookup answers: the token, its expiry, and the
/// user's seven.
pub const SESSION_COLUMNS: usize = 9;

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
            let lookup = self.session_lookup(tokens, now)?;
            self.statement(lookup.sql, lookup.values)
        };
        let rows = self.db.query_all_raw(statement).await?;
        let sessions = rows.iter().map(|row| Self::live_session_at(row, 0)).collect::<Result<Vec<_>, _>>()?;
        Ok(first_by_token(tokens, sessions))
    }

    /// The session lookup for `tokens` (at most [`MAX_TOKENS`], best first) live at
    /// `now`, to be run inside a larger statement on PostgreSQL.
    ///
    /// # Errors
    /// On SQLite, whose lookup binds its tokens as one JSON list instead.
    pub fn session_lookup<'a>(&'a self, tokens: &'a [String], now: DateTime<Utc>) -> Result<SessionLookup<'a>, DbErr> {
        if self.sql.backend != DbBackend::Postgres || tokens.is_empty() {
            return Err(DbErr::Custom("the embeddable session lookup is PostgreSQL's, for one token or more".into()));
        }
        let tokens = &tokens[..tokens.len().min(MAX_TOKENS)];
        let values = std::iter::once(now.into()).chain(tokens.iter().map(|token| token.as_str().into()));
        Ok(SessionLookup { sql: &self.sql.live_session[tokens.len() - 1], values: values.collect(), tokens })
    }

    /// The session and its user in a row of the session lookup, whose
    /// [`SESSION_COLUMNS`] columns start at position `start`.
    ///
    /// # Errors
    /// When a column is missing or of another type.
    pub fn live_session_at(row: &QueryResult, start: usize) -> Result<(LiveSession, user::Model), DbErr> {
        let session = LiveSession { token: row.try_get_by_index(start)?, expires_at: row.try_get_by_index(start + 1)? };
        let user = user::Model {
            id: row.try_get_by_index(start + 2)?,
            name: row.try_get_by_index(start + 3)?,
            email: row.try_get_by_index(start + 4)?,
            email_verified: row.try_get_by_index(start + 5)?,
            image: row.try_get_by_index(start + 6)?,
            created_at: row.try_get_by_index(start + 7)?,
            updated_at: row.try_get_by_index(start + 8)?,
        };
        Ok((session, user))
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

/// Of the live `sessions` found, the one of the first of `tokens` that has one.
pub fn first_by_token<T>(tokens: &[String], sessions: Vec<(LiveSession, T)>) -> Option<(LiveSession, T)> {
    let mut sessions: Vec<Option<(LiveSession, T)>> = sessions.into_iter().map(Some).collect();
    tokens.iter().find_map(|token| {
        sessions.iter_mut().find(|found| found.as_ref().is_some_and(|(session, _)| &session.token == token))?.take()
    })
}
