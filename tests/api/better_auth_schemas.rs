//! Better Auth set-ups other than its own migration's, each end to end over HTTP:
//! the tables Drizzle generates (`usePlural`, snake_case, uuid ids, `timestamp`
//! without time zone, `admin()`), custom model names and fields (a reserved word
//! and a capital among them), serial ids with Prisma's timestamps; the `admin()`
//! plugin's bans; the start-up check; and names that would be SQL.

use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use sea_orm::{ConnectionTrait, Value as SqlValue};
use serde_json::{Value, json};
use todo_graphql::{
    config::{BetterAuthSchema, BetterAuthSchemaArgs},
    db::user::Users,
    startup::Application,
};

use crate::{
    helpers::*,
    subscriptions::{closed, subscribed},
};

const ME: &str = "{ me { id email } }";

/// The settings, given as flags (the same parser as the environment).
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    schema: BetterAuthSchemaArgs,
}

fn schema(flags: &[&str]) -> BetterAuthSchema {
    Flags::parse_from(std::iter::once("todo-graphql").chain(flags.iter().copied())).schema.resolve().unwrap()
}

/// A Better Auth set-up: its tables, the settings that describe them, and how to
/// sign a user in on them as Better Auth's adapter would.
struct Setup {
    /// Makes the tables in a fresh test database (which has Better Auth's default ones).
    ddl: &'static str,
    flags: &'static [&'static str],
    /// `$1` name, `$2` e-mail; answers the id as text.
    insert_user: &'static str,
    /// `$1` token, `$2` user id as text, `$3` expiry.
    insert_session: &'static str,
    /// Whether dates are `timestamp` without time zone, written as UTC.
    naive: bool,
    /// Bans the user `$1` (as text) until `$2` (or for good when NULL), when the
    /// set-up has the `admin()` plugin.
    ban: Option<&'static str>,
}

const DRIZZLE: Setup = Setup {
    ddl: include_str!("../fixtures/better-auth/drizzle-plural-uuid-admin.sql"),
    flags: &["--better-auth-use-plural=true", "--better-auth-casing=snake_case"],
    insert_user: "INSERT INTO users (name, email, updated_at) VALUES ($1, $2, now() AT TIME ZONE 'UTC') RETURNING id::text",
    insert_session: "INSERT INTO sessions (token, user_id, expires_at, updated_at) \
                     VALUES ($1, $2::uuid, $3, now() AT TIME ZONE 'UTC')",
    naive: true,
    ban: Some("UPDATE users SET banned = true, ban_expires = $2 WHERE id = $1::uuid"),
};

/// `user: { modelName: "Member", fields: { email: "mail" } }`, `session: {
/// modelName: "order", fields: { token: "secret", userId: "memberId", expiresAt:
/// "validUntil" } }` as Better Auth's own migration makes them: a capital and a
/// reserved word, which only quoting gets right.
const CUSTOM: Setup = Setup {
    ddl: r#"CREATE TABLE "Member" (id text PRIMARY KEY, name text NOT NULL, mail text NOT NULL UNIQUE,
                "emailVerified" boolean NOT NULL, image text, "createdAt" timestamptz NOT NULL, "updatedAt" timestamptz NOT NULL);
            CREATE TABLE "order" (id text PRIMARY KEY, "validUntil" timestamptz NOT NULL, secret text NOT NULL UNIQUE,
                "createdAt" timestamptz NOT NULL, "updatedAt" timestamptz NOT NULL,
                "memberId" text NOT NULL REFERENCES "Member" (id) ON DELETE CASCADE);"#,
    flags: &[
        "--better-auth-user-model-name=Member",
        "--better-auth-session-model-name=order",
        "--better-auth-user-fields=email=mail",
        "--better-auth-session-fields=token=secret, userId=memberId, expiresAt=validUntil",
    ],
    insert_user: r#"INSERT INTO "Member" (id, name, mail, "emailVerified", "createdAt", "updatedAt")
                    VALUES (md5(random()::text), $1, $2, true, now(), now()) RETURNING id"#,
    insert_session: r#"INSERT INTO "order" (id, secret, "memberId", "validUntil", "createdAt", "updatedAt")
                       VALUES (md5(random()::text), $1, $2, $3, now(), now())"#,
    naive: false,
    ban: None,
};

