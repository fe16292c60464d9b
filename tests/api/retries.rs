//! Retry-safe creates (`clientMutationId`) and ids accepted only in the one form
//! the service writes them.

use serde_json::{Value, json};

use crate::helpers::*;

const CREATE: &str = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id title completed } }";

async fn create(app: &TestApp, user: &TestUser, input: Value) -> Value {
    app.graphql(Some(user), CREATE, json!({ "input": input })).await
}

async fn task_count(app: &TestApp) -> i64 {
    app.scalar("SELECT count(*) FROM tasks", []).await
}

#[tokio::test]
async fn the_same_client_mutation_id_twice_creates_one_task_and_answers_it_both_times() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let bob = app.create_user("Bob").await;
    let input = json!({ "title": "Buy milk", "clientMutationId": "6f1c1b1e-2a52-4c7e-9d0b-8a1c5e2f3d4a" });

    let first = create(&app, &ada, input.clone()).await;
    let again = create(&app, &ada, input.clone()).await;
    assert_eq!(first["errors"], Value::Null, "{first}");
    assert_eq!(again, first, "the retry answers the same task");
    assert_eq!(task_count(&app).await, 1);

    // The key is the user's own: another user's identical key makes their own task.
    let bobs = create(&app, &bob, input).await;
    assert_ne!(bobs["data"]["createTask"]["id"], first["data"]["createTask"]["id"], "{bobs}");
    // Without a key, every create is a new task.
    create(&app, &ada, json!({ "title": "Buy milk" })).await;
    create(&app, &ada, json!({ "title": "Buy milk" })).await;
    assert_eq!(task_count(&app).await, 4);
}

#[tokio::test]
async fn a_retry_answers_the_task_as_it_is_now_and_not_at_all_once_it_is_deleted() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let input = json!({ "title": "t", "clientMutationId": "k1" });
    let id = create(&app, &ada, input.clone()).await["data"]["createTask"]["id"].clone();
    app.graphql(Some(&ada), "mutation($id: ID!) { toggleTask(id: $id) { id } }", json!({ "id": id })).await;
    let again = create(&app, &ada, input.clone()).await;
    assert_eq!(again["data"]["createTask"], json!({ "id": id, "title": "t", "completed": true }));

    app.graphql(Some(&ada), "mutation($id: ID!) { deleteTask(id: $id) }", json!({ "id": id })).await;
    let late = create(&app, &ada, input).await;
    assert_eq!(error_code(&late), "NOT_FOUND", "a late retry never brings a deleted task back: {late}");
    assert_eq!(task_count(&app).await, 0);
}

#[tokio::test]
async fn the_same_key_with_other_input_is_refused_and_creates_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    create(&app, &ada, json!({ "title": "t", "clientMutationId": "k" })).await;
    for other in [
        json!({ "title": "other", "clientMutationId": "k" }),
        json!({ "title": "t", "completed": true, "clientMutationId": "k" }),
        json!({ "title": "t", "description": "", "clientMutationId": "k" }),
    ] {
        let body = create(&app, &ada, other.clone()).await;
        assert_eq!((error_code(&body), error_field(&body)), ("BAD_USER_INPUT", "clientMutationId"), "{other}");
    }
    // The same input once trimmed is the same input.
    let body = create(&app, &ada, json!({ "title": "  t ", "clientMutationId": "k" })).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(task_count(&app).await, 1);
}

#[tokio::test]
async fn client_mutation_ids_are_bounded_and_a_bad_one_writes_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    for good in ["a", &"k".repeat(64), "~!#$%&*+-./:;<=>?@[]^_`{|}"] {
        let body = create(&app, &ada, json!({ "title": "t", "clientMutationId": good })).await;
        assert_eq!(body["errors"], Value::Null, "{good:?}: {body}");
    }
    for bad in ["", &"k".repeat(65), "has space", "ключ", "tab\t", "nul\u{0}", "line\n"] {
        let body = create(&app, &ada, json!({ "title": "t", "clientMutationId": bad })).await;
        assert_eq!((error_code(&body), error_field(&body)), ("BAD_USER_INPUT", "clientMutationId"), "{bad:?}");
    }
    assert_eq!(task_count(&app).await, 3);
    let records: i64 = app.scalar("SELECT count(*) FROM task_creations", []).await;
    assert_eq!(records, 3);
}

