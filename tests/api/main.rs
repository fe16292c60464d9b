//! The integration suite: the real service over real HTTP on a random port, each
//! test against its own fresh PostgreSQL database cloned from a migrated template.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

/// The backend this test crate runs the portable modules against.
pub const BACKEND: todo_graphql::config::Backend = todo_graphql::config::Backend::Postgres;

mod auth;
mod better_auth_schemas;
mod cli;
mod connections;
mod cookie_cache;
mod deadline;
mod fanout;
mod fuzz;
mod helpers;
mod hostile;
mod http;
mod jwt;
mod least_privilege;
mod migrations;
mod mutations;
mod ops;
mod pagination;
mod pooler;
mod postgres;
mod queries;
mod readme;
mod retries;
mod round_trips;
mod schema;
mod subscription_events;
mod subscription_fanout;
mod subscriptions;
mod token_vectors;