/// `generateId: "serial"` on Prisma-style tables: integer ids, `timestamp(3)`
/// without time zone, the default names.
const SERIAL: Setup = Setup {
    ddl: r#"DROP TABLE account, session, verification, "user";
            CREATE TABLE "user" (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE,
                "emailVerified" boolean NOT NULL DEFAULT false, image text,
                "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" timestamp(3) NOT NULL);
            CREATE TABLE session (id serial PRIMARY KEY, "expiresAt" timestamp(3) NOT NULL, token text NOT NULL UNIQUE,
                "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" timestamp(3) NOT NULL,
                "userId" integer NOT NULL REFERENCES "user" (id) ON DELETE CASCADE);"#,
    flags: &[],
    insert_user: r#"INSERT INTO "user" (name, email, "updatedAt") VALUES ($1, $2, now() AT TIME ZONE 'UTC') RETURNING id::text"#,
    insert_session: r#"INSERT INTO session (token, "userId", "expiresAt", "updatedAt")
                       VALUES ($1, $2::integer, $3, now() AT TIME ZONE 'UTC')"#,
    naive: true,
    ban: None,
};

impl Setup {
    /// The service over a fresh database holding these tables.
    async fn spawn(&self) -> TestApp {
        let database = TestDatabase::new().await;
        let db = database.connect().await;
        db.execute_unprepared(self.ddl).await.unwrap();
        db.close().await.unwrap();
        let names = schema(self.flags);
        spawn_app_on(database, move |config| config.better_auth_schema = names).await
    }

    /// A date as this set-up's adapter writes it.
    fn date(&self, at: DateTime<Utc>) -> SqlValue {
        if self.naive { at.naive_utc().into() } else { at.into() }
    }

    /// A user with a session ending at `expires_at`, inserted as Better Auth would.
    async fn sign_in(&self, app: &TestApp, name: &str, expires_at: DateTime<Utc>) -> TestUser {
        let email = format!("{}-{}@example.com", name.to_lowercase(), &random_id()[..6]);
        let id: String = app.scalar(self.insert_user, [name.into(), email.clone().into()]).await;
        let user = TestUser { id, email, token: random_id() };
        self.add_session(app, &user, expires_at).await;
        user
    }

    async fn add_session(&self, app: &TestApp, user: &TestUser, expires_at: DateTime<Utc>) {
        app.execute(self.insert_session, [user.token.clone().into(), user.id.clone().into(), self.date(expires_at)])
            .await;
    }
}

/// Everything a signed-in user does, and every way of not being signed in.
async fn exercise(setup: &Setup) {
    let app = setup.spawn().await;
    let ada = setup.sign_in(&app, "Ada", Utc::now() + Duration::hours(1)).await;

    let me = app.graphql(Some(&ada), ME, json!({})).await;
    assert_eq!(me["data"]["me"], json!({ "id": ada.id, "email": ada.email }), "{me}");
    let task = app.create_task(&ada, "renamed tables").await;
    let toggled = app
        .graphql(
            Some(&ada),
            "mutation($id: ID!) { toggleTask(id: $id) { completed owner { id email } } }",
            json!({ "id": task["id"] }),
        )
        .await;
    assert_eq!(toggled["data"]["toggleTask"]["owner"], json!({ "id": ada.id, "email": ada.email }), "{toggled}");
    let tasks = app.graphql(Some(&ada), "{ tasks { nodes { title completed } } }", json!({})).await;
    assert_eq!(tasks["data"]["tasks"]["nodes"], json!([{ "title": "renamed tables", "completed": true }]), "{tasks}");

    // Owners by id, the loader's read: an id that cannot be of the column's type is no error.
    let users = Users::prepare(&app.db, &schema(setup.flags)).await.unwrap();
    let found = users.find_by_ids(&[ada.id.clone(), "not-an-id".into(), "12345678".into()]).await.unwrap();
    assert_eq!(found.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), [ada.email.as_str()]);
    assert_eq!(users.find_allowed_by_id(&ada.id, Utc::now()).await.unwrap().map(|u| u.email), Some(ada.email.clone()));
    assert_eq!(users.find_allowed_by_id("not-an-id", Utc::now()).await.unwrap(), None);

    // A tampered cookie, an expired session, a signed-out one: nobody.
    let tampered = ada.cookie().replacen(&ada.token[..4], "AAAA", 1);
    assert_eq!(app.graphql_with(("cookie", &tampered), ME).await["data"]["me"], Value::Null);
    let expired = setup.sign_in(&app, "Old", Utc::now() - Duration::minutes(1)).await;
    let body = app.graphql(Some(&expired), "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    let short = setup.sign_in(&app, "Short", Utc::now() + Duration::minutes(1)).await;
    assert_eq!(app.graphql(Some(&short), ME, json!({})).await["data"]["me"]["id"], short.id.as_str());
    let sql = format!("DELETE FROM {} WHERE {} = $1", quoted_session_table(setup), quoted_token(setup));
    app.execute(&sql, [ada.token.clone().into()]).await;
    let body = app.graphql(Some(&ada), "{ tasks { totalCount } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");

    if let Some(ban) = setup.ban {
        let until = |at: Option<DateTime<Utc>>| at.map_or(SqlValue::ChronoDateTime(None), |at| setup.date(at));
        for (expires, allowed) in [
            (None, false),
            (Some(Utc::now() + Duration::hours(1)), false),
            (Some(Utc::now() - Duration::hours(1)), true),
        ] {
            let user = setup.sign_in(&app, "Banned", Utc::now() + Duration::hours(1)).await;
            app.execute(ban, [user.id.clone().into(), until(expires)]).await;
            let me = app.graphql(Some(&user), ME, json!({})).await;
            assert_eq!(me["data"]["me"] != Value::Null, allowed, "banned until {expires:?}: {me}");
            let by_id = users.find_allowed_by_id(&user.id, Utc::now()).await.unwrap();
            assert_eq!(by_id.is_some(), allowed, "by id, banned until {expires:?}");
        }
    }
}

