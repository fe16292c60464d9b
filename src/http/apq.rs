//! Automatic persisted queries, as Apollo's protocol defines them: a client sends
//! `extensions.persistedQuery.sha256Hash` alone; an unknown hash answers
//! `PersistedQueryNotFound`, and the client retries with the document, which is then
//! kept under its verified hash. The documents live in the parsed-document cache
//! ([`crate::graphql::documents`]), bounded by bytes.

use async_graphql::Value;

use crate::graphql::documents::Hash;

/// Why a persisted query could not be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApqError {
    /// A hash the service has not seen (or has forgotten); the client resends the document.
    #[error("PersistedQueryNotFound")]
    NotFound,
    /// The document does not hash to the hash sent with it.
    #[error("provided sha does not match query")]
    HashMismatch,
    /// A malformed `persistedQuery` extension or a version other than 1.
    #[error("unsupported persisted query: expected version 1 and a sha256Hash")]
    Unsupported,
}

/// The hash a `persistedQuery` extension names.
///
/// # Errors
/// [`ApqError::Unsupported`] for anything but version 1 with 64 hex digits.
pub fn persisted_hash(extension: &Value) -> Result<Hash, ApqError> {
    let Value::Object(fields) = extension else {
        return Err(ApqError::Unsupported);
    };
    let version_one = matches!(fields.get("version"), Some(Value::Number(n)) if n.as_u64() == Some(1));
    let mut hash = [0u8; 32];
    match fields.get("sha256Hash") {
        Some(Value::String(text)) if version_one && hex::decode_to_slice(text, &mut hash).is_ok() => Ok(hash),
        _ => Err(ApqError::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extension(version: u64, hash: &str) -> Value {
        Value::from_json(serde_json::json!({ "version": version, "sha256Hash": hash })).unwrap()
    }

    #[test]
    fn only_version_one_with_a_sha256_is_understood() {
        let hash = "ab".repeat(32);
        assert_eq!(persisted_hash(&extension(1, &hash)), Ok([0xab; 32]));
        assert_eq!(persisted_hash(&extension(1, &hash.to_uppercase())), Ok([0xab; 32]));
        assert_eq!(persisted_hash(&extension(2, &hash)), Err(ApqError::Unsupported));
        assert_eq!(persisted_hash(&extension(1, "short")), Err(ApqError::Unsupported));
        assert_eq!(persisted_hash(&extension(1, &"zz".repeat(32))), Err(ApqError::Unsupported));
        assert_eq!(persisted_hash(&Value::Null), Err(ApqError::Unsupported));
    }
}
