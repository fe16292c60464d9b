//! GraphQL over HTTP: methods, media types, status codes, CSRF, CORS, limits,
//! batches, persisted queries, masking, health and readiness.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use todo_graphql::config::Backend;

use crate::helpers::*;

const GQL_RESPONSE: &str = "application/graphql-response+json";

fn content_type(response: &reqwest::Response) -> String {
    response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn get_runs_queries_with_a_preflight_header() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    app.create_task(&ada, "from GET").await;
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", "query Titles { tasks { nodes { title } } }"), ("operationName", "Titles")])
        .header("apollo-require-preflight", "true")
        .header("cookie", ada.cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["tasks"]["nodes"][0]["title"], "from GET", "{body}");
}

#[tokio::test]
async fn a_mutation_over_get_is_405_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("query", r#"mutation { createTask(input: { title: "sneaky" }) { id } }"#)])
        .header("apollo-require-preflight", "true")
        .header("cookie", ada.cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
    let count: i64 = app.scalar("SELECT count(*) FROM tasks", []).await;
    assert_eq!(count, 0);
}

#[tokio::test]
async fn requests_a_browser_could_send_cross_site_are_refused() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let mutation = r#"{"query":"mutation { createTask(input: { title: \"csrf\" }) { id } }"}"#;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let response = app
            .post()
            .header("content-type", content_type)
            .header("cookie", ada.cookie())
            .body(mutation)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{content_type}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "BAD_REQUEST");
    }
    let response = app
        .client
        .get(format!("{}/graphql?query=%7B__typename%7D", app.address))
        .header("cookie", ada.cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a bare GET is a simple request");
    let count: i64 = app.scalar("SELECT count(*) FROM tasks", []).await;
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_one_that_does_not_parse_400_and_one_too_large_413() {
    let app = spawn_app().await;
    let response = app.post().header("content-type", "application/xml").body("<query/>").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = app.post().header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&response.json().await.unwrap()), "BAD_REQUEST");
    let big = json!({ "query": format!("{{ __typename }} #{}", "x".repeat(1024 * 1024)) });
    let response = app.post().json(&big).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_response_media_type_and_status_follow_accept() {
    let app = spawn_app().await;
    let send = |accept: Option<&'static str>, query: &'static str| {
        let mut request = app.client.post(format!("{}/graphql", app.address)).json(&json!({ "query": query }));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send()
    };
    let response = send(Some(GQL_RESPONSE), "{ __typename }").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(content_type(&response).starts_with(GQL_RESPONSE));

    for (query, code) in [("{ __typename", "GRAPHQL_PARSE_FAILED"), ("{ nope }", "GRAPHQL_VALIDATION_FAILED")] {
        let response = send(Some(GQL_RESPONSE), query).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), code);
        assert!(body.get("data").is_none(), "a request error has no data entry: {body}");

        for legacy in [Some("application/json"), None] {
            let response = send(legacy, query).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{query} with {legacy:?}");
            assert!(content_type(&response).starts_with("application/json"));
            assert_eq!(error_code(&response.json().await.unwrap()), code);
        }
    }
    let response = send(Some("text/xml"), "{ __typename }").await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn depth_and_complexity_are_limited_and_the_standard_introspection_query_passes() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let deep = "{ tasks { edges { node { owner { id } } } pageInfo { hasNextPage } } }";
    assert_eq!(app.graphql(Some(&ada), deep, json!({})).await["errors"], Value::Null);

    let app = spawn_app_with(|config| config.limits.max_depth = 3).await;
    let ada = app.create_user("Ada").await;
    let body = app.graphql(Some(&ada), deep, json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("MAX_DEPTH"), "{body}");
    let body = app.graphql(None, include_str!("../fixtures/introspection.graphql"), json!({})).await;
    assert_eq!(body["errors"], Value::Null, "introspection has a depth limit of its own: {body}");
    assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 10);
    let looping = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    let body = app.graphql(None, looping, json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");

    // Introspection is held to the limits too: to its own depth, and to complexity.
    let app = spawn_app_with(|config| config.limits.max_introspection_depth = 5).await;
    let body = app.graphql(None, include_str!("../fixtures/introspection.graphql"), json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    let app = spawn_app_with(|config| config.limits.max_complexity = 50).await;
    let body = app.graphql(None, include_str!("../fixtures/introspection.graphql"), json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");

    let app = spawn_app_with(|config| config.limits.max_aliases = 100).await;
    let aliases: String = (0..40).map(|n| format!("a{n}: tasks(first: 100) {{ nodes {{ id title }} }} ")).collect();
    let body = app.graphql(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "40 full pages exceed complexity 1000");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("MAX_COMPLEXITY"), "{body}");
    let body = app.graphql(None, include_str!("../fixtures/introspection.graphql"), json!({})).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
}

#[tokio::test]
async fn every_limit_refuses_a_document_before_it_runs() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let refused = |body: &Value, setting: &str| {
        assert_eq!(error_code(body), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert_eq!(body.get("data"), None, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(setting), "{setting}: {message}");
    };
    let many = |n: usize, each: &str| (0..n).map(|i| each.replace('#', &i.to_string())).collect::<String>();

    let fifteen = format!("{{ {} }}", many(15, "a#: __typename "));
    assert_eq!(app.graphql(None, &fifteen, json!({})).await["data"]["a14"], "Query");
    refused(&app.graphql(None, &format!("{{ {} }}", many(16, "a#: __typename ")), json!({})).await, "MAX_ALIASES");
    let directives = format!("{{ __typename {} }}", many(51, "@include(if: true) "));
    refused(&app.graphql(None, &directives, json!({})).await, "MAX_DIRECTIVES");
    refused(&app.graphql(None, &format!("{{ {} }}", many(1000, "__typename ")), json!({})).await, "MAX_TOKENS");
    let long = format!("{{ __typename }} # {}", "x".repeat(256 * 1024));
    refused(&app.graphql(None, &long, json!({})).await, "MAX_QUERY_BYTES");
    let roots = format!("{{ {} }}", many(4, "t#: __type(name: \"Query\") { name } "));
    refused(&app.graphql(None, &roots, json!({})).await, "MAX_INTROSPECTION_ROOTS");

    // Fragments are measured once each: a bomb of 2^40 fields is refused at once.
    let mut bomb = String::from("{ ...F0 } ");
    for i in 0..40 {
        bomb.push_str(&format!("fragment F{i} on Query {{ ...F{n} ...F{n} }} ", n = i + 1));
    }
    bomb.push_str("fragment F40 on Query { __typename }");
    let body = app.graphql(Some(&ada), &bomb, json!({})).await;
    refused(&body, "MAX_FIELDS");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("1099511627776"), "{body}");
    let body = app.graphql(None, "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
}

#[tokio::test]
async fn include_and_skip_work_on_typename_as_on_any_field() {
    let app = spawn_app().await;
    let query = "query Dir($no: Boolean!, $yes: Boolean!) { a: __typename @include(if: $no) b: __typename @skip(if: $no) c: __typename @include(if: $yes) }";
    let body = app.graphql(None, query, json!({ "no": false, "yes": true })).await;
    assert_eq!(body, json!({ "data": { "b": "Query", "c": "Query" } }));
    let wrong_type = "query Dir($s: String!) { a: __typename @include(if: $s) }";
    let body = app.graphql(None, wrong_type, json!({ "s": "x" })).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "a String is no Boolean: {body}");
}

