//! Cursor pagination: by key, both directions, stable under equal timestamps.

use serde_json::{Value, json};

use crate::helpers::*;

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String, $order: TaskOrder) {
  tasks(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    edges { cursor node { id title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

/// `count` tasks of `user` that all share one `created_at`, titled `t00`, `t01`, …
async fn same_instant_tasks(app: &TestApp, user: &TestUser, count: i32) {
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-26T12:00:00.123456Z").unwrap().to_utc();
    app.insert_tasks(&user.id, (0..count).map(|n| format!("t{n:02}")), at).await;
}

async fn page(app: &TestApp, user: &TestUser, variables: Value) -> Value {
    let body = app.graphql(Some(user), PAGE, variables).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["tasks"].clone()
}

fn ids(page: &Value) -> Vec<String> {
    page["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()).collect()
}

/// Every id of the user's tasks, walking forward (or backward) `size` at a time.
async fn walk(app: &TestApp, user: &TestUser, size: i32, order: Value, backward: bool) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let variables = if backward {
            json!({ "last": size, "before": cursor, "order": order })
        } else {
            json!({ "first": size, "after": cursor, "order": order })
        };
        let page = page(app, user, variables).await;
        let mut batch = ids(&page);
        let info = &page["pageInfo"];
        if backward {
            batch.extend(seen);
            seen = batch;
            cursor = info["startCursor"].clone();
            if info["hasPreviousPage"] == false {
                return seen;
            }
        } else {
            seen.extend(batch);
            cursor = info["endCursor"].clone();
            if info["hasNextPage"] == false {
                return seen;
            }
        }
        assert!(seen.len() <= 1000, "paging does not end");
    }
}

#[tokio::test]
async fn paging_forward_and_backward_sees_every_task_once_in_order_despite_equal_timestamps() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let bob = app.create_user("Bob").await;
    same_instant_tasks(&app, &ada, 45).await;
    same_instant_tasks(&app, &bob, 5).await;

    let all = page(&app, &ada, json!({ "first": 100 })).await;
    let expected = ids(&all);
    assert_eq!(expected.len(), 45, "Bob's tasks are not in Ada's list");
    assert_eq!(all["pageInfo"]["hasNextPage"], false);
    assert_eq!(all["pageInfo"]["hasPreviousPage"], false);

    let default_order = json!({ "field": "CREATED_AT", "direction": "DESC" });
    assert_eq!(walk(&app, &ada, 10, default_order.clone(), false).await, expected);
    assert_eq!(walk(&app, &ada, 7, default_order, true).await, expected);
}

#[tokio::test]
async fn paging_in_every_order_sees_every_task_once_in_that_order() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    same_instant_tasks(&app, &ada, 12).await;
    app.create_task(&ada, "a later one").await;
    for field in ["CREATED_AT", "UPDATED_AT", "TITLE"] {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let all = ids(&page(&app, &ada, json!({ "first": 100, "order": order })).await);
            assert_eq!(walk(&app, &ada, 5, order.clone(), false).await, all, "{order}");
            assert_eq!(walk(&app, &ada, 4, order.clone(), true).await, all, "{order}");
        }
    }
    let by_title = page(&app, &ada, json!({ "first": 3, "order": { "field": "TITLE", "direction": "ASC" } })).await;
    let titles: Vec<&str> =
        by_title["edges"].as_array().unwrap().iter().map(|e| e["node"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["a later one", "t00", "t01"]);
    let newest = page(&app, &ada, json!({ "first": 1 })).await;
    assert_eq!(newest["edges"][0]["node"]["title"], "a later one", "newest first by default");
}

#[tokio::test]
async fn the_default_page_is_twenty_and_sizes_outside_one_to_a_hundred_are_refused() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    same_instant_tasks(&app, &ada, 30).await;
    assert_eq!(ids(&page(&app, &ada, json!({})).await).len(), 20);
    assert_eq!(ids(&page(&app, &ada, json!({ "first": 100 })).await).len(), 30);
    assert_eq!(ids(&page(&app, &ada, json!({ "last": 1 })).await).len(), 1);
    for (variables, field) in [
        (json!({ "first": 0 }), "first"),
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "last": 101 }), "last"),
        (json!({ "first": 5, "last": 5 }), "last"),
    ] {
        let body = app.graphql(Some(&ada), PAGE, variables.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{variables}");
        assert_eq!(error_field(&body), field, "{variables}");
    }
}

#[tokio::test]
async fn forged_or_foreign_cursors_are_bad_input() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    same_instant_tasks(&app, &ada, 3).await;
    let first = page(&app, &ada, json!({ "first": 1 })).await;
    let cursor = first["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let title_order = json!({ "field": "TITLE", "direction": "ASC" });
    for (variables, field) in [
        (json!({ "first": 1, "after": "bm90IGEgY3Vyc29y" }), "after"),
        (json!({ "first": 1, "after": tampered }), "after"),
        (json!({ "last": 1, "before": "%%%" }), "before"),
        (json!({ "first": 1, "after": cursor, "order": title_order }), "after"),
    ] {
        let body = app.graphql(Some(&ada), PAGE, variables.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{variables}");
        assert_eq!(error_field(&body), field);
    }
    let next = page(&app, &ada, json!({ "first": 5, "after": cursor })).await;
    assert_eq!(ids(&next).len(), 2);
    assert_eq!(next["pageInfo"]["hasPreviousPage"], true);
}
