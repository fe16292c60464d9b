//! The same integration suite against embedded SQLite: every module that needs
//! nothing only PostgreSQL has, plus what only embedded mode does.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// The helpers are shared with the PostgreSQL suite; its server-only ones go unused here.
#![allow(dead_code)]

/// The backend this test crate runs the portable modules against.
pub const BACKEND: todo_graphql::config::Backend = todo_graphql::config::Backend::Sqlite;

#[path = "../api/auth.rs"]
mod auth;
mod embedded;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/http.rs"]
mod http;
#[path = "../api/mutations.rs"]
mod mutations;
#[path = "../api/pagination.rs"]
mod pagination;
#[path = "../api/postgres.rs"]
mod postgres;
#[path = "../api/queries.rs"]
mod queries;
#[path = "../api/retries.rs"]
mod retries;
#[path = "../api/schema.rs"]
mod schema;
#[path = "../api/subscription_events.rs"]
mod subscription_events;
#[path = "../api/subscriptions.rs"]
mod subscriptions;
