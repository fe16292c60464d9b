//! Batches `Task.owner` lookups: one query per request, whatever the page size.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use entity::user;
use sea_orm::DbErr;

use crate::db::user::Users;

/// Loads Better Auth users by id.
pub struct UserLoader {
    users: Users,
}

impl UserLoader {
    /// A loader over Better Auth's user table.
    pub fn new(users: Users) -> Self {
        Self { users }
    }
}

impl Loader<String> for UserLoader {
    type Value = user::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, user::Model>, Self::Error> {
        let users = self.users.find_by_ids(ids).await.map_err(Arc::new)?;
        Ok(users.into_iter().map(|user| (user.id.clone(), user)).collect())
    }
}
