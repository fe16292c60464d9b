//! What the user and session tables hold, found once at start-up: that every
//! column the service reads exists, is readable, and has a type it can use, and
//! which of the usable types each one has (ids: text, uuid or integer; dates: with
//! or without a time zone), so the statements can be written for them.

use sea_orm::{DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement};

use crate::config::{BetterAuthSchema, Identifier};

/// How an id is stored. The service handles every id as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdType {
    /// `text` or `character varying`: Better Auth's default.
    Text,
    /// `uuid`: `advanced.database.generateId: "uuid"`.
    Uuid,
    /// `integer` or `bigint`: `generateId: "serial"`.
    Integer,
}

impl IdType {
    /// The type to cast a value to when comparing with such a column.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Uuid => "uuid",
            Self::Integer => "bigint",
        }
    }

    fn of(type_name: &str) -> Option<Self> {
        match type_name {
            "text" | "character varying" => Some(Self::Text),
            "uuid" => Some(Self::Uuid),
            "integer" | "bigint" => Some(Self::Integer),
            _ => None,
        }
    }
}

/// How a date is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `timestamp with time zone`, as Better Auth's own migration makes it (and
    /// SQLite's text, which compares as written).
    Zoned,
    /// `timestamp without time zone` (Drizzle's and Prisma's generators), which
    /// their adapters write and read as UTC.
    Utc,
}

impl Clock {
    fn of(type_name: &str) -> Option<Self> {
        match type_name {
            "timestamp with time zone" => Some(Self::Zoned),
            "timestamp without time zone" => Some(Self::Utc),
            _ => None,
        }
    }
}

/// The names and the types the statements are written for.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Table and column names.
    pub names: BetterAuthSchema,
    /// The user table's `id`.
    pub user_id: IdType,
    /// The session table's `userId`.
    pub session_user_id: IdType,
    /// `"user"."createdAt"`.
    pub created_at: Clock,
    /// `"user"."updatedAt"`.
    pub updated_at: Clock,
    /// `session."expiresAt"`.
    pub expires_at: Clock,
    /// `Some(banExpires's clock)` when the `admin()` plugin's `banned` and
    /// `banExpires` exist: bans are then enforced.
    pub bans: Option<Clock>,
}

impl Layout {
    /// The embedded database's: Better Auth's default tables, made by the service.
    pub fn embedded() -> Self {
        Self {
            names: BetterAuthSchema::default(),
            user_id: IdType::Text,
            session_user_id: IdType::Text,
            created_at: Clock::Zoned,
            updated_at: Clock::Zoned,
            expires_at: Clock::Zoned,
            bans: None,
        }
    }
}

/// A column as PostgreSQL's catalog describes it.
#[derive(Debug, FromQueryResult)]
struct Column {
    table_name: String,
    column_name: String,
    type_name: String,
    readable: bool,
}

/// Reads the catalog for the two tables the search path finds under these names
/// (the ones the statements will read), and checks them.
///
/// # Errors
/// `Ok(Err(message))` naming everything missing, unreadable or of an unusable
/// type; `Err` when the database does not answer.
pub async fn inspect(db: &DatabaseConnection, names: &BetterAuthSchema) -> Result<Result<Layout, String>, DbErr> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name,
                format_type(a.atttypid, NULL) AS type_name,
                has_column_privilege(c.oid, a.attnum, 'SELECT') AS readable
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relname IN ($1, $2) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND pg_table_is_visible(c.oid)
         ORDER BY a.attnum",
        [names.user_table.as_str().into(), names.session_table.as_str().into()],
    );
    let columns = Column::find_by_statement(statement).all(db).await?;
    Ok(check(names, &columns))
}

/// What a column must hold.
#[derive(Clone, Copy)]
enum Kind {
    Id,
    Text,
    Boolean,
    Date,
}

impl Kind {
    fn accepts(self, type_name: &str) -> bool {
        match self {
            Self::Id => IdType::of(type_name).is_some(),
            Self::Text => matches!(type_name, "text" | "character varying"),
            Self::Boolean => type_name == "boolean",
            Self::Date => Clock::of(type_name).is_some(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Id => "text, character varying, uuid, integer or bigint",
            Self::Text => "text or character varying",
            Self::Boolean => "boolean",
            Self::Date => "a timestamp, with or without time zone",
        }
    }
}

/// Walks the catalog's rows, noting every problem.
struct Checker<'c> {
    columns: &'c [Column],
    problems: Vec<String>,
}

