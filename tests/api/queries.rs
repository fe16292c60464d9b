//! Queries: `task`, `taskStats`, filters, search, `owner` batching, lazy counts.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn task_finds_the_users_own_task_and_nothing_else() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let bob = app.create_user("Bob").await;
    let task = app.create_task(&ada, "Buy milk").await;
    let query = "query($id: ID!) { task(id: $id) { id title owner { id } } }";

    let body = app.graphql(Some(&ada), query, json!({ "id": task["id"] })).await;
    assert_eq!(body["data"]["task"]["title"], "Buy milk", "{body}");
    assert_eq!(body["data"]["task"]["owner"]["id"], ada.id.as_str());

    let missing = uuid::Uuid::now_v7().to_string();
    for (user, id) in [(&bob, task["id"].as_str().unwrap()), (&ada, missing.as_str())] {
        let body = app.graphql(Some(user), query, json!({ "id": id })).await;
        assert_eq!(body, json!({ "data": { "task": null } }), "another user's task and no task look alike");
    }

    let body = app.graphql(Some(&ada), query, json!({ "id": "not-a-uuid" })).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(error_field(&body), "id");
}

#[tokio::test]
async fn task_stats_count_by_status_for_the_user_only() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let bob = app.create_user("Bob").await;
    for title in ["a", "b", "c"] {
        app.create_task(&ada, title).await;
    }
    let done = app.create_task(&ada, "d").await;
    app.graphql(Some(&ada), "mutation($id: ID!) { toggleTask(id: $id) { id } }", json!({ "id": done["id"] })).await;
    app.create_task(&bob, "bob's").await;

    let body = app.graphql(Some(&ada), "{ taskStats { total pending completed } }", json!({})).await;
    assert_eq!(body["data"]["taskStats"], json!({ "total": 4, "pending": 3, "completed": 1 }));
    let body = app.graphql(Some(&bob), "{ taskStats { total pending completed } }", json!({})).await;
    assert_eq!(body["data"]["taskStats"], json!({ "total": 1, "pending": 1, "completed": 0 }));
}

async fn titles(app: &TestApp, user: &TestUser, filter: Value) -> Vec<String> {
    let body = app
        .graphql(
            Some(user),
            "query($filter: TaskFilter) { tasks(filter: $filter, orderBy: { field: TITLE, direction: ASC }) { nodes { title } totalCount } }",
            json!({ "filter": filter }),
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let titles: Vec<String> = body["data"]["tasks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(body["data"]["tasks"]["totalCount"], titles.len(), "totalCount follows the filter");
    titles
}

#[tokio::test]
async fn search_is_case_insensitive_and_takes_wildcards_literally() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    for title in ["100% done", "1000 done", "snake_case", "snakeXcase", r"back\slash", "Milk"] {
        app.create_task(&ada, title).await;
    }
    app.graphql(
        Some(&ada),
        "mutation { createTask(input: { title: \"groceries\", description: \"more MILK\" }) { id } }",
        json!({}),
    )
    .await;
    assert_eq!(titles(&app, &ada, json!({ "search": "%" })).await, ["100% done"]);
    assert_eq!(titles(&app, &ada, json!({ "search": "e_c" })).await, ["snake_case"]);
    assert_eq!(titles(&app, &ada, json!({ "search": r"k\s" })).await, [r"back\slash"]);
    assert_eq!(titles(&app, &ada, json!({ "search": "milk" })).await, ["Milk", "groceries"]);
    assert_eq!(titles(&app, &ada, json!({ "search": "" })).await.len(), 7);
}

#[tokio::test]
async fn the_status_filter_answers_only_pending_or_only_completed_tasks() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    app.create_task(&ada, "open").await;
    let done = app.create_task(&ada, "done").await;
    app.graphql(Some(&ada), "mutation($id: ID!) { toggleTask(id: $id) { id } }", json!({ "id": done["id"] })).await;
    assert_eq!(titles(&app, &ada, json!({ "status": "PENDING" })).await, ["open"]);
    assert_eq!(titles(&app, &ada, json!({ "status": "COMPLETED" })).await, ["done"]);
    assert_eq!(titles(&app, &ada, json!({ "status": "ALL" })).await, ["done", "open"]);
    assert_eq!(titles(&app, &ada, json!({})).await, ["done", "open"]);
}

#[tokio::test]
async fn a_search_with_a_nul_character_is_bad_input() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let body = app
        .graphql(
            Some(&ada),
            "query($s: String) { tasks(filter: { search: $s }) { totalCount } }",
            json!({ "s": "a\u{0}" }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(error_field(&body), "search");
}

/// Statements one request costs, counted by the service's own pool.
async fn statements_for(app: &TestApp, user: &TestUser, query: &str) -> u64 {
    let before = app.statements.get();
    let body = app.graphql(Some(user), query, json!({})).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    app.statements.get() - before
}

#[tokio::test]
async fn owners_are_batched_and_total_count_runs_only_when_asked() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    app.insert_tasks(&ada.id, (1..=100).map(|n| format!("task {n}")), chrono::Utc::now()).await;

    let page = |n: u32| format!("{{ tasks(first: {n}) {{ nodes {{ id title }} }} }}");
    let with_owner = |n: u32| format!("{{ tasks(first: {n}) {{ nodes {{ id owner {{ id email }} }} }} }}");
    let plain = statements_for(&app, &ada, &page(20)).await;
    let expected = match crate::BACKEND {
        // The session lookup reads the page in the same statement.
        todo_graphql::config::Backend::Postgres => 1,
        // SQLite has no lateral join: the session lookup, then the page.
        todo_graphql::config::Backend::Sqlite => 2,
    };
    assert_eq!(plain, expected, "session lookup and page");
    assert_eq!(statements_for(&app, &ada, &with_owner(2)).await, statements_for(&app, &ada, &with_owner(100)).await);
    assert_eq!(statements_for(&app, &ada, &with_owner(100)).await, plain, "owners come from the session lookup");
    let counted = statements_for(&app, &ada, "{ tasks(first: 20) { nodes { id } totalCount } }").await;
    assert_eq!(counted, plain + 1, "totalCount is one count query, and only when selected");
}

#[tokio::test]
async fn introspection_and_typename_never_touch_the_database() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    assert_eq!(statements_for(&app, &ada, "{ __typename }").await, 0);
    assert_eq!(statements_for(&app, &ada, include_str!("../fixtures/introspection.graphql")).await, 0);
}

#[tokio::test]
async fn case_insensitive_search_of_non_ascii_text_depends_on_the_backend() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    for title in ["Ärger mit Äpfeln", "Apple pie"] {
        app.create_task(&ada, title).await;
    }
    assert_eq!(titles(&app, &ada, json!({ "search": "APPLE" })).await, ["Apple pie"], "ASCII folds everywhere");
    let folded = titles(&app, &ada, json!({ "search": "äpfel" })).await;
    match crate::BACKEND {
        todo_graphql::config::Backend::Postgres => assert_eq!(folded, ["Ärger mit Äpfeln"], "ILIKE folds ä/Ä"),
        todo_graphql::config::Backend::Sqlite => assert!(folded.is_empty(), "SQLite's LIKE folds ASCII only"),
    }
    assert_eq!(titles(&app, &ada, json!({ "search": "Äpfel" })).await, ["Ärger mit Äpfeln"], "exact case matches");
}