#[tokio::test]
async fn a_scalar_where_an_input_object_belongs_fails_validation_and_writes_nothing() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    for mutation in [
        r#"mutation { createTask(input: "x") { id } }"#,
        r#"mutation { createTask(input: 7) { id } }"#,
        r#"mutation { createTask(input: [{ title: "x" }]) { id } }"#,
        r#"{ tasks(filter: "x") { totalCount } }"#,
    ] {
        let body = app.graphql(Some(&ada), mutation, json!({})).await;
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{mutation}: {body}");
    }
    let tasks: i64 = app.scalar("SELECT count(*) FROM tasks", []).await;
    assert_eq!(tasks, 0);
}

#[tokio::test]
async fn a_response_over_the_ceiling_is_refused_and_a_batch_counts_as_a_whole() {
    let app = spawn_app_with(|config| config.limits.max_response_bytes = 8 * 1024).await;
    let ada = app.create_user("Ada").await;
    let titles = (0..60).map(|n| format!("{n:03} {}", "x".repeat(190)));
    app.insert_tasks(&ada.id, titles, chrono::Utc::now()).await;
    let page = |first: usize| format!("{{ tasks(first: {first}) {{ nodes {{ title }} }} }}");

    let body = app.graphql(Some(&ada), &page(20), json!({})).await;
    assert_eq!(body["data"]["tasks"]["nodes"].as_array().unwrap().len(), 20, "about 4 KiB fits: {body}");
    let response = app.post().header("cookie", ada.cookie()).json(&json!({ "query": page(60) })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "RESPONSE_TOO_LARGE", "{body}");
    assert_eq!(body.get("data"), None);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("MAX_RESPONSE_BYTES"), "{body}");

    let two = json!([{ "query": page(30) }, { "query": page(30) }]);
    let body: Value = app.post().header("cookie", ada.cookie()).json(&two).send().await.unwrap().json().await.unwrap();
    assert_eq!(body[0]["data"]["tasks"]["nodes"].as_array().unwrap().len(), 30, "{body}");
    assert_eq!(error_code(&body[1]), "RESPONSE_TOO_LARGE", "the second page passes the batch's ceiling: {body}");
}

