//! The service as a role that owns nothing: SELECT on Better Auth's user and
//! session tables, and the service's own tables, with the very statements the
//! README shows (`docs/least-privilege.sql`), through every operation.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    helpers::*,
    subscriptions::{next_json, subscribed},
};

/// The grants, as the README shows them.
const GRANTS: &str = include_str!("../../docs/least-privilege.sql");
/// The role name in them.
const ROLE: &str = "todo_graphql_app";

/// A fresh database (Better Auth's tables, then every migration, both made by the
/// superuser) and a login role holding only the grants, with its URL.
async fn restricted() -> (TestDatabase, String, String) {
    let database = TestDatabase::new().await;
    let role = format!("app_{}", random_id().to_lowercase());
    let admin = database.connect().await;
    admin.execute_unprepared(&GRANTS.replace(ROLE, &role)).await.unwrap();
    admin.close().await.unwrap();
    let mut url = url::Url::parse(&database.url).unwrap();
    url.set_username(&role).unwrap();
    (database, role, url.to_string())
}

#[test]
fn the_readme_shows_the_grants_the_test_uses() {
    let readme = include_str!("../../README.md");
    assert!(readme.contains(GRANTS.trim()), "README.md must show docs/least-privilege.sql verbatim");
}

#[tokio::test]
async fn every_operation_works_with_only_select_on_better_auths_tables() {
    let (database, role, url) = restricted().await;
    let app = spawn_app_with_url(database, &url).await;
    let ada = app.create_user("Ada").await;

    let mut ws = subscribed(&app, &ada, "1").await;
    let created = app
        .graphql(
            Some(&ada),
            "mutation($input: CreateTaskInput!) { createTask(input: $input) { id title owner { email } } }",
            json!({ "input": { "title": "least privilege", "clientMutationId": "retry-1" } }),
        )
        .await;
    assert_eq!(created["errors"], Value::Null, "{created}");
    let id = created["data"]["createTask"]["id"].clone();
    assert_eq!(created["data"]["createTask"]["owner"]["email"], ada.email.as_str());
    let event = next_json(&mut ws).await;
    assert_eq!(event["payload"]["data"]["taskChanged"]["id"], id, "{event}");
    let retried = app
        .graphql(
            Some(&ada),
            "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }",
            json!({ "input": { "title": "least privilege", "clientMutationId": "retry-1" } }),
        )
        .await;
    assert_eq!(retried["data"]["createTask"]["id"], id, "{retried}");

    let operations = [
        ("mutation($id: ID!) { updateTask(id: $id, input: { title: \"renamed\" }) { title } }", "updateTask"),
        ("mutation($id: ID!) { toggleTask(id: $id) { completed } }", "toggleTask"),
        ("query { me { email } tasks { totalCount nodes { title } } taskStats { total completed } }", "me"),
        ("query($id: ID!) { task(id: $id) { title } }", "task"),
        ("mutation { clearCompletedTasks }", "clearCompletedTasks"),
    ];
    for (query, field) in operations {
        let body = app.graphql(Some(&ada), query, json!({ "id": id })).await;
        assert_eq!(body["errors"], Value::Null, "{field}: {body}");
        assert_ne!(body["data"][field], Value::Null, "{field}: {body}");
    }
    let again = app.create_task(&ada, "to delete").await;
    let deleted =
        app.graphql(Some(&ada), "mutation($id: ID!) { deleteTask(id: $id) }", json!({ "id": again["id"] })).await;
    assert_eq!(deleted["data"]["deleteTask"], again["id"], "{deleted}");
    assert_eq!(app.get("/ready").await.status(), reqwest::StatusCode::OK);

    // The role really has no more than that.
    let as_role = sea_orm::Database::connect(url.as_str()).await.unwrap();
    for sql in ["UPDATE session SET \"userAgent\" = 'x'", "DELETE FROM \"user\"", "SELECT 1 FROM account"] {
        assert!(as_role.execute_unprepared(sql).await.is_err(), "the role may: {sql}");
    }
    as_role.close().await.unwrap();
    drop(app);
    drop_role(&role).await;
}

#[tokio::test]
async fn a_role_that_may_not_read_the_session_table_is_told_at_start_up() {
    let (database, role, url) = restricted().await;
    let admin = database.connect().await;
    admin.execute_unprepared(&format!("REVOKE SELECT ON session FROM {role}")).await.unwrap();
    admin.close().await.unwrap();
    let mut config = test_config(&database.url);
    config.database.url = secrecy::SecretString::from(url);
    let Err(err) = todo_graphql::startup::Application::build(&config).await else { panic!("it started") };
    let message = format!("{err:#}");
    assert!(message.contains(r#"this role may not read "session"."token""#), "{message}");
    drop(database);
    drop_role(&role).await;
}
