//! Reads of the `jwt()` plugin's `jwks` table: the public keys only. Never a write,
//! and never the (encrypted) private key.

use sea_orm::{DatabaseConnection, DbErr, FromQueryResult, Statement};

/// One row's public half.
#[derive(Debug, Clone, FromQueryResult)]
pub struct PublicKey {
    /// The key id, the JWT header's `kid`.
    pub id: String,
    /// The public key as JWK JSON.
    pub public_key: String,
    /// The algorithm, when the row records it (rows from before the column do not).
    pub alg: Option<String>,
}

/// The newest `limit` public keys.
///
/// # Errors
/// When the database does not answer, or there is no `jwks` table.
pub async fn public_keys(db: &DatabaseConnection, limit: u64) -> Result<Vec<PublicKey>, DbErr> {
    let statement = Statement::from_sql_and_values(
        db.get_database_backend(),
        r#"SELECT id, "publicKey" AS public_key, alg FROM jwks ORDER BY "createdAt" DESC LIMIT $1"#,
        [i64::try_from(limit).unwrap_or(i64::MAX).into()],
    );
    PublicKey::find_by_statement(statement).all(db).await
}
