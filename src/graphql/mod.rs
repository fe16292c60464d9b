//! The GraphQL schema: roots, output and input types, and what every request
//! shares (the pool, the cursor key, the limits, the owner loader).
//!
//! Resolvers stay slim: validate input into a db type, call one `db::` function,
//! map the result to an output type. No SQL is built here.

mod context;
pub mod cursor;
mod guard;
pub mod input;
mod loader;
mod mutation;
mod query;
mod scalars;
mod types;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder, dataloader::DataLoader};
use sea_orm::DatabaseConnection;

pub use guard::with_code;
pub use mutation::MutationRoot;
pub use query::QueryRoot;

use crate::config::Limits;

/// The served schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
}

/// The schema with everything a request needs.
pub fn build(db: DatabaseConnection, cursor_secret: &str, limits: &Limits) -> AppSchema {
    builder()
        .data(DataLoader::new(loader::UserLoader::new(db.clone()), tokio::spawn))
        .data(db)
        .data(cursor::CursorCodec::new(cursor_secret))
        .data(limits.clone())
        .extension(guard::GuardFactory { max_depth: limits.max_depth, max_complexity: limits.max_complexity })
        .finish()
}

/// The schema in SDL, as `print-schema` writes it and `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}
