//! Mutations: validation at the edges, `updatedAt`, atomic toggles, isolation.

use serde_json::{Value, json};

use crate::helpers::*;

const CREATE: &str = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id title description completed createdAt updatedAt owner { id } } }";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id title description completed createdAt updatedAt } }";
const TOGGLE: &str = "mutation($id: ID!) { toggleTask(id: $id) { id completed updatedAt } }";
const DELETE: &str = "mutation($id: ID!) { deleteTask(id: $id) }";

async fn task_count(app: &TestApp) -> i64 {
    app.scalar("SELECT count(*) FROM tasks", []).await
}

/// The stored row, to show nothing changed.
async fn row(app: &TestApp, id: &Value) -> entity::tasks::Model {
    app.task_row(id).await
}

#[tokio::test]
async fn create_task_trims_defaults_and_stamps_times_in_utc() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let body = app.graphql(Some(&ada), CREATE, json!({ "input": { "title": "  Buy milk\n" } })).await;
    let task = &body["data"]["createTask"];
    assert_eq!(task["title"], "Buy milk", "{body}");
    assert_eq!(task["description"], Value::Null);
    assert_eq!(task["completed"], false);
    assert_eq!(task["owner"]["id"], ada.id.as_str());
    assert_eq!(task["createdAt"], task["updatedAt"]);
    let created = chrono::DateTime::parse_from_rfc3339(task["createdAt"].as_str().unwrap()).unwrap();
    assert!(task["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!((chrono::Utc::now() - created.to_utc()).num_seconds().abs() < 60);
    uuid::Uuid::parse_str(task["id"].as_str().unwrap()).unwrap();

    let body = app
        .graphql(Some(&ada), CREATE, json!({ "input": { "title": "Done", "description": "ü", "completed": true } }))
        .await;
    assert_eq!(body["data"]["createTask"]["completed"], true);
    assert_eq!(body["data"]["createTask"]["description"], "ü");
}

#[tokio::test]
async fn titles_and_descriptions_are_checked_at_their_edges_and_bad_ones_change_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let good = [
        json!({ "title": "x".repeat(199) }),
        json!({ "title": "x".repeat(200) }),
        json!({ "title": format!("   {}   ", "x".repeat(200)) }),
        json!({ "title": "日".repeat(200) }),
        json!({ "title": "🦀".repeat(200) }),
        json!({ "title": "t", "description": "é".repeat(1000) }),
    ];
    for input in &good {
        let body = app.graphql(Some(&ada), CREATE, json!({ "input": input })).await;
        assert_eq!(body["errors"], Value::Null, "{input}: {body}");
    }
    let bad = [
        (json!({ "title": "x".repeat(201) }), "title"),
        (json!({ "title": "日".repeat(201) }), "title"),
        (json!({ "title": "" }), "title"),
        (json!({ "title": " \t\n " }), "title"),
        (json!({ "title": "a\u{0}b" }), "title"),
        (json!({ "title": "t", "description": "é".repeat(1001) }), "description"),
        (json!({ "title": "t", "description": "nul\u{0}" }), "description"),
    ];
    let count = task_count(&app).await;
    for (input, field) in &bad {
        let body = app.graphql(Some(&ada), CREATE, json!({ "input": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}");
        assert_eq!(error_field(&body), *field, "{input}");
        assert_eq!(body["data"], Value::Null);
    }
    assert_eq!(task_count(&app).await, count, "a refused create wrote nothing");
}

#[tokio::test]
async fn update_changes_only_what_it_names_and_moves_updated_at_forward() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let body = app.graphql(Some(&ada), CREATE, json!({ "input": { "title": "t", "description": "d" } })).await;
    let task = body["data"]["createTask"].clone();

    let body = app.graphql(Some(&ada), UPDATE, json!({ "id": task["id"], "input": { "title": " new " } })).await;
    let updated = &body["data"]["updateTask"];
    assert_eq!(updated["title"], "new", "{body}");
    assert_eq!(updated["description"], "d");
    assert_eq!(updated["completed"], false);
    assert_eq!(updated["createdAt"], task["createdAt"]);
    assert!(updated["updatedAt"].as_str() > task["updatedAt"].as_str(), "{updated}");

    let body = app.graphql(Some(&ada), UPDATE, json!({ "id": task["id"], "input": { "description": null } })).await;
    assert_eq!(body["data"]["updateTask"]["description"], Value::Null, "null clears the description");
    assert_eq!(body["data"]["updateTask"]["title"], "new");
    let mut last = body["data"]["updateTask"]["updatedAt"].as_str().unwrap().to_owned();

    // Many updates in a row, faster than the clock ticks: each still moves forward.
    for n in 0..5 {
        let body =
            app.graphql(Some(&ada), UPDATE, json!({ "id": task["id"], "input": { "completed": n % 2 == 0 } })).await;
        let now = body["data"]["updateTask"]["updatedAt"].as_str().unwrap().to_owned();
        assert!(now > last, "{now} after {last}");
        last = now;
    }
}

#[tokio::test]
async fn bad_updates_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let task = app.create_task(&ada, "keep").await;
    let before = row(&app, &task["id"]).await;
    let cases = [
        (json!({ "title": null }), "title"),
        (json!({ "title": "   " }), "title"),
        (json!({ "title": "x".repeat(201) }), "title"),
        (json!({ "completed": null }), "completed"),
        (json!({ "title": "ok", "description": "d".repeat(1001) }), "description"),
    ];
    for (input, field) in cases {
        let body = app.graphql(Some(&ada), UPDATE, json!({ "id": task["id"], "input": input })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}");
        assert_eq!(error_field(&body), field, "{input}");
    }
    let body = app.graphql(Some(&ada), UPDATE, json!({ "id": "42", "input": { "title": "x" } })).await;
    assert_eq!((error_code(&body), error_field(&body)), ("BAD_USER_INPUT", "id"));
    assert_eq!(row(&app, &task["id"]).await, before);
}

