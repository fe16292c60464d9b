//! SeaORM entities for the tables the service touches.
//!
//! - [`tasks`] is the service's own table, adopted from the earlier FastAPI backend;
//!   [`task_creations`] records which task a retried `createTask` already made.
//! - [`user`], [`session`], [`account`] and [`verification`] belong to Better Auth.
//!   The service only ever reads them; their entities map just the columns it may
//!   read, so no query built from them can select a password hash or an OAuth token.
//!
//! Nothing here knows about GraphQL: the public schema has its own types.

pub mod account;
pub mod session;
pub mod task_creations;
pub mod tasks;
pub mod user;
pub mod verification;
