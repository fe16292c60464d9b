//! The text of the three reads, written once at start-up for the [`Layout`]:
//! every name quoted, every value bound, every id turned into text in SQL, every
//! date compared and answered in UTC.

use sea_orm::DbBackend;

use super::layout::{Clock, IdType, Layout};

/// Most candidate tokens one session lookup takes (the caller keeps to it).
pub const MAX_TOKENS: usize = 4;

/// The statements, ready to be prepared on each connection once and reused.
#[derive(Debug)]
pub struct Sql {
    /// The backend they are written for.
    pub backend: DbBackend,
    /// Session and user by candidate tokens, live at `$1`: on PostgreSQL one
    /// statement per number of candidates (`[n - 1]` takes `$2` to `$n+1`, as
    /// `IN (…)`), on SQLite one (`?2`, a JSON list). PostgreSQL's generic plan for
    /// `= ANY($1)` guesses ten tokens and hash-joins the whole user table; with one
    /// parameter per token it plans two index lookups, as for a single token.
    pub live_session: Vec<String>,
    /// A session's `expiresAt` by token `$1` and user id `$2`, live at `$3`.
    pub session_expiry: String,
    /// Users by ids (`$1`, a list).
    pub by_ids: String,
    /// A user by id (`$1`, a list of one) unless banned at `$2` (only bound when
    /// bans count): who a credential without a session (a JWT) may be.
    pub allowed_by_id: String,
    /// How the user table's ids bind.
    pub user_id: IdType,
}

