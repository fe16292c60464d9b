//! Batches `Task.owner` lookups: one query per request, whatever the page size.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use entity::user;
use sea_orm::{DatabaseConnection, DbErr};

use crate::db;

/// Loads Better Auth users by id.
pub struct UserLoader {
    db: DatabaseConnection,
}

impl UserLoader {
    /// A loader over the pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl Loader<String> for UserLoader {
    type Value = user::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, user::Model>, Self::Error> {
        let users = db::user::find_by_ids(&self.db, ids).await.map_err(Arc::new)?;
        Ok(users.into_iter().map(|user| (user.id.clone(), user)).collect())
    }
}