impl<'c> Checker<'c> {
    fn has_table(&self, table: &Identifier) -> bool {
        self.columns.iter().any(|c| c.table_name == table.as_str())
    }

    fn find(&self, table: &Identifier, column: &Identifier) -> Option<&'c Column> {
        self.columns.iter().find(|c| c.table_name == table.as_str() && c.column_name == column.as_str())
    }

    /// The column's type when it exists, is readable and holds `kind`.
    fn require(&mut self, table: &Identifier, column: &Identifier, field: &str, kind: Kind) -> Option<&'c str> {
        if !self.has_table(table) {
            return None;
        }
        let Some(found) = self.find(table, column) else {
            let has: Vec<&str> = self
                .columns
                .iter()
                .filter(|c| c.table_name == table.as_str())
                .map(|c| c.column_name.as_str())
                .collect();
            self.problems.push(format!(
                "{}.{} (field {field}) is missing; the table has {}",
                table.quoted(),
                column.quoted(),
                has.join(", ")
            ));
            return None;
        };
        self.usable(table, found, kind)
    }

    fn usable(&mut self, table: &Identifier, found: &'c Column, kind: Kind) -> Option<&'c str> {
        let name = format!("{}.\"{}\"", table.quoted(), found.column_name);
        if !found.readable {
            self.problems.push(format!("this role may not read {name}: GRANT SELECT ON {} TO …", table.quoted()));
        }
        if !kind.accepts(&found.type_name) {
            self.problems.push(format!("{name} is {}; it must be {}", found.type_name, kind.describe()));
            return None;
        }
        Some(found.type_name.as_str())
    }
}

