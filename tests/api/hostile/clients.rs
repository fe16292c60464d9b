//! The client suite's operations (tests/clients), as Apollo Client and urql send
//! them, still answer without errors once the limits are on.

use serde_json::{Value, json};

use super::{hash_only, persisted, service::Service};

const TASK_FIELDS: &str = "fragment TaskFields on Task { id title description completed updatedAt __typename }";

/// Posts one operation signed in; its `data`, after checking it was cheap and error-free.
async fn answered(service: &Service, cookie: &str, label: &str, request: Value) -> Value {
    service.post(label, request.to_string(), Some(cookie)).await.assert_cheap().assert_answered().clone()
}

#[tokio::test]
async fn the_client_suites_operations_still_answer() {
    let service = Service::start(&[]).await;
    let cookie = service.sign_in().await;
    let create = format!(
        "mutation Create($input: CreateTaskInput!) {{ createTask(input: $input) {{ ...TaskFields __typename }} }}\n{TASK_FIELDS}"
    );
    let created = answered(
        &service,
        &cookie,
        "Create",
        json!({ "query": create, "variables": { "input": { "title": "  Apollo  " } } }),
    )
    .await;
    let id = created["createTask"]["id"].clone();
    assert_eq!(created["createTask"]["title"], "Apollo");
    let operations = [
        (
            "Update",
            "mutation Update($id: ID!) { updateTask(id: $id, input: { description: \"via Apollo\" }) { id description __typename } }",
        ),
        ("Toggle", "mutation Toggle($id: ID!) { toggleTask(id: $id) { id completed __typename } }"),
        ("Clear", "mutation Clear { clearCompletedTasks }"),
    ];
    for (label, query) in operations {
        answered(&service, &cookie, label, json!({ "query": query, "variables": { "id": id } })).await;
    }
    let list = format!(
        "query Tasks {{ tasks(first: 50) {{ nodes {{ ...TaskFields __typename }} totalCount __typename }} }}\n{TASK_FIELDS}"
    );
    answered(&service, &cookie, "Tasks", json!({ "query": list })).await;
    let another = answered(
        &service,
        &cookie,
        "Create",
        json!({ "query": create, "variables": { "input": { "title": "to delete" } } }),
    )
    .await;
    let deleted = answered(
        &service,
        &cookie,
        "Delete",
        json!({
            "query": "mutation Delete($id: ID!) { deleteTask(id: $id) }",
            "variables": { "id": another["createTask"]["id"] },
        }),
    )
    .await;
    assert_eq!(deleted["deleteTask"], another["createTask"]["id"]);

    let urql = [
        json!({ "query": "mutation ($title: String!) { createTask(input: { title: $title }) { id title __typename } }", "variables": { "title": "from urql" } }),
        json!({ "query": "{ me { email __typename } tasks { nodes { id title __typename } __typename } }" }),
        json!({ "query": "{ taskStats { total __typename } }" }),
        json!({ "query": "{ me { id email } }" }),
    ];
    for request in urql {
        answered(&service, &cookie, "urql and better-auth", request).await;
    }
    let fixtures = include_str!("../../clients/fixtures/operations.graphql");
    answered(
        &service,
        &cookie,
        "operations.graphql Tasks",
        json!({ "query": fixtures, "operationName": "Tasks", "variables": { "first": 10 } }),
    )
    .await;
    answered(
        &service,
        &cookie,
        "operations.graphql CreateTask",
        json!({
            "query": fixtures, "operationName": "CreateTask", "variables": { "input": { "title": "codegen" } },
        }),
    )
    .await;
}

#[tokio::test]
async fn apollos_persisted_queries_and_batches_still_answer() {
    let service = Service::start(&[]).await;
    let cookie = service.sign_in().await;
    let stats = "query PersistedStats { taskStats { total __typename } }";
    let miss = service.post("APQ miss", hash_only(stats), Some(&cookie)).await;
    assert_eq!(miss.code(), Some("PERSISTED_QUERY_NOT_FOUND"));
    service.post("APQ register", persisted(stats), Some(&cookie)).await.assert_cheap().assert_answered();
    service.post("APQ hit", hash_only(stats), Some(&cookie)).await.assert_cheap().assert_answered();

    let batched = "query Batched($first: Int) { tasks(first: $first) { totalCount __typename } }";
    let batch: Vec<Value> =
        (1..=10).map(|first| json!({ "query": batched, "variables": { "first": first } })).collect();
    let measured = service.post("BatchHttpLink", Value::from(batch).to_string(), Some(&cookie)).await;
    measured.assert_cheap();
    let answers = measured.body.as_array().unwrap_or_else(|| panic!("not a batch answer: {}", measured.body));
    assert_eq!(answers.len(), 10);
    for answer in answers {
        assert!(answer.get("errors").is_none(), "{answer}");
        assert_eq!(answer["data"]["tasks"]["totalCount"], 0);
    }
}
