//! SeaORM entities for the tables the service touches.
//!
//! - [`tasks`] is the service's own table, adopted from the earlier FastAPI backend.
//! - [`user`], [`session`], [`account`] and [`verification`] belong to Better Auth.
//!   The service only ever reads them; their entities map just the columns it may
//!   read, so no query built from them can select a password hash or an OAuth token.
//!
//! Nothing here knows about GraphQL: the public schema has its own types.

pub mod account;
pub mod session;
pub mod tasks;
pub mod user;
pub mod verification;
