//! Hostile connections: clients that send slowly, hold connections, or send too
//! many requests, and `/metrics` on its own address.
//!
//! The timers here are set to 1 s and every wait is bounded far above that (a
//! closed connection must show within 10 s), so a slow machine cannot make a test
//! fail, while a server without the timer hangs past the bound and fails it.

use std::{net::SocketAddr, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::helpers::*;

/// Far above every timer a test sets: reaching it means the server never acted.
const BOUND: Duration = Duration::from_secs(10);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap()
}

/// Everything the server sends until it closes the connection; panics when it is
/// still open after [`BOUND`].
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the connection is still open after {BOUND:?}");
    String::from_utf8_lossy(&received).into_owned()
}

/// One complete response to [`HEALTH`] on a kept-alive connection (a short JSON body).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        while !String::from_utf8_lossy(&received).contains("\r\n\r\n")
            || !String::from_utf8_lossy(&received).ends_with('}')
        {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "closed before the response: {}", String::from_utf8_lossy(&received));
            received.extend_from_slice(&buffer[..n]);
        }
    })
    .await
    .expect("a response");
    String::from_utf8_lossy(&received).into_owned()
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n";

async fn health_is_served(app: &TestApp) {
    assert_eq!(app.get("/health").await.status(), 200, "another client must be served meanwhile");
}

#[tokio::test]
async fn a_client_dribbling_its_headers_is_cut_off_while_others_are_served() {
    let app = spawn_app_with(|config| config.traffic.header_read_timeout = Duration::from_secs(1)).await;
    let mut stream = connect(&app).await;
    let (mut reader, mut writer) = stream.split();
    let dribble = async {
        for byte in b"POST /graphql HTTP/1.1\r\nhost: localhost\r\nx-slow: ".iter().chain([b'a'; 1000].iter()) {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let closed = async {
        let mut buffer = [0u8; 256];
        tokio::time::timeout(BOUND, async { while reader.read(&mut buffer).await.is_ok_and(|n| n > 0) {} }).await
    };
    let others = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        health_is_served(&app).await;
    };
    let (closed, ()) = tokio::select! {
        result = async { tokio::join!(closed, others) } => result,
        () = dribble => panic!("the server read 1000 header bytes at 10 a second"),
    };
    assert!(closed.is_ok(), "a dribbling client held its connection past {BOUND:?}");
}

#[tokio::test]
async fn a_client_sending_part_of_its_body_gets_408_and_is_cut_off() {
    let app = spawn_app_with(|config| config.traffic.body_read_timeout = Duration::from_secs(1)).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{")
        .await
        .unwrap();
    health_is_served(&app).await;
    let response = read_until_closed(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(error_code(&body), "BAD_REQUEST");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|config| config.traffic.header_read_timeout = Duration::from_secs(1)).await;
    let mut stream = connect(&app).await;
    stream.write_all(HEALTH).await.unwrap();
    let response = read_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(!response.to_ascii_lowercase().contains("connection: close"), "kept alive: {response}");
    assert_eq!(read_until_closed(&mut stream).await, "", "closed without another word");
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let app = spawn_app_with(|config| config.traffic.max_connections = 2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream.write_all(HEALTH).await.unwrap();
        assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = connect(&app).await;
    third.write_all(HEALTH).await.unwrap();
    let mut buffer = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buffer)).await;
    assert!(early.is_err(), "the third connection was served while two were held");

    drop(held.pop());
    assert!(read_response(&mut third).await.starts_with("HTTP/1.1 200"), "served once a slot freed");
}

#[tokio::test]
async fn metrics_addr_serves_metrics_there_and_nowhere_else() {
    let app = spawn_app_with(|config| config.metrics_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)))).await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    assert_eq!(app.get("/metrics").await.status(), 404, "not on the public port");
    let response = app.client.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("todo_graphql_build_info"));
    let graphql = app.client.get(format!("{metrics}/graphql")).send().await.unwrap();
    assert_eq!(graphql.status(), 404, "only /metrics on the metrics address");

    let default = spawn_app().await;
    assert!(default.metrics_address.is_none());
    assert_eq!(default.get("/metrics").await.status(), 200, "unset: on the main port as before");
}

const ME: &str = "{ me { id } }";

/// Sends `{ me { id } }` with `headers`, answering the status, `Retry-After` and body.
async fn send(app: &TestApp, headers: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let mut request = app.post().json(&json!({ "query": ME }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.json().await.unwrap())
}

fn assert_limited((status, retry, body): &(u16, Option<String>, Value)) {
    assert_eq!(*status, 429, "{body}");
    assert!(retry.as_deref().and_then(|r| r.parse::<u64>().ok()).is_some_and(|s| s >= 1), "Retry-After: {retry:?}");
    assert_eq!(error_code(body), "RATE_LIMITED");
}

#[tokio::test]
async fn over_the_per_ip_limit_answers_429_and_other_ips_are_unaffected() {
    let app = spawn_app_with(|config| {
        let limits = &mut config.traffic.rate_limits;
        (limits.ip_per_sec, limits.ip_burst) = (1, 3);
        limits.client_ip_header = Some(http::HeaderName::from_static("fly-client-ip"));
    })
    .await;
    let first = [("fly-client-ip", "203.0.113.1")];
    for _ in 0..3 {
        assert_eq!(send(&app, &first).await.0, 200);
    }
    assert_limited(&send(&app, &first).await);
    assert_eq!(send(&app, &[("fly-client-ip", "203.0.113.2")]).await.0, 200, "another IP");
    let health = app.client.get(format!("{}/health", app.address)).header("fly-client-ip", "203.0.113.1");
    assert_eq!(health.send().await.unwrap().status(), 200, "/health is never limited");
}

#[tokio::test]
async fn without_a_trusted_header_a_forged_client_ip_changes_nothing() {
    let app = spawn_app_with(|config| {
        let limits = &mut config.traffic.rate_limits;
        (limits.ip_per_sec, limits.ip_burst) = (1, 2);
        limits.client_ip_header = None;
    })
    .await;
    for n in 0..2 {
        assert_eq!(send(&app, &[("fly-client-ip", &format!("198.51.100.{n}"))]).await.0, 200);
    }
    assert_limited(&send(&app, &[("fly-client-ip", "198.51.100.99")]).await);
}

#[tokio::test]
async fn over_the_per_user_limit_answers_429_and_other_users_are_unaffected() {
    let app = spawn_app_with(|config| {
        let limits = &mut config.traffic.rate_limits;
        (limits.ip_per_sec, limits.user_per_sec, limits.user_burst) = (0, 1, 2);
    })
    .await;
    let (ada, bob) = (app.create_user("Ada").await, app.create_user("Bob").await);
    let (ada_cookie, bob_bearer) = (ada.cookie(), format!("Bearer {}", bob.token));
    for _ in 0..2 {
        let (status, _, body) = send(&app, &[("cookie", &ada_cookie)]).await;
        assert_eq!((status, body["data"]["me"]["id"].as_str()), (200, Some(ada.id.as_str())));
    }
    assert_limited(&send(&app, &[("cookie", &ada_cookie)]).await);
    let (status, _, body) = send(&app, &[("authorization", &bob_bearer)]).await;
    assert_eq!((status, body["data"]["me"]["id"].as_str()), (200, Some(bob.id.as_str())), "another user");
    for _ in 0..4 {
        assert_eq!(send(&app, &[]).await.0, 200, "no credential: the per-IP limit only, here off");
    }
}