#[tokio::test]
async fn a_batch_is_held_to_the_document_limits_as_a_whole() {
    let app = spawn_app().await;
    let eight = format!("{{ {} }}", (0..8).map(|n| format!("a{n}: __typename ")).collect::<String>());
    let body: Value =
        app.post().json(&json!([{ "query": eight }, { "query": eight }])).send().await.unwrap().json().await.unwrap();
    assert_eq!(body[0]["data"]["a7"], "Query", "{body}");
    assert_eq!(error_code(&body[1]), "GRAPHQL_VALIDATION_FAILED", "16 aliases in one batch: {body}");
    assert!(body[1]["errors"][0]["message"].as_str().unwrap().contains("batch as a whole"), "{body}");

    // Four documents just under MAX_QUERY_BYTES each: the batch is parsed only up to it.
    let long = format!("{{ __typename }} # {}", "x".repeat(200 * 1024));
    let batch: Vec<Value> = (0..4).map(|_| json!({ "query": long })).collect();
    let body: Value = app.post().json(&batch).send().await.unwrap().json().await.unwrap();
    assert_eq!(body[0]["data"]["__typename"], "Query", "{body}");
    for n in 1..4 {
        assert_eq!(error_code(&body[n]), "GRAPHQL_VALIDATION_FAILED", "{body}");
        assert!(body[n]["errors"][0]["message"].as_str().unwrap().contains("MAX_QUERY_BYTES"), "{body}");
    }
}

#[tokio::test]
async fn batches_run_in_order_up_to_the_limit() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let create = json!({ "query": "mutation { createTask(input: { title: \"batched\" }) { title } }" });
    let count = json!({ "query": "{ taskStats { total } }" });
    let response = app.post().header("cookie", ada.cookie()).json(&json!([create, count])).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body[0]["data"]["createTask"]["title"], "batched", "{body}");
    assert_eq!(body[1]["data"]["taskStats"]["total"], 1);

    let eleven: Vec<Value> = (0..11).map(|_| count.clone()).collect();
    let response = app.post().header("cookie", ada.cookie()).json(&eleven).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = app.post().json(&json!([])).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn persisted_queries_follow_apollos_protocol() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let query = "query Stats { taskStats { total } }";
    let hash = hex::encode(Sha256::digest(query));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let send = |body: Value| app.post().header("cookie", ada.cookie()).json(&body).send();

    let body: Value = send(json!({ "extensions": extensions })).await.unwrap().json().await.unwrap();
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let body: Value = send(json!({ "query": query, "extensions": extensions })).await.unwrap().json().await.unwrap();
    assert_eq!(body["data"]["taskStats"]["total"], 0, "{body}");
    let body: Value = send(json!({ "extensions": extensions })).await.unwrap().json().await.unwrap();
    assert_eq!(body["data"]["taskStats"]["total"], 0, "the hash alone now works: {body}");

    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[("extensions", extensions.to_string())])
        .header("apollo-require-preflight", "true")
        .header("cookie", ada.cookie())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["taskStats"]["total"], 0, "and over GET: {body}");

    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } });
    let body: Value = send(json!({ "query": query, "extensions": wrong })).await.unwrap().json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_REQUEST");

    // Only documents that parse (and pass the limits) are kept.
    let junk = format!("# {}", "comment ".repeat(100));
    let junk_hash = json!({ "persistedQuery": { "version": 1, "sha256Hash": hex::encode(Sha256::digest(&junk)) } });
    let body: Value = send(json!({ "query": junk, "extensions": junk_hash })).await.unwrap().json().await.unwrap();
    assert_eq!(error_code(&body), "GRAPHQL_PARSE_FAILED", "{body}");
    let body: Value = send(json!({ "extensions": junk_hash })).await.unwrap().json().await.unwrap();
    assert_eq!(error_code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");
}

