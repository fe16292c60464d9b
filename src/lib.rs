//! todo-graphql: the signed-in user's tasks over GraphQL, on the PostgreSQL database
//! a Better Auth frontend already uses.
//!
//! Where to look:
//! - [`config`]: settings from the environment, `.env` and flags, checked at start-up.
//! - [`startup`]: [`startup::Application`] builds the service and runs it until stopped.
//! - [`http`]: the accept loop (timeouts, connection cap), routes (`/graphql` over
//!   HTTP and WebSocket, GraphiQL and its assets under `/graphiql/`, `/health`, `/ready`, `/metrics`), CORS, CSRF, rate
//!   limits, persisted queries.
//! - [`graphql`]: the schema: roots, types, validation, limits. Never builds SQL.
//! - [`auth`]: who is signed in, from Better Auth's signed cookie or bearer token.
//! - [`db`]: connecting, migrating, and every SQL statement. Never knows GraphQL.
//! - [`error`]: every error a client sees: the `extensions.code` of each case, the
//!   resolvers' error type, refusals, and the masking of internal causes.
//! - [`embedded`]: everything embedded mode (SQLite, no `DATABASE_URL`) changes.
//! - [`events`]: task changes, from a mutation to every subscription of its user.
//! - [`observability`]: what the service reports about itself: its log (JSON or
//!   pretty), Prometheus metrics, and one span and log line per request.

pub mod auth;
pub mod config;
pub mod db;
pub mod embedded;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod observability;
pub mod startup;
