//! SIGTERM: requests in flight finish, answered writes are kept, WebSockets close 1001.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};

use super::serve;
use crate::helpers::*;

#[tokio::test]
async fn sigterm_lets_every_request_in_flight_finish_and_keeps_every_answered_write() {
    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let user = insert_user(&db).await;
    let served = serve(&database, &[("SHUTDOWN_DRAIN_SECS", "20"), ("DATABASE_MAX_CONNECTIONS", "25")]);
    served.ready().await;

    // Every request waits on this lock, so all 20 are in flight at SIGTERM.
    let transaction = db.begin().await.unwrap();
    transaction.execute_unprepared("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let client = reqwest::Client::new();
    let cookie = format!("better-auth.session_token={}", signed_cookie_value(SECRET, &user.token));
    let requests: Vec<_> = (0..20)
        .map(|n| {
            let query = if n % 2 == 0 {
                format!(r#"mutation {{ createTask(input: {{ title: "in flight {n}" }}) {{ title }} }}"#)
            } else {
                "{ taskStats { total } }".to_owned()
            };
            let request =
                client.post(served.url("/graphql")).header("cookie", cookie.clone()).json(&json!({ "query": query }));
            tokio::spawn(async move { request.send().await?.json::<Value>().await })
        })
        .collect();
    let waiting =
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()";
    let started = Instant::now();
    loop {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), waiting))
            .await
            .unwrap()
            .unwrap();
        if row.try_get_by_index::<i64>(0).unwrap() >= 20 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the requests never reached the database");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    served.signal("TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(client.get(served.url("/health")).send().await.is_err(), "still accepting after SIGTERM");
    transaction.commit().await.unwrap();

    let mut created = Vec::new();
    for (n, request) in requests.into_iter().enumerate() {
        let body = request.await.unwrap().unwrap_or_else(|err| panic!("request {n} got no complete answer: {err}"));
        assert_eq!(body["errors"], Value::Null, "request {n}: {body}");
        if let Some(title) = body["data"]["createTask"]["title"].as_str() {
            created.push(title.to_owned());
        }
    }
    assert_eq!(created.len(), 10);
    let mut process = served.process;
    let status = process.0.wait().unwrap();
    assert!(status.success(), "exit code after a drained shutdown: {status}");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT count(*) FROM tasks"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 10, "every answered mutation is in the database");
}

#[tokio::test]
async fn sigterm_sends_every_websocket_close_1001_and_still_exits_0() {
    use crate::subscriptions::{closed, connect_to, init, subscribe};

    let database = TestDatabase::new().await;
    let db = database.connect().await;
    let user = insert_user(&db).await;
    let served = serve(&database, &[("SHUTDOWN_DRAIN_SECS", "20")]);
    served.ready().await;
    let cookie = format!("better-auth.session_token={}", signed_cookie_value(SECRET, &user.token));
    let address = served.url("");
    let mut sockets = Vec::new();
    for n in 0..3 {
        let mut ws = connect_to(&address, "graphql-transport-ws", &[("cookie", &cookie)]).await;
        init(&mut ws, Value::Null).await;
        if n > 0 {
            subscribe(&mut ws, "1").await;
        }
        sockets.push(ws);
    }
    // A socket that never sent connection_init is closed the same way.
    sockets.push(connect_to(&address, "graphql-transport-ws", &[]).await);

    served.signal("TERM");
    for (n, ws) in sockets.iter_mut().enumerate() {
        let (code, before) = closed(ws).await;
        assert_eq!(code, 1001, "socket {n}");
        assert!(before.is_empty(), "socket {n}: {before:?}");
    }
    let log = served.log.clone();
    let mut process = served.process;
    let status = process.0.wait().unwrap();
    assert!(status.success(), "exit code after closing the WebSockets: {status}");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!log.contains(&user.token), "the session token reached the log");
}