#[tokio::test]
async fn cors_allows_configured_origins_with_credentials_only() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, authorization")
            .send()
    };
    let allowed = preflight("http://localhost:3000").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "http://localhost:3000");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_browser_asking_for_html_gets_the_graphiql_page() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(content_type(&response).starts_with("text/html"));
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    let html = response.text().await.unwrap();
    assert!(html.contains("\"endpoint\":\"/graphql\""), "{html}");
    match crate::BACKEND {
        Backend::Postgres => {
            assert!(!html.contains("Authorization") && !html.contains("Bearer"), "no token in PostgreSQL mode")
        }
        Backend::Sqlite => assert!(
            html.contains("Authorization") && html.contains("Bearer ") && html.contains("me { email }"),
            "embedded mode opens GraphiQL signed in as the demo user, with an example query: {html}"
        ),
    }
    let sources: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .chain(html.split("href=\"").skip(1))
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(sources.len() >= 5, "{html}");
    for source in sources.into_iter().filter(|s| *s != "data:,") {
        assert!(source.starts_with("/graphiql/"), "served from elsewhere: {source}");
        let asset = app.get(source).await;
        assert_eq!(asset.status(), StatusCode::OK, "{source}");
        assert!(!asset.bytes().await.unwrap().is_empty());
    }
    let gzipped = app
        .client
        .get(format!("{}/graphiql/graphiql.min.js", app.address))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let compressed = gzipped.bytes().await.unwrap().len();
    assert!(compressed < 1_500_000, "GraphiQL's script goes out compressed: {compressed} bytes");
    let licences = app.get("/graphiql/LICENSES").await.text().await.unwrap();
    assert!(licences.contains("graphiql 3.8.3") && licences.contains("MIT License"), "{licences}");
    assert!(licences.contains("graphql-ws 6.4.2"), "GraphiQL's subscription client is vendored too: {licences}");
    assert_eq!(app.get("/graphiql/nope.js").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_never_needs_the_database_and_ready_checks_the_tables() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);

    app.execute("ALTER TABLE tasks RENAME TO tasks_elsewhere", []).await;
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert!(body["reason"].as_str().unwrap().contains("tasks"), "{body}");
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_response_carries_a_request_id_of_the_services_own_never_the_clients() {
    let app = spawn_app().await;
    let id_of = |response: &reqwest::Response| response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let response = app.post().json(&json!({ "query": "{ __typename }" })).send().await.unwrap();
    assert!(uuid::Uuid::parse_str(&id_of(&response)).is_ok(), "a UUID: {}", id_of(&response));
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = app
            .post()
            .header("x-request-id", "trace-123")
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers().get_all("x-request-id").iter().count(), 1);
        ids.push(id_of(&response));
    }
    assert!(ids.iter().all(|id| id != "trace-123" && uuid::Uuid::parse_str(id).is_ok()), "{ids:?}");
    assert_ne!(ids[0], ids[1], "the same client id twice is two requests");
}

#[tokio::test]
async fn internal_errors_are_masked_with_the_request_id() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    app.execute("ALTER TABLE tasks RENAME COLUMN title TO secret_column_name", []).await;
    let hostile = "<script>alert(1)</script>";
    let response = app
        .post()
        .header("cookie", ada.cookie())
        .header("x-request-id", hostile)
        .json(&json!({ "query": "{ tasks { nodes { title } } }" }))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "the service's own id, not the client's: {request_id}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "INTERNAL_SERVER_ERROR");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], request_id.as_str());
    let text = body.to_string();
    assert!(text.contains(&request_id) && !text.contains("secret_column_name") && !text.contains("SELECT"), "{text}");
    assert!(!text.contains("script"), "the client's id is never echoed: {text}");
}
