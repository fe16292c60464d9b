//! Subscriptions over WebSocket, with a real WebSocket client: who may connect,
//! every close code of graphql-ws's PROTOCOL.md, the caps, and a session that ends
//! while subscribed. Events end to end are in `subscription_events.rs`.

use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{self, Message, client::IntoClientRequest as _, http::HeaderValue},
};

use crate::helpers::*;

/// A client socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The query every test subscribes with.
pub const TASK_CHANGED: &str = "subscription { taskChanged { kind id task { id title completed } } }";

/// Only a guard against a hung test; nothing waits this long when the service works.
const GUARD: Duration = Duration::from_secs(20);

/// Opens a WebSocket to `/graphql` with `protocol` (none when empty) and extra headers.
pub async fn try_connect(address: &str, protocol: &str, headers: &[(&str, &str)]) -> Result<Ws, tungstenite::Error> {
    let url = format!("{}/graphql", address.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    if !protocol.is_empty() {
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_str(protocol).unwrap());
    }
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    connect_async(request).await.map(|(ws, _)| ws)
}

/// [`try_connect`] that must succeed.
pub async fn connect(app: &TestApp, protocol: &str, headers: &[(&str, &str)]) -> Ws {
    connect_to(&app.address, protocol, headers).await
}

/// [`try_connect`] to a service at `address` (`http://host:port`) that must succeed.
pub async fn connect_to(address: &str, protocol: &str, headers: &[(&str, &str)]) -> Ws {
    try_connect(address, protocol, headers).await.unwrap()
}

/// Sends one JSON message.
pub async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.unwrap();
}

/// The next JSON message (pings and legacy keep-alives skipped); panics on a close.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(GUARD, ws.next()).await.expect("no message arrived");
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(text.as_str()).unwrap();
                if value["type"] != "ka" {
                    return value;
                }
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Reads until the close frame: its code, and the messages that came before it.
pub async fn closed(ws: &mut Ws) -> (u16, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        let message = tokio::time::timeout(GUARD, ws.next()).await.expect("the socket was not closed");
        match message {
            Some(Ok(Message::Text(text))) => before.push(serde_json::from_str(text.as_str()).unwrap()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code.into(), before),
            other => panic!("expected a close frame, got {other:?} after {before:?}"),
        }
    }
}

/// `connection_init` (with `payload` unless null), answered by `connection_ack`.
pub async fn init(ws: &mut Ws, payload: Value) {
    let message = if payload.is_null() {
        json!({ "type": "connection_init" })
    } else {
        json!({ "type": "connection_init", "payload": payload })
    };
    send(ws, message).await;
    assert_eq!(next_json(ws).await, json!({ "type": "connection_ack" }));
}

/// Subscribes to `taskChanged` as `id` and waits until the service has registered
/// it: the service handles messages in order and registers a subscription before
/// reading the next one, so the `pong` to a following `ping` means it is live.
pub async fn subscribe(ws: &mut Ws, id: &str) {
    send(ws, json!({ "type": "subscribe", "id": id, "payload": { "query": TASK_CHANGED } })).await;
    send(ws, json!({ "type": "ping" })).await;
    assert_eq!(next_json(ws).await, json!({ "type": "pong" }));
}

/// A socket of `user` by cookie, acknowledged and subscribed to `taskChanged` as `id`.
pub async fn subscribed(app: &TestApp, user: &TestUser, id: &str) -> Ws {
    let mut ws = connect(app, "graphql-transport-ws", &[("cookie", &user.cookie())]).await;
    init(&mut ws, Value::Null).await;
    subscribe(&mut ws, id).await;
    listening(app).await;
    ws
}

/// The pids of the service's LISTEN connections on the test database that are done
/// with their `LISTEN` (idle after it, or after a later health check): a NOTIFY
/// committed from now on reaches them.
pub const LISTENING: &str = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
    AND application_name = 'todo-graphql-listen' AND state = 'idle' \
    AND (query LIKE 'LISTEN%' OR query = 'SELECT 1')";

