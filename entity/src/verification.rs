//! Better Auth's `verification` table (read only).
//!
//! `value` holds one-time secrets (e-mail verification, password reset) and is not
//! mapped.

use sea_orm::entity::prelude::*;

/// A pending verification, without its secret value.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verification")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// What is being verified (for example an e-mail address).
    #[sea_orm(column_type = "Text")]
    pub identifier: String,
    /// The verification is valid while this is in the future.
    #[sea_orm(column_name = "expiresAt")]
    pub expires_at: DateTimeUtc,
    /// When the row was created.
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    /// When the row last changed.
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, Iterable};

    #[test]
    fn the_secret_value_is_not_mapped() {
        assert!(super::Column::iter().all(|column| column.as_str() != "value"));
    }
}
