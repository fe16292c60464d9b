//! The GraphQL schema: roots, output and input types, and what every request
//! shares (the pool and its writer, the cursor key, the limits, the owner loader),
//! and how the request deadline applies to it ([`execute_within`]).
//!
//! Resolvers stay slim: validate input into a db type, call one `db::` function,
//! map the result to an output type. No SQL is built here.

mod context;
pub mod cursor;
mod deadline;
pub mod documents;
pub mod input;
pub mod limits;
mod loader;
mod mutation;
mod query;
mod scalars;
mod subscription;
mod types;
mod validation;

use async_graphql::{
    Schema, SchemaBuilder,
    dataloader::{DataLoader, HashMapCache},
};
use sea_orm::DatabaseConnection;

pub use deadline::execute as execute_within;
pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

use crate::{
    config::Limits,
    db::{Writer, user::Users},
    events::Hub,
};

/// The served schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
}

/// The schema with everything a request needs; `hub` carries task changes from
/// mutations to subscriptions.
pub fn build(db: DatabaseConnection, users: Users, cursor_secret: &str, limits: &Limits, hub: Hub) -> AppSchema {
    builder()
        .data(hub)
        .data(users)
        .data(Writer::new(db.clone(), limits.statement_timeout))
        .data(db)
        .data(cursor::CursorCodec::new(cursor_secret))
        .data(limits.clone())
        .extension(validation::ValidationFactory { max_complexity: limits.max_complexity })
        .finish()
}

/// Loads `Task.owner`, one per request so its cache never outlives the request.
pub type OwnerLoader = DataLoader<loader::UserLoader, HashMapCache>;

/// A fresh [`OwnerLoader`] for one request. The signed-in user is fed into it when
/// first resolved, so the owners of the user's own tasks cost no query at all; any
/// other owner is batched into one query.
pub fn owner_loader(users: &Users) -> OwnerLoader {
    DataLoader::with_cache(loader::UserLoader::new(users.clone()), tokio::spawn, HashMapCache::default())
}

/// The schema in SDL, as `print-schema` writes it and `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}