/// On PostgreSQL, waits (boundedly) until the instance's LISTEN connection, opened
/// for its first subscriber, is listening: events committed before that are not
/// this instance's to see. Embedded SQLite delivers in-process, at once.
pub async fn listening(app: &TestApp) {
    if crate::BACKEND != todo_graphql::config::Backend::Postgres {
        return;
    }
    let sql = format!("SELECT count(*) FROM ({LISTENING}) AS listening");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.scalar::<i64, 0>(&sql, []).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no LISTEN connection within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn no_session_a_tampered_cookie_or_a_bad_bearer_is_refused_with_4403() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let tampered = format!("better-auth.session_token={}", signed_cookie_value("another-secret", &ada.token));
    let unsigned = format!("better-auth.session_token={}", ada.token);
    let cases: [(&[(&str, &str)], Value); 5] = [
        (&[], Value::Null),
        (&[("cookie", &tampered)], Value::Null),
        (&[("cookie", &unsigned)], Value::Null),
        (&[], json!({ "authorization": "Bearer not-a-session" })),
        (&[], json!({ "authorization": format!("Bearer {}", signed_cookie_value("another-secret", &ada.token)) })),
    ];
    for (headers, payload) in cases {
        let mut ws = connect(&app, "graphql-transport-ws", headers).await;
        send(&mut ws, json!({ "type": "connection_init", "payload": payload })).await;
        let (code, before) = closed(&mut ws).await;
        assert_eq!((code, before), (4403, vec![]), "{headers:?} {payload}");
    }
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_the_upgrade() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let cookie = ada.cookie();
    let refused = try_connect(
        &app.address,
        "graphql-transport-ws",
        &[("origin", "https://evil.example.com"), ("cookie", &cookie)],
    )
    .await;
    match refused {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    // The configured origin, the service's own (its GraphiQL), and none at all (not a
    // browser) are let through.
    let own = app.address.clone();
    for origin in [
        &[("origin", "http://localhost:3000"), ("cookie", cookie.as_str())][..],
        &[("origin", own.as_str()), ("cookie", cookie.as_str())],
        &[("cookie", &cookie)],
    ] {
        let mut ws = connect(&app, "graphql-transport-ws", origin).await;
        init(&mut ws, Value::Null).await;
    }
}

#[tokio::test]
async fn cookie_and_connection_init_bearer_are_both_accepted() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let mut by_cookie = connect(&app, "graphql-transport-ws", &[("cookie", &ada.cookie())]).await;
    init(&mut by_cookie, Value::Null).await;
    let mut by_bearer = connect(&app, "graphql-transport-ws", &[]).await;
    init(&mut by_bearer, json!({ "authorization": format!("Bearer {}", ada.token) })).await;
    let mut signed_bearer = connect(&app, "graphql-transport-ws", &[]).await;
    let signed = signed_cookie_value(SECRET, &ada.token);
    init(&mut signed_bearer, json!({ "Authorization": format!("Bearer {signed}") })).await;
}

