//! Who is signed in: cookies and bearers as Better Auth makes them.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::*;

const ME: &str = "{ me { id email } }";

async fn me_with(app: &TestApp, header: (&str, String)) -> Value {
    let body = app.graphql_with((header.0, &header.1), ME).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["me"].clone()
}

#[tokio::test]
async fn without_a_session_me_is_null() {
    let app = spawn_app().await;
    let body = app.graphql(None, ME, json!({})).await;
    assert_eq!(body, json!({ "data": { "me": null } }));
}

#[tokio::test]
async fn a_signed_cookie_signs_in_its_user_with_every_field() {
    let app = spawn_app().await;
    let user = app.create_user("Ada").await;
    let body = app.graphql(Some(&user), "{ me { id name email emailVerified image createdAt } }", json!({})).await;
    let me = &body["data"]["me"];
    assert_eq!(me["id"], user.id.as_str(), "{body}");
    assert_eq!(me["name"], "Ada");
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["emailVerified"], false);
    assert_eq!(me["image"], Value::Null);
    let created = me["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == "2026-01-26T12:00:00.123Z".len(), "{created}");
}

#[tokio::test]
async fn the_better_auth_vectors_sign_in_exactly_when_better_auth_accepted_them() {
    let app = spawn_app().await;
    let vectors: Value = serde_json::from_str(include_str!("../fixtures/better-auth/vectors.json")).unwrap();
    for vector in vectors["vectors"].as_array().unwrap() {
        assert_eq!(vector["secret"], SECRET, "the vectors were signed with the test secret");
        // A live session for the vector's token, so only the signature decides.
        let user = app.create_user("Vector").await;
        let token = vector["token"].as_str().unwrap();
        app.execute(r#"DELETE FROM session WHERE token = $1"#, [token.into()]).await;
        app.add_session(&user.id, token, Utc::now() + Duration::days(1)).await;

        let me = me_with(&app, ("cookie", vector["cookie_header"].as_str().unwrap().to_owned())).await;
        let accepted = vector["observed_better_auth_get_session"]["accepted"].as_bool().unwrap();
        let description = vector["description"].as_str().unwrap();
        if accepted {
            assert_eq!(me["id"], user.id.as_str(), "{description}");
        } else {
            assert_eq!(me, Value::Null, "{description}");
        }
    }
}

#[tokio::test]
async fn the_secure_prefixed_cookie_signs_in_too() {
    let app = spawn_app().await;
    let user = app.create_user("Ada").await;
    let cookie = format!("theme=dark; __Secure-better-auth.session_token={}", signed_cookie_value(SECRET, &user.token));
    assert_eq!(me_with(&app, ("cookie", cookie)).await["id"], user.id.as_str());
}

#[tokio::test]
async fn a_custom_cookie_prefix_is_honoured() {
    let app = spawn_app_with(|config| config.cookie_prefix = "myapp".into()).await;
    let user = app.create_user("Ada").await;
    let value = signed_cookie_value(SECRET, &user.token);
    assert_eq!(me_with(&app, ("cookie", format!("myapp.session_token={value}"))).await["id"], user.id.as_str());
    assert_eq!(me_with(&app, ("cookie", user.cookie())).await, Value::Null);
}

#[tokio::test]
async fn a_bearer_token_signs_in_bare_or_signed() {
    let app = spawn_app().await;
    let user = app.create_user("Ada").await;
    let signed = signed_cookie_value(SECRET, &user.token);
    let decoded = signed.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=");
    for value in [format!("Bearer {}", user.token), format!("bearer {signed}"), format!("Bearer {decoded}")] {
        assert_eq!(me_with(&app, ("authorization", value.clone())).await["id"], user.id.as_str(), "{value}");
    }
}

#[tokio::test]
async fn a_valid_bearer_wins_and_an_invalid_one_falls_back_to_the_cookie() {
    let app = spawn_app().await;
    let cookie_user = app.create_user("Cookie").await;
    let bearer_user = app.create_user("Bearer").await;
    let send = |authorization: String| {
        app.post()
            .header("cookie", cookie_user.cookie())
            .header("authorization", authorization)
            .json(&json!({ "query": ME }))
            .send()
    };
    let body: Value = send(format!("Bearer {}", bearer_user.token)).await.unwrap().json().await.unwrap();
    assert_eq!(body["data"]["me"]["id"], bearer_user.id.as_str());
    let forged = format!("Bearer {}.{}", bearer_user.token, "A".repeat(43) + "=");
    for invalid in [format!("Bearer {}", random_id()), forged] {
        let body: Value = send(invalid).await.unwrap().json().await.unwrap();
        assert_eq!(body["data"]["me"]["id"], cookie_user.id.as_str(), "{body}");
    }
}

#[tokio::test]
async fn the_tasks_page_is_of_the_session_that_wins() {
    // On PostgreSQL the page is read in the session lookup's statement, once for
    // every candidate session: it must still be the winner's page alone.
    let app = spawn_app().await;
    let cookie_user = app.create_user("Cookie").await;
    let bearer_user = app.create_user("Bearer").await;
    app.create_task(&cookie_user, "the cookie's task").await;
    app.create_task(&bearer_user, "the bearer's task").await;
    let empty = app.create_user("Empty").await;
    let titles = |authorization: String| {
        let request = app.post().header("cookie", cookie_user.cookie()).header("authorization", authorization);
        async move {
            let query = "{ tasks { nodes { title } pageInfo { hasNextPage } } }";
            let body: Value = request.json(&json!({ "query": query })).send().await.unwrap().json().await.unwrap();
            assert_eq!(body["errors"], Value::Null, "{body}");
            assert_eq!(body["data"]["tasks"]["pageInfo"]["hasNextPage"], false, "{body}");
            body["data"]["tasks"]["nodes"].as_array().unwrap().iter().map(|n| n["title"].clone()).collect::<Vec<_>>()
        }
    };
    assert_eq!(titles(format!("Bearer {}", bearer_user.token)).await, ["the bearer's task"]);
    assert_eq!(titles(format!("Bearer {}", random_id())).await, ["the cookie's task"]);
    assert!(titles(format!("Bearer {}", empty.token)).await.is_empty(), "a user with no task has an empty page");
}

#[tokio::test]
async fn a_tampered_cookie_is_refused_without_touching_the_database() {
    let app = spawn_app().await;
    let user = app.create_user("Ada").await;
    let forged = format!("better-auth.session_token={}", signed_cookie_value("another-secret", &user.token));
    let unsigned = format!("better-auth.session_token={}", user.token);
    for cookie in [forged, unsigned] {
        let before = app.statements.get();
        assert_eq!(me_with(&app, ("cookie", cookie.clone())).await, Value::Null, "{cookie}");
        assert_eq!(app.statements.get(), before, "a database lookup for {cookie}");
    }
}

#[tokio::test]
async fn expired_and_signed_out_sessions_are_unauthenticated() {
    let app = spawn_app().await;
    let expired = app.create_user_with_session("Old", Utc::now() - Duration::seconds(1)).await;
    let signed_out = app.create_user("Gone").await;
    app.execute("DELETE FROM session WHERE token = $1", [signed_out.token.clone().into()]).await;
    for user in [&expired, &signed_out] {
        let body = app.graphql(Some(user), "{ tasks { totalCount } }", json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
        let body = app.graphql(Some(user), ME, json!({})).await;
        assert_eq!(body["data"]["me"], Value::Null);
    }
}

#[tokio::test]
async fn every_field_but_me_needs_a_session() {
    let app = spawn_app().await;
    let id = uuid::Uuid::now_v7();
    let operations = [
        format!(r#"{{ task(id: "{id}") {{ id }} }}"#),
        "{ tasks { totalCount } }".to_owned(),
        // Arguments are checked after the session: a signed-out client learns nothing of them.
        r#"{ tasks(first: 0, after: "not a cursor") { totalCount } }"#.to_owned(),
        "{ taskStats { total } }".to_owned(),
        r#"mutation { createTask(input: { title: "x" }) { id } }"#.to_owned(),
        format!(r#"mutation {{ updateTask(id: "{id}", input: {{ title: "x" }}) {{ id }} }}"#),
        format!(r#"mutation {{ toggleTask(id: "{id}") {{ id }} }}"#),
        format!(r#"mutation {{ deleteTask(id: "{id}") }}"#),
        "mutation { clearCompletedTasks }".to_owned(),
    ];
    for operation in operations {
        let body = app.graphql(None, &operation, json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{operation}: {body}");
    }
    let count: i64 = app.scalar("SELECT count(*) FROM tasks", []).await;
    assert_eq!(count, 0);
}