fn quoted_session_table(setup: &Setup) -> String {
    schema(setup.flags).session_table.quoted()
}

fn quoted_token(setup: &Setup) -> String {
    schema(setup.flags).session.token.quoted()
}

#[tokio::test]
async fn drizzles_generated_tables_with_uuid_ids_and_utc_timestamps() {
    exercise(&DRIZZLE).await;
}

#[tokio::test]
async fn custom_model_names_and_fields_even_a_reserved_word() {
    exercise(&CUSTOM).await;
}

#[tokio::test]
async fn serial_ids_and_prismas_timestamps() {
    exercise(&SERIAL).await;
}

/// Better Auth's default tables with the `admin()` plugin's columns.
pub async fn spawn_with_admin_plugin(adjust: impl FnOnce(&mut todo_graphql::config::Config)) -> TestApp {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    db.execute_unprepared(
        r#"ALTER TABLE "user" ADD COLUMN role text, ADD COLUMN banned boolean, ADD COLUMN "banReason" text,
               ADD COLUMN "banExpires" timestamptz;
           ALTER TABLE session ADD COLUMN "impersonatedBy" text;"#,
    )
    .await
    .unwrap();
    db.close().await.unwrap();
    spawn_app_on(database, adjust).await
}

#[tokio::test]
async fn a_banned_user_is_refused_though_a_session_survives_until_the_ban_expires() {
    let app = spawn_with_admin_plugin(|_| {}).await;
    let hour = Duration::hours(1);
    let cases: [(Option<bool>, Option<DateTime<Utc>>, bool); 6] = [
        (None, None, true), // users from before the plugin
        (Some(false), None, true),
        (Some(true), None, false),
        (Some(true), Some(Utc::now() + hour), false),
        (Some(true), Some(Utc::now() - hour), true), // Better Auth lets them sign in again
        (Some(false), Some(Utc::now() + hour), true),
    ];
    for (banned, expires, allowed) in cases {
        let user = app.create_user("Ada").await;
        app.execute(
            r#"UPDATE "user" SET banned = $1, "banExpires" = $2 WHERE id = $3"#,
            [banned.into(), expires.into(), user.id.clone().into()],
        )
        .await;
        let body = app.graphql(Some(&user), "{ me { id } taskStats { total } }", json!({})).await;
        if allowed {
            assert_eq!(body["data"]["me"]["id"], user.id.as_str(), "{banned:?} {expires:?}: {body}");
        } else {
            assert_eq!(body["data"]["me"], Value::Null, "{banned:?} {expires:?}: {body}");
            assert_eq!(error_code(&body), "UNAUTHENTICATED", "{banned:?} {expires:?}");
        }
    }
}