#[tokio::test]
async fn each_protocol_violation_closes_the_websocket_with_its_own_code() {
    let app = spawn_app_with(|config| config.subscriptions.init_timeout = Duration::from_secs(1)).await;
    let ada = app.create_user("Ada").await;
    let cookie = ada.cookie();
    let headers = [("cookie", cookie.as_str())];
    let subscribe = json!({ "type": "subscribe", "id": "1", "payload": { "query": TASK_CHANGED } });

    // 4400: not a message of the protocol, not JSON, binary, a field missing.
    for bad in [
        Message::text(r#"{"type":"nonsense"}"#),
        Message::text("not json"),
        Message::binary(vec![1, 2, 3]),
        Message::text(r#"{"type":"subscribe","payload":{"query":"subscription { taskChanged { id } }"}}"#),
    ] {
        let mut ws = connect(&app, "graphql-transport-ws", &headers).await;
        init(&mut ws, Value::Null).await;
        ws.send(bad.clone()).await.unwrap();
        assert_eq!(closed(&mut ws).await.0, 4400, "{bad:?}");
    }
    // 4401: subscribe before the ack.
    let mut ws = connect(&app, "graphql-transport-ws", &headers).await;
    send(&mut ws, subscribe.clone()).await;
    assert_eq!(closed(&mut ws).await, (4401, vec![]));
    // 4403 is `no_session_…` above. 4408: no connection_init in time.
    let mut ws = connect(&app, "graphql-transport-ws", &headers).await;
    assert_eq!(closed(&mut ws).await, (4408, vec![]));
    // 4409: a second subscription under an id in use.
    let mut ws = connect(&app, "graphql-transport-ws", &headers).await;
    init(&mut ws, Value::Null).await;
    send(&mut ws, subscribe.clone()).await;
    send(&mut ws, subscribe.clone()).await;
    assert_eq!(closed(&mut ws).await, (4409, vec![]));
    // An id too long for a close frame's reason still gets its 4409.
    let long = json!({ "type": "subscribe", "id": "é".repeat(200), "payload": { "query": TASK_CHANGED } });
    let mut ws = connect(&app, "graphql-transport-ws", &headers).await;
    init(&mut ws, Value::Null).await;
    send(&mut ws, long.clone()).await;
    send(&mut ws, long).await;
    assert_eq!(closed(&mut ws).await, (4409, vec![]));
    // 4429: a second connection_init.
    let mut ws = connect(&app, "graphql-transport-ws", &headers).await;
    init(&mut ws, Value::Null).await;
    send(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(closed(&mut ws).await, (4429, vec![]));
    // 4406: no subprotocol this service speaks.
    let mut ws = connect(&app, "", &headers).await;
    assert_eq!(closed(&mut ws).await, (4406, vec![]));
}

#[tokio::test]
async fn an_id_may_be_reused_once_completed_and_ping_is_answered() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let mut ws = subscribed(&app, &ada, "1").await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next_json(&mut ws).await, json!({ "type": "pong" }));
    send(&mut ws, json!({ "type": "complete", "id": "1" })).await;
    send(&mut ws, json!({ "type": "subscribe", "id": "1", "payload": { "query": TASK_CHANGED } })).await;
    // Still open: a ping is still answered, and no 4409 came.
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next_json(&mut ws).await, json!({ "type": "pong" }));
}

#[tokio::test]
async fn caps_on_subscriptions_per_connection_and_connections_per_user() {
    let app = spawn_app_with(|config| {
        config.subscriptions.max_per_connection = 2;
        config.subscriptions.max_connections_per_user = 1;
    })
    .await;
    let ada = app.create_user("Ada").await;
    let mut ws = subscribed(&app, &ada, "1").await;
    send(&mut ws, json!({ "type": "subscribe", "id": "2", "payload": { "query": TASK_CHANGED } })).await;
    send(&mut ws, json!({ "type": "subscribe", "id": "3", "payload": { "query": TASK_CHANGED } })).await;
    let refused = next_json(&mut ws).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "3");
    assert!(refused["payload"][0]["message"].as_str().unwrap().contains("at most 2"), "{refused}");

    let mut second = connect(&app, "graphql-transport-ws", &[("cookie", &ada.cookie())]).await;
    send(&mut second, json!({ "type": "connection_init" })).await;
    assert_eq!(closed(&mut second).await, (1013, vec![]));
    // Once the first socket closes, its slot is free again.
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let mut third = connect(&app, "graphql-transport-ws", &[("cookie", &ada.cookie())]).await;
    let mut acknowledged = false;
    for _ in 0..50 {
        send(&mut third, json!({ "type": "connection_init" })).await;
        match closed_or_ack(&mut third).await {
            Some(()) => {
                acknowledged = true;
                break;
            }
            None => third = connect(&app, "graphql-transport-ws", &[("cookie", &ada.cookie())]).await,
        }
    }
    assert!(acknowledged, "the slot of a closed socket was never released");
}

#[tokio::test]
async fn open_sockets_are_capped_like_connections_before_the_upgrade() {
    let app = spawn_app_with(|config| config.traffic.max_connections = 1).await;
    // Not signed in: an unauthenticated socket holds a slot until its init timeout.
    let _held = connect(&app, "graphql-transport-ws", &[]).await;
    match try_connect(&app.address, "graphql-transport-ws", &[]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {other:?}"),
    }
}