/// The layout the columns give, or one message naming every problem.
fn check(names: &BetterAuthSchema, columns: &[Column]) -> Result<Layout, String> {
    let mut checker = Checker { columns, problems: Vec::new() };
    let (users, sessions) = (&names.user_table, &names.session_table);
    for (table, settings) in [
        (users, "BETTER_AUTH_USER_MODEL_NAME, BETTER_AUTH_USE_PLURAL"),
        (sessions, "BETTER_AUTH_SESSION_MODEL_NAME, BETTER_AUTH_USE_PLURAL"),
    ] {
        if !checker.has_table(table) {
            checker.problems.push(format!("no table {} on the search path (see {settings})", table.quoted()));
        }
    }
    let (user, session) = (&names.user, &names.session);
    let user_id = checker.require(users, &user.id, "id", Kind::Id).and_then(IdType::of);
    checker.require(users, &user.name, "name", Kind::Text);
    checker.require(users, &user.email, "email", Kind::Text);
    checker.require(users, &user.email_verified, "emailVerified", Kind::Boolean);
    checker.require(users, &user.image, "image", Kind::Text);
    let created_at = checker.require(users, &user.created_at, "createdAt", Kind::Date).and_then(Clock::of);
    let updated_at = checker.require(users, &user.updated_at, "updatedAt", Kind::Date).and_then(Clock::of);
    checker.require(sessions, &session.token, "token", Kind::Text);
    let session_user_id = checker.require(sessions, &session.user_id, "userId", Kind::Id).and_then(IdType::of);
    let expires_at = checker.require(sessions, &session.expires_at, "expiresAt", Kind::Date).and_then(Clock::of);
    // The admin() plugin's columns: both (bans enforced), or neither.
    let bans = match (checker.find(users, &user.banned), checker.find(users, &user.ban_expires)) {
        (None, None) => None,
        (Some(banned), Some(expires)) => {
            checker.usable(users, banned, Kind::Boolean);
            checker.usable(users, expires, Kind::Date).and_then(Clock::of)
        }
        _ => {
            checker.problems.push(format!(
                "the admin() plugin's {users}.{} and {users}.{} must both exist or neither (BETTER_AUTH_USER_FIELDS names them)",
                user.banned.quoted(),
                user.ban_expires.quoted(),
                users = users.quoted(),
            ));
            None
        }
    };
    if let (Some(a), Some(b)) = (user_id, session_user_id)
        && a != b
        && a != IdType::Text
        && b != IdType::Text
    {
        checker.problems.push(format!(
            "{}.{} and {}.{} hold different kinds of id",
            users.quoted(),
            user.id.quoted(),
            sessions.quoted(),
            session.user_id.quoted()
        ));
    }
    match (user_id, session_user_id, created_at, updated_at, expires_at) {
        (Some(user_id), Some(session_user_id), Some(created_at), Some(updated_at), Some(expires_at))
            if checker.problems.is_empty() =>
        {
            Ok(Layout { names: names.clone(), user_id, session_user_id, created_at, updated_at, expires_at, bans })
        }
        _ => Err(checker.problems.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(table: &str, name: &str, type_name: &str) -> Column {
        Column { table_name: table.into(), column_name: name.into(), type_name: type_name.into(), readable: true }
    }

    /// Better Auth's own migration, with `admin()` when `bans`.
    fn default_tables(bans: bool) -> Vec<Column> {
        let mut columns = vec![
            column("user", "id", "text"),
            column("user", "name", "text"),
            column("user", "email", "text"),
            column("user", "emailVerified", "boolean"),
            column("user", "image", "text"),
            column("user", "createdAt", "timestamp with time zone"),
            column("user", "updatedAt", "timestamp with time zone"),
            column("session", "id", "text"),
            column("session", "expiresAt", "timestamp with time zone"),
            column("session", "token", "text"),
            column("session", "userId", "text"),
        ];
        if bans {
            columns.push(column("user", "banned", "boolean"));
            columns.push(column("user", "banExpires", "timestamp with time zone"));
        }
        columns
    }

    #[test]
    fn better_auths_own_tables_pass_and_the_admin_columns_turn_bans_on() {
        let names = BetterAuthSchema::default();
        let plain = check(&names, &default_tables(false)).unwrap();
        assert_eq!((plain.user_id, plain.expires_at, plain.bans), (IdType::Text, Clock::Zoned, None));
        assert_eq!(check(&names, &default_tables(true)).unwrap().bans, Some(Clock::Zoned));
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut columns = default_tables(true);
        columns.retain(|c| c.column_name != "expiresAt" && c.column_name != "banExpires");
        columns.iter_mut().find(|c| c.column_name == "emailVerified").unwrap().type_name = "text".into();
        columns.iter_mut().find(|c| c.column_name == "name").unwrap().readable = false;
        let problems = check(&BetterAuthSchema::default(), &columns).unwrap_err();
        for expected in [
            r#""session"."expiresAt" (field expiresAt) is missing; the table has id, token, userId"#,
            r#""user"."emailVerified" is text; it must be boolean"#,
            r#"this role may not read "user"."name""#,
            r#"the admin() plugin's "user"."banned" and "user"."banExpires" must both exist or neither"#,
        ] {
            assert!(problems.contains(expected), "{expected} not in {problems}");
        }
    }

    #[test]
    fn a_missing_table_is_named_once_with_the_settings_that_name_it() {
        let columns: Vec<Column> = default_tables(false).into_iter().filter(|c| c.table_name == "user").collect();
        let problems = check(&BetterAuthSchema::default(), &columns).unwrap_err();
        assert_eq!(
            problems,
            r#"no table "session" on the search path (see BETTER_AUTH_SESSION_MODEL_NAME, BETTER_AUTH_USE_PLURAL)"#
        );
    }

    #[test]
    fn uuid_serial_and_naive_timestamps_are_usable_but_other_types_are_not() {
        let names = BetterAuthSchema::default();
        let mut columns = default_tables(false);
        for c in &mut columns {
            match c.column_name.as_str() {
                "id" | "userId" => c.type_name = "uuid".into(),
                "createdAt" | "expiresAt" => c.type_name = "timestamp without time zone".into(),
                _ => {}
            }
        }
        let layout = check(&names, &columns).unwrap();
        assert_eq!((layout.user_id, layout.session_user_id), (IdType::Uuid, IdType::Uuid));
        assert_eq!((layout.created_at, layout.updated_at, layout.expires_at), (Clock::Utc, Clock::Zoned, Clock::Utc));
        columns.iter_mut().find(|c| c.column_name == "userId").unwrap().type_name = "integer".into();
        assert!(check(&names, &columns).unwrap_err().contains("hold different kinds of id"));
        columns.iter_mut().find(|c| c.column_name == "userId").unwrap().type_name = "date".into();
        assert!(check(&names, &columns).unwrap_err().contains(r#""session"."userId" is date; it must be"#));
    }
}
