//! A minimal axum server on `PORT` answering `GET /health`: the baseline.
use axum::{Router, routing::get};

#[tokio::main]
async fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8081".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await.expect("bind");
    let app = Router::new().route("/health", get(|| async { "ok" })).route("/graphql", axum::routing::post(|| async { "{}" }));
    axum::serve(listener, app).await.expect("serve");
}