#[tokio::test]
async fn another_users_task_is_not_found_by_every_mutation_and_stays_unchanged() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let bob = app.create_user("Bob").await;
    let task = app.create_task(&ada, "Ada's").await;
    app.graphql(Some(&ada), TOGGLE, json!({ "id": task["id"] })).await;
    let before = row(&app, &task["id"]).await;
    let missing = json!(uuid::Uuid::now_v7().to_string());

    for id in [&task["id"], &missing] {
        for (query, variables) in [
            (UPDATE, json!({ "id": id, "input": { "title": "mine now" } })),
            (TOGGLE, json!({ "id": id })),
            (DELETE, json!({ "id": id })),
        ] {
            let body = app.graphql(Some(&bob), query, variables).await;
            assert_eq!(error_code(&body), "NOT_FOUND", "{query} {id}: {body}");
            assert_eq!(body["data"], Value::Null);
        }
    }
    let body = app.graphql(Some(&bob), "mutation { clearCompletedTasks }", json!({})).await;
    assert_eq!(body["data"]["clearCompletedTasks"], 0);
    assert_eq!(row(&app, &task["id"]).await, before, "Ada's task is untouched");
}

#[tokio::test]
async fn fifty_concurrent_toggles_land_on_the_state_their_parity_implies() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let task = app.create_task(&ada, "flip").await;
    let toggles = (0..50).map(|_| app.graphql(Some(&ada), TOGGLE, json!({ "id": task["id"] })));
    let bodies = futures_util::future::join_all(toggles).await;
    for body in &bodies {
        assert_eq!(body["errors"], Value::Null, "{body}");
    }
    let completed: bool = app.scalar("SELECT completed FROM tasks", []).await;
    assert!(!completed, "50 flips of false leave false");
    let trues = bodies.iter().filter(|b| b["data"]["toggleTask"]["completed"] == true).count();
    assert_eq!(trues, 25, "each toggle saw the state the previous one left");
    let body = app.graphql(Some(&ada), TOGGLE, json!({ "id": task["id"] })).await;
    assert_eq!(body["data"]["toggleTask"]["completed"], true);
}

#[tokio::test]
async fn delete_returns_the_id_and_the_task_is_gone() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let task = app.create_task(&ada, "bye").await;
    let body = app.graphql(Some(&ada), DELETE, json!({ "id": task["id"] })).await;
    assert_eq!(body["data"]["deleteTask"], task["id"]);
    let body = app.graphql(Some(&ada), "query($id: ID!) { task(id: $id) { id } }", json!({ "id": task["id"] })).await;
    assert_eq!(body["data"]["task"], Value::Null);
    let body = app.graphql(Some(&ada), DELETE, json!({ "id": task["id"] })).await;
    assert_eq!(error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn clear_completed_deletes_only_the_users_completed_tasks() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let bob = app.create_user("Bob").await;
    for user in [&ada, &bob] {
        for title in ["done 1", "done 2", "open"] {
            let task = app.create_task(user, title).await;
            if title.starts_with("done") {
                app.graphql(Some(user), TOGGLE, json!({ "id": task["id"] })).await;
            }
        }
    }
    let body = app.graphql(Some(&ada), "mutation { clearCompletedTasks }", json!({})).await;
    assert_eq!(body["data"]["clearCompletedTasks"], 2);
    let left: i64 = app.scalar("SELECT count(*) FROM tasks WHERE user_id = $1", [ada.id.clone().into()]).await;
    assert_eq!(left, 1);
    let bobs: i64 = app.scalar("SELECT count(*) FROM tasks WHERE user_id = $1", [bob.id.clone().into()]).await;
    assert_eq!(bobs, 3);
}