/// `Some` on `connection_ack`, `None` on a 1013 close (the old socket not yet gone).
async fn closed_or_ack(ws: &mut Ws) -> Option<()> {
    let message = tokio::time::timeout(GUARD, ws.next()).await.unwrap();
    match message {
        Some(Ok(Message::Text(text))) if text.as_str().contains("connection_ack") => Some(()),
        Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) == 1013 => {
            tokio::task::yield_now().await;
            None
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn documents_are_held_to_the_http_limits_and_only_subscriptions_run() {
    let app = spawn_app_with(|config| config.limits.max_depth = 3).await;
    let ada = app.create_user("Ada").await;
    let mut ws = connect(&app, "graphql-transport-ws", &[("cookie", &ada.cookie())]).await;
    init(&mut ws, Value::Null).await;
    let deep = "subscription { taskChanged { task { owner { id } } } }";
    let cases = [
        ("1", deep, "GRAPHQL_VALIDATION_FAILED"),
        ("2", "subscription {", "GRAPHQL_PARSE_FAILED"),
        ("3", "{ me { id } }", "BAD_REQUEST"),
        ("4", "mutation { clearCompletedTasks }", "BAD_REQUEST"),
        ("5", "subscription { taskChanged { nope } }", "GRAPHQL_VALIDATION_FAILED"),
    ];
    for (id, query, code) in cases {
        send(&mut ws, json!({ "type": "subscribe", "id": id, "payload": { "query": query } })).await;
        let refused = next_json(&mut ws).await;
        assert_eq!(refused["type"], "error", "{query}: {refused}");
        assert_eq!(refused["id"], id);
        let got = refused["payload"][0]["extensions"]["code"].as_str().unwrap_or("no code");
        // async-graphql's own validation errors carry no code; the limits' do.
        assert!(got == code || (code == "GRAPHQL_VALIDATION_FAILED" && got == "no code"), "{query}: {refused}");
    }
}

#[tokio::test]
async fn a_session_deleted_while_subscribed_ends_the_socket() {
    let app = spawn_app_with(|config| config.subscriptions.session_check = Duration::from_secs(1)).await;
    let ada = app.create_user("Ada").await;
    let mut ws = subscribed(&app, &ada, "1").await;
    app.execute("DELETE FROM session WHERE token = $1", [ada.token.clone().into()]).await;
    let (code, before) = closed(&mut ws).await;
    assert_eq!(code, 4403);
    assert!(before.iter().all(|m| m["type"] != "next"), "{before:?}");
}

#[tokio::test]
async fn a_session_that_expires_while_subscribed_ends_the_socket_at_its_expiry() {
    // A long periodic check: only the expiry can end it.
    let app = spawn_app_with(|config| config.subscriptions.session_check = Duration::from_secs(3600)).await;
    let ada = app.create_user_with_session("Ada", Utc::now() + chrono::Duration::seconds(2)).await;
    let mut ws = subscribed(&app, &ada, "1").await;
    assert_eq!(closed(&mut ws).await.0, 4403);
}

#[tokio::test]
async fn a_subscription_over_http_is_refused_not_run() {
    let app = spawn_app().await;
    let ada = app.create_user("Ada").await;
    let body = app.graphql(Some(&ada), TASK_CHANGED, json!({})).await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert!(!body["errors"][0]["message"].as_str().unwrap_or_default().is_empty(), "{body}");
}

#[tokio::test]
async fn a_message_over_max_body_bytes_ends_the_socket_and_nothing_else() {
    let app = spawn_app_with(|config| config.limits.max_body_bytes = 64 * 1024).await;
    let ada = app.create_user("Ada").await;
    let mut ws = connect(&app, "graphql-transport-ws", &[("cookie", &ada.cookie())]).await;
    init(&mut ws, Value::Null).await;
    let huge = json!({ "type": "ping", "payload": { "filler": "x".repeat(64 * 1024) } });
    let _ = ws.send(Message::text(huge.to_string())).await;
    let ended = tokio::time::timeout(GUARD, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(Message::Text(text))) => panic!("answered an oversized message: {text}"),
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the socket stayed open after an oversized message");
    assert_eq!(app.get("/health").await.status(), 200);
    let mut again = subscribed(&app, &ada, "s").await;
    send(&mut again, json!({ "type": "ping" })).await;
    assert_eq!(next_json(&mut again).await, json!({ "type": "pong" }), "other sockets are served");
}
