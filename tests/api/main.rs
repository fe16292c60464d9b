//! The integration suite: the real service over real HTTP on a random port, each
//! test against its own fresh PostgreSQL database cloned from a migrated template.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

/// The backend this test crate runs the portable modules against.
pub const BACKEND: todo_graphql::config::Backend = todo_graphql::config::Backend::Postgres;

mod auth;
mod cli;
mod connections;
mod deadline;
mod fanout;
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
mod round_trips;
mod schema;
mod subscription_events;
mod subscription_fanout;
mod subscriptions;
