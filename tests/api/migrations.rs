//! Migrations: adopting the FastAPI table with its rows, refusing one whose column
//! types the service cannot use, racing instances, and
//! running as a role that may only read Better Auth's tables.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::helpers::*;

/// The table exactly as the FastAPI backend's SQLAlchemy model created it.
const FASTAPI_TASKS: &str = "
CREATE TABLE tasks (
    id UUID NOT NULL,
    title VARCHAR(200) NOT NULL,
    description TEXT,
    completed BOOLEAN NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_tasks_user_id ON tasks (user_id);";

async fn text(db: &sea_orm::DatabaseConnection, sql: &str) -> String {
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    row.map(|r| r.try_get_by_index::<Option<String>>(0).unwrap().unwrap_or_default()).unwrap_or_default()
}

/// Every row, by the columns the FastAPI table has (a migration may add others).
/// `%L` quotes each value and writes NULL as NULL, so no two rows read alike.
const ROWS: &str = "SELECT string_agg(format('%L,%L,%L,%L,%L,%L,%L', id, title, description, completed, user_id, created_at, updated_at), '|' ORDER BY id) FROM tasks";
const BETTER_AUTH_SHAPE: &str = "SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':' || coalesce(column_default, ''), ',' ORDER BY table_name, column_name)
     FROM information_schema.columns WHERE table_name IN ('user', 'session', 'account', 'verification')";
const INDEXES: &str = "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'tasks'";

#[tokio::test]
async fn an_existing_fastapi_table_is_adopted_with_every_row_unchanged() {
    let database = TestDatabase::better_auth_only().await;
    let db = database.connect().await;
    db.execute_unprepared(FASTAPI_TASKS).await.unwrap();
    let user_id = random_id();
    db.execute_unprepared(&format!(
        "INSERT INTO tasks VALUES
           ('0190a5e4-0000-7000-8000-000000000001', 'Legacy one', 'from FastAPI', false, '{user_id}',
            '2025-03-01 09:15:30.123456+00', '2025-03-02 10:00:00.654321+00'),
           ('0190a5e4-0000-7000-8000-000000000002', 'Legacy two', NULL, true, '{user_id}',
            '2025-03-01 09:15:30.123456+00', '2025-03-01 09:15:30.123456+00'),
           ('0190a5e4-0000-7000-8000-000000000003', 'Someone else''s', NULL, false, 'other-user',
            '2024-12-31 23:59:59+00', '2024-12-31 23:59:59+00')"
    ))
    .await
    .unwrap();
    let rows_before = text(&db, ROWS).await;
    let shape_before = text(&db, BETTER_AUTH_SHAPE).await;

    let app = spawn_app_on(database, |_| {}).await;

    assert_eq!(text(&db, ROWS).await, rows_before, "not one row rewritten");
    assert_eq!(text(&db, BETTER_AUTH_SHAPE).await, shape_before, "Better Auth's tables untouched");
    assert_eq!(text(&db, INDEXES).await, "ix_tasks_user_id,ix_tasks_user_id_created_at_id,tasks_pkey");
    let defaults: i64 = app
        .scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'tasks' AND column_default IS NOT NULL",
            [],
        )
        .await;
    assert_eq!(defaults, 0, "no server-side defaults added");

    // The legacy rows are served to their owner, times in UTC.
    app.execute(
        r#"INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt") VALUES ($1, 'Legacy', 'legacy@example.com', true, now(), now())"#,
        [user_id.clone().into()],
    )
    .await;
    let user = TestUser { id: user_id.clone(), email: "legacy@example.com".into(), token: random_id() };
    app.add_session(&user.id, &user.token, chrono::Utc::now() + chrono::Duration::days(1)).await;
    let body = app
        .graphql(Some(&user), "{ tasks(orderBy: { field: TITLE, direction: ASC }) { nodes { title description completed createdAt updatedAt } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["tasks"]["nodes"],
        json!([
            { "title": "Legacy one", "description": "from FastAPI", "completed": false,
              "createdAt": "2025-03-01T09:15:30.123Z", "updatedAt": "2025-03-02T10:00:00.654Z" },
            { "title": "Legacy two", "description": null, "completed": true,
              "createdAt": "2025-03-01T09:15:30.123Z", "updatedAt": "2025-03-01T09:15:30.123Z" },
        ]),
        "{body}"
    );
    // And a change to one moves its updatedAt forward past the legacy value.
    let body = app
        .graphql(
            Some(&user),
            "mutation { toggleTask(id: \"0190a5e4-0000-7000-8000-000000000002\") { completed updatedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["toggleTask"]["completed"], false, "{body}");
    assert!(body["data"]["toggleTask"]["updatedAt"].as_str().unwrap() > "2025-03-01T09:15:30.123Z");
}

#[tokio::test]
async fn a_tasks_table_missing_a_column_is_refused_and_left_alone() {
    let database = TestDatabase::better_auth_only().await;
    let db = database.connect().await;
    db.execute_unprepared("CREATE TABLE tasks (id UUID PRIMARY KEY, title VARCHAR(200) NOT NULL); INSERT INTO tasks VALUES (gen_random_uuid(), 'keep me')")
        .await
        .unwrap();
    let err = todo_graphql::db::migrate(&test_config(&database.url).database).await.unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("description") && message.contains("user_id"), "{message}");
    assert_eq!(text(&db, "SELECT string_agg(title, ',') FROM tasks").await, "keep me");
}