#[tokio::test]
async fn a_ban_ends_an_open_subscription_at_the_next_check() {
    let app =
        spawn_with_admin_plugin(|config| config.subscriptions.session_check = std::time::Duration::from_secs(1)).await;
    let ada = app.create_user("Ada").await;
    let mut ws = subscribed(&app, &ada, "1").await;
    app.execute(r#"UPDATE "user" SET banned = true WHERE id = $1"#, [ada.id.clone().into()]).await;
    assert_eq!(closed(&mut ws).await.0, 4403);
}

#[tokio::test]
async fn start_up_names_what_is_missing_and_refuses() {
    let drizzle = DRIZZLE.ddl;
    let cases: [(&[&str], String, &str); 5] = [
        (
            DRIZZLE.flags,
            format!("{drizzle}; ALTER TABLE sessions RENAME COLUMN expires_at TO expires"),
            r#""sessions"."expires_at" (field expiresAt) is missing; the table has id, expires, token"#,
        ),
        (
            DRIZZLE.flags,
            format!("{drizzle}; ALTER TABLE users ALTER COLUMN email_verified TYPE text"),
            r#""users"."email_verified" is text; it must be boolean"#,
        ),
        (DRIZZLE.flags, format!("{drizzle}; ALTER TABLE users DROP COLUMN ban_expires"), "must both exist or neither"),
        (&["--better-auth-use-plural=true"], String::new(), r#"no table "users" on the search path"#),
        (
            &["--better-auth-casing=snake_case"],
            String::new(),
            r#""user"."email_verified" (field emailVerified) is missing"#,
        ),
    ];
    for (flags, ddl, expected) in cases {
        let database = TestDatabase::new().await;
        let db = database.connect().await;
        db.execute_unprepared(&ddl).await.unwrap();
        db.close().await.unwrap();
        let mut config = test_config(&database.url);
        config.better_auth_schema = schema(flags);
        let Err(err) = Application::build(&config).await else { panic!("started despite {expected}") };
        let message = format!("{err:#}");
        assert!(message.contains("Better Auth's tables cannot be read"), "{message}");
        assert!(message.contains(expected), "{expected} not in {message}");
    }
}

#[tokio::test]
async fn a_name_that_would_be_sql_stops_the_binary_before_any_statement() {
    let database = TestDatabase::new().await;
    let cases = [
        ("BETTER_AUTH_USER_MODEL_NAME", r#"user"; DROP TABLE tasks; --"#),
        ("BETTER_AUTH_SESSION_MODEL_NAME", "session s, tasks"),
        ("BETTER_AUTH_USER_FIELDS", r#"email=email" FROM tasks --"#),
        ("BETTER_AUTH_SESSION_FIELDS", "token=token'"),
        ("BETTER_AUTH_CASING", "kebab-case"),
    ];
    for (setting, value) in cases {
        let output = serving(&database, free_port()).env(setting, value).arg("migrate").output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{setting}: {stderr}");
        assert!(stderr.contains(setting), "the message names {setting}: {stderr}");
    }
    let db = database.connect().await;
    let tasks = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT to_regclass('tasks') IS NOT NULL AS t",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(tasks.try_get::<bool>("", "t").unwrap());
    db.close().await.unwrap();
}

/// PostgreSQL switches a prepared statement to its generic plan after five runs when
/// that plan looks no dearer. For the session lookup that plan must still be two
/// index lookups for any number of candidates: `= ANY($1)` was planned for ten
/// tokens, as a hash join over the whole user table.
#[tokio::test]
async fn the_session_lookup_stays_two_index_lookups_in_its_generic_plan() {
    let app = spawn_app().await;
    insert_sessions(&app.db, 5000).await;
    let users = Users::prepare(&app.db, &BetterAuthSchema::default()).await.unwrap();
    // One connection for SET, PREPARE and EXPLAIN: a transaction holds it.
    let transaction = sea_orm::TransactionTrait::begin(&app.db).await.unwrap();
    transaction.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan").await.unwrap();
    for candidates in 1..=todo_graphql::db::user::MAX_TOKENS {
        transaction
            .execute_unprepared(&format!("PREPARE lookup_{candidates} AS {}", users.session_lookup_sql(candidates)))
            .await
            .unwrap();
        let tokens: Vec<String> = (1..=candidates).map(|i| format!("'t{i}'")).collect();
        let explain = format!("EXPLAIN EXECUTE lookup_{candidates}(now(), {})", tokens.join(", "));
        let rows = transaction
            .query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, explain))
            .await
            .unwrap();
        let plan: Vec<String> = rows.iter().map(|row| row.try_get_by_index::<String>(0).unwrap()).collect();
        let plan = plan.join("\n");
        assert!(!plan.contains("Seq Scan"), "{candidates} candidates:\n{plan}");
        assert!(plan.matches("Index").count() >= 2, "{candidates} candidates:\n{plan}");
    }
    transaction.rollback().await.unwrap();
}
