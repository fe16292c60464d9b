//! The integration suite: the real service over real HTTP on a random port, each
//! test against its own fresh PostgreSQL database cloned from a migrated template.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

/// The backend this test crate runs the portable modules against.
pub const BACKEND: todo_graphql::config::Backend = todo_graphql::config::Backend::Postgres;

mod auth;
mod cli;
mod connections;
mod deadline;
mod fuzz;
mod helpers;
mod hostile;
mod http;
mod migrations;
mod mutations;
mod ops;
mod pagination;
mod pg_only;
mod pooler;
mod postgres;
mod queries;
mod retries;
mod schema;
// Events on PostgreSQL arrive through NOTIFY and the LISTEN connection (issue 10's
// fan-out): `mod subscription_events;` joins this suite with it. SQLite runs it now.
mod subscription_fanout;
mod subscriptions;