/// The FastAPI table with one column's definition changed.
fn fastapi_tasks_with(column: &str, definition: &str) -> String {
    let line = FASTAPI_TASKS.lines().find(|l| l.trim_start().starts_with(&format!("{column} "))).unwrap();
    FASTAPI_TASKS.replace(line, &format!("    {column} {definition},"))
}

const TASKS_SHAPE: &str = "SELECT string_agg(column_name || ':' || data_type || ':' || is_nullable || ':' || coalesce(character_maximum_length::text, ''), ',' ORDER BY ordinal_position)
     FROM information_schema.columns WHERE table_name = 'tasks'";

#[tokio::test]
async fn a_tasks_column_of_the_wrong_type_or_nullability_is_refused_by_name_and_left_alone() {
    let cases = [
        ("id", "TEXT NOT NULL", "tasks.id is `text`; it must be `uuid`"),
        (
            "title",
            "VARCHAR(100) NOT NULL",
            "tasks.title is `character varying(100)`; it must be `text` or `character varying` of at least 200",
        ),
        ("title", "TEXT", "tasks.title allows NULL; it must be NOT NULL"),
        ("description", "TEXT NOT NULL", "tasks.description is NOT NULL; it must allow NULL"),
        ("description", "VARCHAR(500)", "tasks.description is `character varying(500)`"),
        ("completed", "INTEGER NOT NULL", "tasks.completed is `integer`; it must be `boolean`"),
        ("completed", "BOOLEAN", "tasks.completed allows NULL; it must be NOT NULL"),
        (
            "user_id",
            "VARCHAR(32) NOT NULL",
            "tasks.user_id is `character varying(32)`; it must be `text` or `character varying` of at least 255",
        ),
        ("user_id", "BYTEA NOT NULL", "tasks.user_id is `bytea`"),
        (
            "user_id",
            "UUID NOT NULL",
            "tasks.user_id is `uuid`; it must be `text` or `character varying` of at least 255 (the service keeps \
             every user id as text: ALTER TABLE tasks ALTER COLUMN user_id TYPE text)",
        ),
        (
            "created_at",
            "TIMESTAMP NOT NULL",
            "tasks.created_at is `timestamp without time zone`; it must be `timestamp with time zone`",
        ),
        ("updated_at", "TIMESTAMP WITH TIME ZONE", "tasks.updated_at allows NULL; it must be NOT NULL"),
        ("updated_at", "DATE NOT NULL", "tasks.updated_at is `date`; it must be `timestamp with time zone`"),
    ];
    for (column, definition, expected) in cases {
        let database = TestDatabase::better_auth_only().await;
        let db = database.connect().await;
        db.execute_unprepared(&fastapi_tasks_with(column, definition)).await.unwrap();
        let before = text(&db, TASKS_SHAPE).await;

        let err = todo_graphql::db::migrate(&test_config(&database.url).database).await.unwrap_err();

        let message = format!("{err:#}");
        assert!(message.contains(expected), "{column} {definition}: {message}");
        assert!(message.contains("left unchanged"), "{message}");
        assert_eq!(text(&db, TASKS_SHAPE).await, before, "{column} {definition}: the table changed");
        assert_eq!(text(&db, INDEXES).await, "ix_tasks_user_id,tasks_pkey", "no index added");
        assert_eq!(text(&db, "SELECT to_regclass('todo_graphql_migrations')::text").await, "", "nothing recorded");
        db.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_tasks_table_of_other_but_decodable_types_is_adopted_and_served() {
    let database = TestDatabase::better_auth_only().await;
    let db = database.connect().await;
    let table = fastapi_tasks_with("title", "TEXT NOT NULL")
        .replace("description TEXT,", "description VARCHAR(1000),")
        .replace("user_id VARCHAR(255) NOT NULL", "user_id TEXT NOT NULL");
    assert_ne!(table, FASTAPI_TASKS);
    db.execute_unprepared(&table).await.unwrap();

    let app = spawn_app_on(database, |_| {}).await;
    let ada = app.create_user("Ada").await;
    let task = app.create_task(&ada, &"t".repeat(200)).await;
    let body = app
        .graphql(
            Some(&ada),
            "mutation($id: ID!, $d: String) { updateTask(id: $id, input: { description: $d }) { description } }",
            json!({ "id": task["id"], "d": "d".repeat(1000) }),
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let body = app.graphql(Some(&ada), "{ tasks { nodes { title } } }", json!({})).await;
    assert_eq!(body["data"]["tasks"]["nodes"][0]["title"], "t".repeat(200), "{body}");
    db.close().await.unwrap();
}

#[tokio::test]
async fn instances_starting_together_migrate_once_and_restarts_change_nothing() {
    let database = TestDatabase::better_auth_only().await;
    let config = test_config(&database.url);
    let runs = (0..4).map(|_| todo_graphql::db::migrate(&config.database));
    let applied: Vec<usize> = futures_util::future::try_join_all(runs).await.unwrap();
    assert_eq!(applied.iter().sum::<usize>(), Migrator::migrations().len(), "each migration applied once: {applied:?}");
    assert_eq!(todo_graphql::db::migrate(&config.database).await.unwrap(), 0);
    let db = database.connect().await;
    let recorded = text(&db, "SELECT count(*)::text FROM todo_graphql_migrations").await;
    assert_eq!(recorded, Migrator::migrations().len().to_string());
}

#[tokio::test]
async fn rolling_back_refuses_to_drop_tasks_that_hold_rows() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    app.create_task(&ada, "precious").await;
    let err = Migrator::down(&app.db, None).await.unwrap_err();
    assert!(err.to_string().contains("still has rows"), "{err}");
    let count: i64 = app.scalar("SELECT count(*) FROM tasks", []).await;
    assert_eq!(count, 1);
}

#[tokio::test]
async fn the_service_runs_as_a_role_that_may_only_read_better_auths_tables() {
    let database = TestDatabase::better_auth_only().await;
    let admin = database.connect().await;
    let role = format!("app_{}", random_id().to_lowercase());
    admin
        .execute_unprepared(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT CONNECT ON DATABASE {db} TO {role};
             GRANT USAGE, CREATE ON SCHEMA public TO {role};
             GRANT SELECT ON \"user\", session, account, verification TO {role};",
            db = database.name
        ))
        .await
        .unwrap();
    let mut url = url::Url::parse(&database.url).unwrap();
    url.set_username(&role).unwrap();

    let app = spawn_app_with_url(database, url.as_str()).await;
    let ada = app.create_user("Ada").await;
    let task = app.create_task(&ada, "as a restricted role").await;
    let body = app
        .graphql(
            Some(&ada),
            "mutation($id: ID!) { toggleTask(id: $id) { completed owner { email } } }",
            json!({ "id": task["id"] }),
        )
        .await;
    assert_eq!(body["data"]["toggleTask"]["owner"]["email"], ada.email.as_str(), "{body}");
    assert_eq!(app.get("/ready").await.status(), reqwest::StatusCode::OK);
    let body = app.graphql(Some(&ada), "{ tasks { totalCount } taskStats { completed } }", json!({})).await;
    assert_eq!(body["errors"], Value::Null, "{body}");

    // The role really cannot write Better Auth's tables.
    let restricted = Database::connect(url.as_str()).await.unwrap();
    let write = restricted.execute_unprepared("UPDATE session SET \"userAgent\" = 'x'").await;
    assert!(write.is_err(), "the role can write session");
    restricted.close().await.unwrap();

    drop(app);
    admin.close().await.unwrap();
    drop_role(&role).await;
}