impl Sql {
    /// The statements for `layout` on `backend`. On SQLite (embedded mode: the
    /// default tables, ids as text, dates as text) lists are bound as a JSON array.
    pub fn build(layout: &Layout, backend: DbBackend) -> Self {
        let names = &layout.names;
        let (u, s) = (&names.user, &names.session);
        let sqlite = backend == DbBackend::Sqlite;
        let (p1, p2, p3) = if sqlite { ("?1", "?2", "?3") } else { ("$1", "$2", "$3") };
        let list = |param: &str| {
            if sqlite { format!("IN (SELECT value FROM json_each({param}))") } else { format!("= ANY({param})") }
        };
        // Text in the answer whatever the column's type: tasks.user_id is text.
        let as_text = |column: String, id: IdType| match id {
            IdType::Text => column,
            _ => format!("{column}::text"),
        };
        // A timestamp without time zone holds UTC: read it as such, and compare it
        // with now in UTC, whatever the server's TimeZone.
        let read = |column: String, clock: Clock| match clock {
            Clock::Zoned => column,
            Clock::Utc => format!("({column} AT TIME ZONE 'UTC')"),
        };
        let now = |param: &str, clock: Clock| match clock {
            Clock::Zoned => param.to_owned(),
            Clock::Utc => format!("({param}::timestamptz AT TIME ZONE 'UTC')"),
        };
        let user_columns = format!(
            "{} AS id, u.{} AS name, u.{} AS email, u.{} AS email_verified, u.{} AS image, {} AS created_at, {} AS updated_at",
            as_text(format!("u.{}", u.id.quoted()), layout.user_id),
            u.name.quoted(),
            u.email.quoted(),
            u.email_verified.quoted(),
            u.image.quoted(),
            read(format!("u.{}", u.created_at.quoted()), layout.created_at),
            read(format!("u.{}", u.updated_at.quoted()), layout.updated_at),
        );
        // Compare ids as the user table stores them, so its primary key serves.
        let session_user = if layout.session_user_id == layout.user_id {
            format!("s.{}", s.user_id.quoted())
        } else {
            format!("s.{}::{}", s.user_id.quoted(), layout.user_id.sql())
        };
        let join = format!(
            "{} AS s JOIN {} AS u ON u.{} = {session_user}",
            names.session_table.quoted(),
            names.user_table.quoted(),
            u.id.quoted()
        );
        let live = |param: &str| format!("s.{} > {}", s.expires_at.quoted(), now(param, layout.expires_at));
        // Refused while banned, until a `banExpires` that has passed (as Better Auth
        // lets such a user sign in again).
        let not_banned = |param: &str| match layout.bans {
            None => String::new(),
            Some(clock) => format!(
                " AND (u.{banned} IS NOT TRUE OR u.{expires} < {now})",
                banned = u.banned.quoted(),
                expires = u.ban_expires.quoted(),
                now = now(param, clock),
            ),
        };
        let expires_at = read(format!("s.{}", s.expires_at.quoted()), layout.expires_at);
        let live_session = |tokens: String| {
            format!(
                "SELECT s.{token} AS token, {expires_at} AS expires_at, {user_columns} FROM {join} \
                 WHERE s.{token} {tokens} AND {live}{not_banned}",
                token = s.token.quoted(),
                live = live(p1),
                not_banned = not_banned(p1),
            )
        };
        let live_session = if sqlite {
            vec![live_session(list(p2))]
        } else {
            (1..=MAX_TOKENS)
                .map(|n| {
                    let params: Vec<String> = (2..=n + 1).map(|i| format!("${i}")).collect();
                    live_session(format!("IN ({})", params.join(", ")))
                })
                .collect()
        };
        Self {
            backend,
            live_session,
            // The user table only when a ban can end the session.
            session_expiry: if layout.bans.is_some() {
                format!(
                    "SELECT {expires_at} AS expires_at FROM {join} \
                     WHERE s.{token} = {p1} AND {user_id} = {p2} AND {live}{not_banned}",
                    token = s.token.quoted(),
                    user_id = as_text(format!("u.{}", u.id.quoted()), layout.user_id),
                    live = live(p3),
                    not_banned = not_banned(p3),
                )
            } else {
                format!(
                    "SELECT {expires_at} AS expires_at FROM {} AS s WHERE s.{token} = {p1} AND {user_id} = {p2} AND {live}",
                    names.session_table.quoted(),
                    token = s.token.quoted(),
                    user_id = as_text(format!("s.{}", s.user_id.quoted()), layout.session_user_id),
                    live = live(p3),
                )
            },
            by_ids: format!(
                "SELECT {user_columns} FROM {} AS u WHERE u.{} {}",
                names.user_table.quoted(),
                u.id.quoted(),
                list(p1)
            ),
            allowed_by_id: format!(
                "SELECT {user_columns} FROM {} AS u WHERE u.{} {}{}",
                names.user_table.quoted(),
                u.id.quoted(),
                list(p1),
                not_banned(p2)
            ),
            user_id: layout.user_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BetterAuthSchemaArgs, Identifier};

    fn drizzle() -> Layout {
        let args = BetterAuthSchemaArgs {
            use_plural: true,
            casing: crate::config::Casing::SnakeCase,
            ..BetterAuthSchemaArgs::default()
        };
        Layout {
            names: args.resolve().unwrap(),
            user_id: IdType::Uuid,
            session_user_id: IdType::Uuid,
            created_at: Clock::Utc,
            updated_at: Clock::Utc,
            expires_at: Clock::Utc,
            bans: Some(Clock::Utc),
        }
    }

    #[test]
    fn the_default_schema_reads_as_before() {
        let sql = Sql::build(&Layout::embedded(), DbBackend::Postgres);
        assert_eq!(
            sql.live_session[0],
            "SELECT s.\"token\" AS token, s.\"expiresAt\" AS expires_at, u.\"id\" AS id, u.\"name\" AS name, \
             u.\"email\" AS email, u.\"emailVerified\" AS email_verified, u.\"image\" AS image, \
             u.\"createdAt\" AS created_at, u.\"updatedAt\" AS updated_at \
             FROM \"session\" AS s JOIN \"user\" AS u ON u.\"id\" = s.\"userId\" \
             WHERE s.\"token\" IN ($2) AND s.\"expiresAt\" > $1"
        );
        assert!(sql.live_session[3].contains("WHERE s.\"token\" IN ($2, $3, $4, $5) AND"), "{}", sql.live_session[3]);
        let sqlite = Sql::build(&Layout::embedded(), DbBackend::Sqlite);
        assert!(sqlite.by_ids.ends_with("WHERE u.\"id\" IN (SELECT value FROM json_each(?1))"), "{}", sqlite.by_ids);
    }

    #[test]
    fn uuid_ids_and_utc_timestamps_are_cast_and_bans_are_checked() {
        let sql = Sql::build(&drizzle(), DbBackend::Postgres);
        let live_session = &sql.live_session[0];
        assert!(live_session.contains("u.\"id\"::text AS id"), "{live_session}");
        assert!(live_session.contains("(s.\"expires_at\" AT TIME ZONE 'UTC') AS expires_at"));
        assert!(live_session.contains("FROM \"sessions\" AS s JOIN \"users\" AS u ON u.\"id\" = s.\"user_id\""));
        assert!(live_session.contains("s.\"expires_at\" > ($1::timestamptz AT TIME ZONE 'UTC')"));
        assert!(
            live_session.ends_with(
                "AND (u.\"banned\" IS NOT TRUE OR u.\"ban_expires\" < ($1::timestamptz AT TIME ZONE 'UTC'))"
            ),
            "{live_session}"
        );
        assert!(sql.session_expiry.contains("u.\"id\"::text = $2"), "{}", sql.session_expiry);
        assert!(sql.session_expiry.contains("u.\"ban_expires\" < ($3::timestamptz"), "{}", sql.session_expiry);
        assert!(sql.by_ids.ends_with("FROM \"users\" AS u WHERE u.\"id\" = ANY($1)"), "{}", sql.by_ids);
        assert!(sql.allowed_by_id.ends_with("u.\"ban_expires\" < ($2::timestamptz AT TIME ZONE 'UTC'))"));
    }

    #[test]
    fn a_text_user_id_on_a_uuid_table_is_cast_to_the_user_tables_type() {
        let mut layout = drizzle();
        layout.session_user_id = IdType::Text;
        let sql = Sql::build(&layout, DbBackend::Postgres);
        assert!(sql.live_session[0].contains("ON u.\"id\" = s.\"user_id\"::uuid"), "{}", sql.live_session[0]);
    }

    #[test]
    fn every_name_is_quoted() {
        let mut layout = drizzle();
        layout.names.user_table = Identifier::parse("Members").unwrap();
        let sql = Sql::build(&layout, DbBackend::Postgres);
        assert!(sql.by_ids.contains("FROM \"Members\" AS u"), "{}", sql.by_ids);
    }
}