#[tokio::test]
async fn concurrent_creates_with_one_key_create_one_task() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let input = json!({ "title": "once", "clientMutationId": "racing" });
    let creates = (0..12).map(|_| create(&app, &ada, input.clone()));
    let bodies = futures_util::future::join_all(creates).await;
    for body in &bodies {
        assert_eq!(body, &bodies[0], "every racer answers the same task");
    }
    assert_eq!(bodies[0]["errors"], Value::Null, "{}", bodies[0]);
    assert_eq!(task_count(&app).await, 1);
}

#[tokio::test]
async fn keys_are_kept_two_days_then_expire_and_are_purged() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let input = json!({ "title": "t", "clientMutationId": "aging" });
    let first = create(&app, &ada, input.clone()).await;
    let age = |hours: i64| chrono::Utc::now() - chrono::Duration::hours(hours);

    app.execute("UPDATE task_creations SET created_at = $1", [age(47).into()]).await;
    assert_eq!(create(&app, &ada, input.clone()).await, first, "still remembered after 47 hours");

    app.execute("UPDATE task_creations SET created_at = $1", [age(49).into()]).await;
    let later = create(&app, &ada, input).await;
    assert_ne!(later["data"]["createTask"]["id"], first["data"]["createTask"]["id"], "{later}");
    assert_eq!(task_count(&app).await, 2);

    // Old records of other keys go a few at a time with each keyed create.
    for key in ["old-1", "old-2", "old-3"] {
        app.execute(
            "INSERT INTO task_creations (user_id, client_mutation_id, task_id, request_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
            [ada.id.clone().into(), key.into(), uuid::Uuid::now_v7().into(), "0".repeat(64).into(), age(72).into()],
        )
        .await;
    }
    create(&app, &ada, json!({ "title": "t", "clientMutationId": "fresh" })).await;
    let left: i64 = app.scalar("SELECT count(*) FROM task_creations", []).await;
    assert_eq!(left, 2, "only the two live keys remain");
}

/// The other spellings of `id` that a UUID parser would take.
fn other_forms(id: &str) -> [String; 4] {
    [format!("{{{id}}}"), format!("urn:uuid:{id}"), id.replace('-', ""), id.to_uppercase()]
}

#[tokio::test]
async fn only_the_canonical_id_form_is_accepted_by_every_field_taking_an_id() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let task = app.create_task(&ada, "keep").await;
    let id = task["id"].as_str().unwrap().to_owned();
    let before = app.task_row(&task["id"]).await;
    for form in other_forms(&id) {
        for query in [
            "query($id: ID!) { task(id: $id) { id } }",
            "mutation($id: ID!) { updateTask(id: $id, input: { title: \"x\" }) { id } }",
            "mutation($id: ID!) { toggleTask(id: $id) { id } }",
            "mutation($id: ID!) { deleteTask(id: $id) }",
        ] {
            let body = app.graphql(Some(&ada), query, json!({ "id": form })).await;
            assert_eq!((error_code(&body), error_field(&body)), ("BAD_USER_INPUT", "id"), "{query} {form}: {body}");
        }
    }
    assert_eq!(app.task_row(&task["id"]).await, before, "nothing changed");
    let body = app.graphql(Some(&ada), "mutation($id: ID!) { deleteTask(id: $id) }", json!({ "id": id })).await;
    assert_eq!(body["data"]["deleteTask"], id.as_str(), "the id exactly as sent and as served");
}
