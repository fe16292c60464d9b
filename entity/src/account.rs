//! Better Auth's `account` table (read only).
//!
//! Deliberately incomplete: `password`, `"accessToken"`, `"refreshToken"` and
//! `"idToken"` are not mapped, so the service cannot select them by accident.

use sea_orm::entity::prelude::*;

/// How a user signs in (a provider and its account id), without any credential.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    /// The account id at the provider.
    #[sea_orm(column_name = "accountId", column_type = "Text")]
    pub account_id: String,
    /// `credential` for e-mail and password, else the OAuth provider.
    #[sea_orm(column_name = "providerId", column_type = "Text")]
    pub provider_id: String,
    /// Owner of the account.
    #[sea_orm(column_name = "userId", column_type = "Text")]
    pub user_id: String,
    /// When the access token expires (the token itself is not mapped).
    #[sea_orm(column_name = "accessTokenExpiresAt", nullable)]
    pub access_token_expires_at: Option<DateTimeUtc>,
    /// When the refresh token expires (the token itself is not mapped).
    #[sea_orm(column_name = "refreshTokenExpiresAt", nullable)]
    pub refresh_token_expires_at: Option<DateTimeUtc>,
    /// Granted OAuth scopes.
    #[sea_orm(column_type = "Text", nullable)]
    pub scope: Option<String>,
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

    use super::Column;

    #[test]
    fn no_credential_column_is_mapped() {
        let mapped: Vec<&str> = Column::iter().map(|column| column.as_str()).collect();
        assert!(mapped.contains(&"userId"), "{mapped:?}");
        for credential in ["password", "accessToken", "refreshToken", "idToken"] {
            assert!(!mapped.contains(&credential), "account.{credential} must never be selectable");
        }
    }
}
