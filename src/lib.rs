//! todo-graphql: the signed-in user's tasks over GraphQL, on the PostgreSQL database
//! a Better Auth frontend already uses.
//!
//! Where to look:
//! - [`config`]: settings from the environment, `.env` and flags, checked at start-up.
//! - [`startup`]: [`startup::Application`] builds the service and runs it until stopped.
//! - [`http`]: the accept loop (timeouts, connection cap), routes (`/graphql` over
//!   HTTP and WebSocket, GraphiQL, `/health`, `/ready`, `/metrics`), CORS, CSRF, rate
//!   limits, persisted queries.
//! - [`graphql`]: the schema: roots, types, validation, limits. Never builds SQL.
//! - [`auth`]: who is signed in, from Better Auth's signed cookie or bearer token.
//! - [`db`]: connecting, migrating, and every SQL statement. Never knows GraphQL.
//! - [`error`]: the one error type and the `extensions.code` of each case.
//! - [`events`]: task changes, from a mutation to every subscription of its user.
//! - [`monitoring`]: Prometheus metrics and the one log line per request.
//! - [`telemetry`]: logging, JSON or pretty.

pub mod auth;
pub mod config;
pub mod db;
pub mod embedded;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod monitoring;
pub mod startup;
pub mod telemetry;
